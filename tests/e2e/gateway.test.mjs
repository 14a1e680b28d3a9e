// Edge validation and the gateway, end to end under workerd (issue: edge validation).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { verifyGatewayRequest } from '../../docs/verify-origin-signature.mjs';
import { ConsoleClient, ROOT, seedKv, startWorker, verify } from './harness.mjs';

const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

describe('verify endpoint', () => {
  let worker;
  let user;
  let token;
  before(async () => {
    worker = await startWorker();
    user = await ConsoleClient.signIn(worker.base, 'gateway@example.com');
    token = await user.createToken('CI', 30);
  });
  after(() => worker?.stop());

  test('a valid token answers 200 with the user and token', async () => {
    const res = await verify(worker.base, token.token);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    assert.deepEqual(body.user, user.user);
    assert.equal(body.token.id, token.id);
    assert.equal(body.token.name, 'CI');
    assert.equal(body.token.created_at, token.created_at);
    assert.match(body.token.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(!JSON.stringify(body).includes(token.token));
  });

  test('the scheme name is case-insensitive', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: `${scheme} ${token.token}` } });
      assert.equal(res.status, 200, scheme);
    }
  });

  test('no credentials or another scheme: 401 with a bare challenge', async () => {
    for (const headers of [{}, { Authorization: 'Basic dXNlcjpwYXNz' }, { Authorization: `Token ${token.token}` }]) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="patgate"');
      assert.equal((await res.json()).error, 'unauthorized');
    }
  });

  test('unreadable Authorization headers: 400 invalid_request', async () => {
    const cases = [
      'Bearer',
      'Bearer ',
      `Bearer  ${token.token}`,
      `Bearer\t${token.token}`,
      `Bearer ${token.token}, Bearer ${token.token}`,
      `Bearer ${'a'.repeat(8 * 1024)}`,
      'Bearer pat_ä',
    ];
    for (const value of cases) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: value } }).catch(() => null);
      if (res === null) continue; // undici refuses some values client-side: nothing reached the Worker
      assert.equal(res.status, 400, JSON.stringify(value.slice(0, 40)));
      assert.match(res.headers.get('www-authenticate'), /error="invalid_request"/);
      assert.equal((await res.json()).error, 'invalid_request');
    }
    // A 1 MiB header is refused by the runtime itself (431) before the Worker runs.
    const huge = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${'a'.repeat(1024 * 1024)}` } });
    assert.ok([400, 431].includes(huge.status), String(huge.status));
    const twoHeaders = new Headers();
    twoHeaders.append('Authorization', `Bearer ${token.token}`);
    twoHeaders.append('Authorization', `Bearer ${token.token}`);
    const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: twoHeaders });
    assert.equal(res.status, 400);
  });

  test('malformed, mistyped, unknown, expired and deleted tokens share one 401 body', async () => {
    const doomed = await user.createToken('doomed', null);
    assert.equal((await user.request('DELETE', `/console/api/tokens/${doomed.id}`)).status, 204);

    const expired = vectors[5].token;
    const expiredRecord = {
      v: 1, token_id: 'tok_expiredexpiredexpire', user_id: user.user.id, email: user.user.email,
      name: 'old', created_at: 1_000_000_000, expires_at: 1_000_086_400,
    };
    await seedKv(worker, vectors[5].sha256_hex, JSON.stringify(expiredRecord));

    const last = token.token.at(-1);
    const mistyped = token.token.slice(0, -1) + ALPHABET[(ALPHABET.indexOf(last) + 1) % 62];
    const unknown = vectors[6].token;
    const cases = {
      malformed: 'pat_short',
      otherVendor: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB',
      mistyped,
      storedHashAsToken: sha256(token.token),
      unknown,
      expired,
      deleted: doomed.token,
    };
    const bodies = new Set();
    for (const [label, value] of Object.entries(cases)) {
      const res = await verify(worker.base, value);
      assert.equal(res.status, 401, label);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="patgate", error="invalid_token"', label);
      bodies.add(await res.text());
    }
    assert.equal(bodies.size, 1, [...bodies].join('\n'));
  });

  test('an unreadable stored record fails closed: 503 with Retry-After, never 401', async () => {
    const vector = vectors[7];
    await seedKv(worker, vector.sha256_hex, '{"v":99,"future":true}');
    const res = await verify(worker.base, vector.token);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal((await res.json()).error, 'temporarily_unavailable');
  });

  test('echo mode shows the identity but never the token or client X-Auth values', async () => {
    const res = await fetch(`${worker.base}/v1/projects?page=2`, {
      headers: { Authorization: `Bearer ${token.token}`, 'X-Auth-User-Id': 'usr_spoofed', 'X-Auth-Admin': 'yes' },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(token.token));
    assert.ok(!text.includes('spoofed') && !text.includes('X-Auth-Admin'));
    const body = JSON.parse(text);
    assert.equal(body.user.id, user.user.id);
    assert.deepEqual(body.request, { method: 'GET', path: '/v1/projects?page=2' });
  });

  test('a use is recorded as last used, with its place', async () => {
    const fresh = await user.createToken('usage', 7);
    assert.equal((await verify(worker.base, fresh.token)).status, 200);
    let listed;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
      listed = tokens.find((t) => t.id === fresh.id);
      if (listed.last_used_at) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(listed.last_used_at, /Z$/);
    assert.equal(typeof listed.last_used_from, 'string');
  });

  test('other /auth paths and wrong methods are refused', async () => {
    assert.equal((await fetch(`${worker.base}/auth/v1/nothing`)).status, 404);
    const res = await fetch(`${worker.base}/auth/v1/verify`, { method: 'POST', headers: { Authorization: `Bearer ${token.token}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });
});

describe('forwarding to the origin', () => {
  const SECRET = randomBytes(32).toString('hex');
  let origin;
  let originUrl;
  const seen = [];
  let worker;
  let token;

  before(async () => {
    origin = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(207, { 'Content-Type': 'application/json', 'X-Origin': 'yes' });
        res.end(JSON.stringify({ from: 'origin', bytes: body.length }));
      });
    });
    await new Promise((r) => origin.listen(0, '127.0.0.1', r));
    originUrl = `http://127.0.0.1:${origin.address().port}`;
    worker = await startWorker({ vars: { ORIGIN_URL: originUrl, ORIGIN_SHARED_SECRET: SECRET } });
    const user = await ConsoleClient.signIn(worker.base, 'forward@example.com');
    token = await user.createToken('forwarding', null);
  });
  after(async () => {
    await worker?.stop();
    origin?.close();
  });

  test('method, path, query and a 1 MiB body arrive intact, with a verifiable signature', async () => {
    const payload = randomBytes(1024 * 1024);
    const res = await fetch(`${worker.base}/v1/blobs/42?overwrite=true&x=%2F`, {
      method: 'PUT',
      headers: {
        Authorization: `Bearer ${token.token}`,
        Cookie: 'session=abc',
        'X-Auth-User-Id': 'usr_spoofed',
        'X-Auth-Signature': 'forged',
        'X-Request-Id': 'req-1',
        'Content-Type': 'application/octet-stream',
      },
      body: payload,
    });
    assert.equal(res.status, 207);
    assert.equal(res.headers.get('x-origin'), 'yes');
    const request = seen.at(-1);
    assert.equal(request.method, 'PUT');
    assert.equal(request.url, '/v1/blobs/42?overwrite=true&x=%2F');
    assert.ok(request.body.equals(payload));
    assert.equal(request.headers['x-request-id'], 'req-1');
    assert.equal(request.headers.authorization, undefined);
    assert.equal(request.headers.cookie, undefined);
    assert.equal(request.headers['x-auth-token-id'], token.id);
    assert.notEqual(request.headers['x-auth-user-id'], 'usr_spoofed');

    const caller = verifyGatewayRequest({ method: request.method, pathAndQuery: request.url, headers: request.headers }, SECRET);
    assert.deepEqual(caller, { userId: request.headers['x-auth-user-id'], tokenId: token.id });
    assert.equal(verifyGatewayRequest({ method: 'GET', pathAndQuery: request.url, headers: request.headers }, SECRET), null);
    assert.equal(verifyGatewayRequest({ method: request.method, pathAndQuery: request.url, headers: request.headers }, 'wrong'), null);
  });

  test('an invalid token never reaches the origin', async () => {
    const before = seen.length;
    const res = await fetch(`${worker.base}/v1/things`, { headers: { Authorization: `Bearer ${vectors[8].token}` } });
    assert.equal(res.status, 401);
    assert.equal(seen.length, before);
  });
});
