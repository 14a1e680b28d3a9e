// Console sign-in, sessions and the token management API, end to end under workerd.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { CSRF, ConsoleClient, assertNoPlaintextInState, startWorker, verify } from './harness.mjs';

const json = { 'Content-Type': 'application/json' };

describe('console API', () => {
  let worker;
  let ada;
  let bob;
  before(async () => {
    worker = await startWorker();
    ada = await ConsoleClient.signIn(worker.base, 'Ada@Example.com');
    bob = await ConsoleClient.signIn(worker.base, 'bob@example.com');
  });
  after(() => worker?.stop());

  test('sign-in sets a __Host- session cookie and /me names the user', async () => {
    const res = await fetch(`${worker.base}/console/auth/dev-login`, {
      method: 'POST', headers: { ...CSRF, ...json, Origin: worker.base }, body: '{"email":"cookie@example.com"}',
    });
    assert.equal(res.status, 200);
    const cookie = res.headers.getSetCookie()[0];
    assert.match(cookie, /^__Host-patgate_session=usr_[0-9a-f]{24}\.[0-9a-f]{64}; /);
    for (const attribute of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']) assert.ok(cookie.includes(attribute), attribute);
    assert.ok(!/domain=/i.test(cookie));
    const me = await ada.request('GET', '/console/api/me');
    assert.deepEqual(await me.json(), { user: { id: ada.user.id, email: 'ada@example.com' } });
  });

  test('the token lifecycle: create once, list, rename, re-date, delete', async () => {
    const created = await ada.request('POST', '/console/api/tokens', { name: '  GitHub Actions ', expires_in_days: 30 });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const token = await created.json();
    assert.deepEqual(Object.keys(token).sort(), ['created_at', 'expires_at', 'hint', 'id', 'last_used_at', 'last_used_from', 'name', 'token']);
    assert.equal(token.name, 'GitHub Actions');
    assert.equal(token.hint, token.token.slice(0, 8));
    assert.equal(Date.parse(token.expires_at) - Date.parse(token.created_at), 30 * 86400 * 1000);

    const { tokens } = await (await ada.request('GET', '/console/api/tokens')).json();
    const listed = tokens.find((t) => t.id === token.id);
    assert.equal(listed.token, undefined);
    assert.ok(!JSON.stringify(tokens).includes(token.token));

    const renamed = await ada.request('PATCH', `/console/api/tokens/${token.id}`, { name: 'Deploy' });
    assert.equal(renamed.status, 200);
    assert.equal((await renamed.json()).name, 'Deploy');
    assert.equal((await (await verify(worker.base, token.token)).json()).token.name, 'Deploy');

    const never = await (await ada.request('PATCH', `/console/api/tokens/${token.id}`, { expires_in_days: null })).json();
    assert.equal(never.expires_at, null);
    assert.equal((await (await verify(worker.base, token.token)).json()).token.expires_at, null);
    const week = await (await ada.request('PATCH', `/console/api/tokens/${token.id}`, { expires_in_days: 7 })).json();
    assert.ok(Math.abs(Date.parse(week.expires_at) - Date.now() - 7 * 86400 * 1000) < 60_000);

    assert.equal((await ada.request('DELETE', `/console/api/tokens/${token.id}`)).status, 204);
    assert.equal((await verify(worker.base, token.token)).status, 401);
    assert.equal((await ada.request('DELETE', `/console/api/tokens/${token.id}`)).status, 404);

    const { events } = await (await ada.request('GET', '/console/api/audit')).json();
    const mine = events.filter((e) => e.token_id === token.id).map((e) => e.action);
    assert.deepEqual(mine, ['deleted', 'expiry_changed', 'expiry_changed', 'renamed', 'created']);
    assert.ok(events.some((e) => e.action === 'signed_in'));
    assert.ok(!JSON.stringify(events).includes(token.token));
    assert.ok(!JSON.stringify(events).includes(token.token.slice(8)));
  });

  test('regenerate: a new secret for the same token, shown once; the old one is refused', async () => {
    const token = await ada.createToken('Terraform', 7);
    const path = `/console/api/tokens/${token.id}/regenerate`;
    assert.equal((await ada.request('POST', path, {})).status, 400, 'the expiry is chosen as at creation');
    const res = await ada.request('POST', path, { expires_in_days: 90 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const regenerated = await res.json();
    assert.equal(regenerated.id, token.id);
    assert.equal(regenerated.name, 'Terraform');
    assert.notEqual(regenerated.token, token.token);
    assert.equal(regenerated.hint, regenerated.token.slice(0, 8));
    assert.ok(Math.abs(Date.parse(regenerated.expires_at) - Date.now() - 90 * 86400 * 1000) < 60_000);
    assert.equal((await verify(worker.base, token.token)).status, 401);
    const verified = await (await verify(worker.base, regenerated.token)).json();
    assert.deepEqual([verified.token.id, verified.token.name], [token.id, 'Terraform']);
    const { tokens } = await (await ada.request('GET', '/console/api/tokens')).json();
    assert.ok(!JSON.stringify(tokens).includes(regenerated.token));
    const { events } = await (await ada.request('GET', '/console/api/audit')).json();
    const mine = events.filter((e) => e.token_id === token.id).map((e) => e.action);
    assert.deepEqual(mine, ['regenerated', 'created']);
    assert.equal((await bob.request('POST', path, { expires_in_days: 1 })).status, 404);
    assert.equal((await ada.request('GET', path)).status, 405);
  });

  test('tokens are listed newest first', async () => {
    const user = await ConsoleClient.signIn(worker.base, 'order@example.com');
    const first = await user.createToken('first');
    await new Promise((r) => setTimeout(r, 1100));
    const second = await user.createToken('second');
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    assert.deepEqual(tokens.map((t) => t.id), [second.id, first.id]);
  });

  test('a PAT can never manage PATs: Authorization is refused with 403', async () => {
    const token = await ada.createToken('pat');
    for (const [method, path] of [['GET', '/console/api/tokens'], ['POST', '/console/api/tokens'], ['GET', '/console/api/me'], ['POST', '/console/auth/logout']]) {
      const res = await ada.request(method, path, method === 'GET' ? undefined : { name: 'x', expires_in_days: null }, { Authorization: `Bearer ${token.token}` });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal((await res.json()).error, 'insufficient_scope');
    }
    const bare = await fetch(`${worker.base}/console/api/tokens`, { headers: { Authorization: `Bearer ${token.token}` } });
    assert.equal(bare.status, 403);
  });

  test('CSRF defences on state-changing requests', async () => {
    const body = JSON.stringify({ name: 'csrf', expires_in_days: null });
    const attempt = (headers) => fetch(`${worker.base}/console/api/tokens`, { method: 'POST', headers: { Cookie: ada.cookie, ...headers }, body });
    const good = { ...CSRF, ...json, Origin: worker.base };
    const { 'X-Requested-With': _, ...noCustomHeader } = good;
    const { Origin: __, ...noOrigin } = good;
    const refused = {
      noCustomHeader,
      wrongCustomHeader: { ...good, 'X-Requested-With': 'XMLHttpRequest' },
      noOrigin,
      foreignOrigin: { ...good, Origin: 'https://evil.example' },
      nullOrigin: { ...good, Origin: 'null' },
      lookalikeOrigin: { ...good, Origin: `${worker.base}.evil.example` },
      crossSite: { ...good, 'Sec-Fetch-Site': 'cross-site' },
    };
    for (const [label, headers] of Object.entries(refused)) {
      const res = await attempt(headers);
      assert.equal(res.status, 403, label);
      assert.equal((await res.json()).error, 'forbidden', label);
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      assert.equal((await attempt({ ...good, 'Content-Type': type })).status, 415, type);
    }
    assert.equal((await attempt({ ...good, 'Content-Type': 'application/json; charset=utf-8' })).status, 201);
    assert.equal((await attempt({ ...good, 'Sec-Fetch-Site': 'same-origin' })).status, 201);
  });

  test('bodies are parsed strictly, with messages that say what is wrong', async () => {
    const cases = [
      [{ name: 'x', expires_in_days: null, user_id: 'usr_0' }, /unknown field `user_id`/],
      [{ name: 'x', expires_in_days: null, token_hash: 'aa' }, /unknown field/],
      [{ expires_in_days: null }, /name is required/],
      [{ name: 'x' }, /expires_in_days is required/],
      [{ name: 42, expires_in_days: null }, /name must be a string/],
      [{ name: '   ', expires_in_days: null }, /name must not be empty/],
      [{ name: 'x'.repeat(101), expires_in_days: null }, /at most 100 characters/],
      [{ name: 'a\u0007b', expires_in_days: null }, /control/],
      [{ name: 'abc\u202Egpj', expires_in_days: null }, /categories Cc, Cf, Zl, Zp/],
      ...['\u061C', '\u2028', '\u2029', '\u200B', '\u00AD', '\u{E0041}'].map((c) => [{ name: `CI${c}prod`, expires_in_days: null }, /must not contain control, format or line\/paragraph separator/]),
      ...[0, -1, 1.5, '30', 3651, 2 ** 53, true, [7], { days: 7 }].map((days) => [{ name: 'x', expires_in_days: days }, /expires_in_days must be a whole number from 1 to 3650/]),
      ['{"name":"x","expires_in_days":1e309}', /invalid body/],
      ['{"name":"a","name":"b","expires_in_days":null}', /duplicate field `name`/],
      ['{"name":"x","expires_in_days":null} trailing', /invalid body/],
      ['{"name":', /invalid body/],
      ['', /invalid body/],
      [`${'['.repeat(5000)}${']'.repeat(5000)}`, /invalid body/],
    ];
    for (const [body, message] of cases) {
      const res = await ada.request('POST', '/console/api/tokens', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      const answer = await res.json();
      assert.equal(answer.error, 'invalid_request');
      assert.match(answer.message, message, JSON.stringify(body).slice(0, 60));
    }
    const invalidUtf8 = await fetch(`${worker.base}/console/api/tokens`, {
      method: 'POST', headers: { Cookie: ada.cookie, ...CSRF, ...json, Origin: worker.base }, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    });
    assert.equal(invalidUtf8.status, 400);
    assert.match((await invalidUtf8.json()).message, /UTF-8/);
    const token = await ada.createToken('patch-me');
    const empty = await ada.request('PATCH', `/console/api/tokens/${token.id}`, {});
    assert.equal(empty.status, 400);
    assert.match((await empty.json()).message, /nothing to change/);
    const html = await ada.createToken('<img src=x onerror=alert(1)>');
    assert.equal(html.name, '<img src=x onerror=alert(1)>');
  });

  test('oversized bodies are 413, with or without Content-Length', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(17 * 1024), expires_in_days: null });
    assert.equal((await ada.request('POST', '/console/api/tokens', big)).status, 413);
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 64; i += 1) controller.enqueue(new TextEncoder().encode(' '.repeat(1024)));
        controller.close();
      },
    });
    const res = await fetch(`${worker.base}/console/api/tokens`, {
      method: 'POST', duplex: 'half', body: chunked, headers: { Cookie: ada.cookie, ...CSRF, ...json, Origin: worker.base },
    });
    assert.equal(res.status, 413);
  });

  test('wrong methods are 405 with Allow; unknown paths 404', async () => {
    const put = await ada.request('PUT', '/console/api/tokens', {});
    assert.equal(put.status, 405, await put.clone().text());
    assert.equal(put.headers.get('allow'), 'GET, POST');
    assert.equal((await ada.request('GET', '/console/api/tokens/tok_00000000000000000000')).status, 405);
    assert.equal((await ada.request('GET', '/console/auth/logout')).status, 405);
    assert.equal((await ada.request('GET', '/console/api/nothing')).status, 404);
  });

  test('without a valid session: 401', async () => {
    const forged = `__Host-patgate_session=${ada.user.id}.${'0'.repeat(64)}`;
    for (const cookie of [undefined, forged, 'other=1', `${ada.cookie}; ${ada.cookie}`, `__Host-patgate_session=${'x'.repeat(5000)}`]) {
      const res = await fetch(`${worker.base}/console/api/tokens`, { headers: cookie ? { Cookie: cookie } : {} });
      assert.equal(res.status, 401, String(cookie).slice(0, 40));
      assert.equal((await res.json()).error, 'unauthenticated');
    }
  });

  test("another user's token id is the same 404 as a missing one", async () => {
    const token = await ada.createToken('ada only');
    const missing = 'tok_00000000000000000000';
    const answers = [];
    for (const id of [token.id, missing, 'not-an-id']) {
      for (const [method, body] of [['PATCH', { name: 'mine now' }], ['DELETE', undefined]]) {
        const res = await bob.request(method, `/console/api/tokens/${id}`, body);
        assert.equal(res.status, 404, `${method} ${id}`);
        answers.push(await res.text());
      }
    }
    assert.equal(new Set(answers).size, 1);
    const { tokens } = await (await bob.request('GET', '/console/api/tokens')).json();
    assert.ok(!tokens.some((t) => t.id === token.id));
    assert.equal((await verify(worker.base, token.token)).status, 200);
  });

  test('50 parallel creates: 50 listed, 50 valid', async () => {
    const user = await ConsoleClient.signIn(worker.base, 'parallel@example.com');
    const created = await Promise.all(Array.from({ length: 50 }, (_, i) => user.createToken(`parallel ${i}`, 90)));
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    assert.equal(tokens.length, 50);
    assert.equal(new Set(tokens.map((t) => t.id)).size, 50);
    const checks = await Promise.all(created.map((t) => verify(worker.base, t.token)));
    assert.deepEqual(checks.map((r) => r.status), Array(50).fill(200));
  });

  test('sign-out kills the session server-side and expires the cookie', async () => {
    const user = await ConsoleClient.signIn(worker.base, 'leaving@example.com');
    const res = await user.request('POST', '/console/auth/logout');
    assert.equal(res.status, 204);
    assert.match(res.headers.getSetCookie()[0], /^__Host-patgate_session=; .*Max-Age=0/);
    // Not Clear-Site-Data: "cookies" would sign the user out of every app on the same domain.
    assert.equal(res.headers.get('clear-site-data'), null);
    assert.equal((await user.request('GET', '/console/api/me')).status, 401);
    const { events } = await (await (await ConsoleClient.signIn(worker.base, 'leaving@example.com')).request('GET', '/console/api/audit')).json();
    assert.deepEqual(events.slice(0, 3).map((e) => e.action), ['signed_in', 'signed_out', 'signed_in']);
  });

  test('every sign-in gets a new session id and ends the presented one', async () => {
    const first = await ConsoleClient.signIn(worker.base, 'rotate@example.com');
    const res = await fetch(`${worker.base}/console/auth/dev-login`, {
      method: 'POST', headers: { Cookie: first.cookie, ...CSRF, ...json, Origin: worker.base }, body: '{"email":"rotate@example.com"}',
    });
    const second = res.headers.getSetCookie()[0].split(';')[0];
    assert.notEqual(second, first.cookie);
    assert.equal((await first.request('GET', '/console/api/me')).status, 401);
    assert.equal((await fetch(`${worker.base}/console/api/me`, { headers: { Cookie: second } })).status, 200);
  });

  test('development sign-in is refused for hosts other than localhost', async () => {
    const status = await new Promise((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port: worker.port, path: '/console/auth/dev-login', method: 'POST',
        headers: { Host: `patgate.example:${worker.port}`, Origin: `http://patgate.example:${worker.port}`, ...CSRF, ...json },
      }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end('{"email":"remote@example.com"}');
    });
    assert.equal(status, 403);
    const badEmail = await fetch(`${worker.base}/console/auth/dev-login`, {
      method: 'POST', headers: { ...CSRF, ...json, Origin: worker.base }, body: '{"email":"not an email"}',
    });
    assert.equal(badEmail.status, 400);
  });

  test('console responses carry the security headers', async () => {
    const res = await ada.request('GET', '/console/api/me');
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  test('no plaintext token appears anywhere in the local state', async () => {
    const user = await ConsoleClient.signIn(worker.base, 'scan@example.com');
    const created = await Promise.all([1, 2, 3].map((i) => user.createToken(`scan ${i}`, i)));
    await Promise.all(created.map((t) => verify(worker.base, t.token)));
    const tokens = created.map((t) => t.token);
    const hashes = tokens.map((token) => createHash('sha256').update(token).digest('hex'));
    await assertNoPlaintextInState(worker.stateDir, tokens, hashes);
  });
});

describe('production configuration', () => {
  let worker;
  before(async () => { worker = await startWorker({ devLogin: false }); });
  after(() => worker?.stop());

  test('development sign-in does not exist without DEV_LOGIN', async () => {
    const res = await fetch(`${worker.base}/console/auth/dev-login`, {
      method: 'POST', headers: { ...CSRF, ...json, Origin: worker.base }, body: '{"email":"ada@example.com"}',
    });
    assert.equal(res.status, 404);
  });
});
