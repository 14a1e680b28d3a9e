// Rate limits per client address (issue 12, item 9), under workerd's own simulation of the
// rate-limiting bindings, with limits small enough to reach.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CSRF, ConsoleClient, ROOT, startWorker, verify } from './harness.mjs';
import { reportBody, startScanner } from './scanner.mjs';

const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors;
const LIMITS = { SIGN_IN_LIMITER: 3, CONSOLE_LIMITER: 6, FAILED_TOKEN_LIMITER: 3, REVOKE_LIMITER: 3 };

async function assertRateLimited(res) {
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '60');
  assert.equal((await res.json()).error, 'rate_limited');
}

/**
 * The local limiter counts in fixed windows aligned to the clock's minutes: wait, if need be,
 * so that a test's next few seconds fall in one window.
 */
async function withinOneWindow() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
}

// `wrangler dev` takes CF-Connecting-IP from the client (Cloudflare's edge replaces it), so each
// test counts as its own client.
const from = (address, headers = {}) => ({ ...headers, 'CF-Connecting-IP': address });

function devLogin(base, email, address) {
  return fetch(`${base}/console/auth/dev-login`, {
    method: 'POST',
    headers: from(address, { ...CSRF, 'Content-Type': 'application/json', Origin: base }),
    body: JSON.stringify({ email }),
  });
}

describe('rate limits per client address', () => {
  let worker;
  let scanner;
  let user;
  let token;
  before(async () => {
    scanner = await startScanner();
    worker = await startWorker({ limits: LIMITS, vars: { LEAK_KEYS_URL: scanner.url } });
    user = await ConsoleClient.signIn(worker.base, 'limited@example.com');
    token = await user.createToken('limited', null);
  });
  after(async () => {
    await worker?.stop();
    await scanner?.stop();
  });

  test('failed token look-ups: 401 up to the limit, then 429; valid and malformed tokens are never counted', async () => {
    await withinOneWindow();
    const client = from('198.51.100.1');
    const unknown = vectors.filter((v) => v.token).slice(0, 5).map((v) => v.token);
    for (let i = 0; i < 10; i += 1) assert.equal((await verify(worker.base, token.token, client)).status, 200);
    for (const value of unknown.slice(0, 3)) assert.equal((await verify(worker.base, value, client)).status, 401);
    // Malformed tokens cost no look-up and are not counted, before or after the limit.
    assert.equal((await verify(worker.base, 'pat_short', client)).status, 401);
    await assertRateLimited(await verify(worker.base, unknown[3], client));
    await assertRateLimited(await fetch(`${worker.base}/v1/anything`, { headers: { ...client, Authorization: `Bearer ${unknown[4]}` } }));
    assert.equal((await verify(worker.base, 'pat_short', client)).status, 401);
    // Over its limit of failures, the client's valid token still works; other clients' too.
    assert.equal((await verify(worker.base, token.token, client)).status, 200);
    assert.equal((await fetch(`${worker.base}/v1/anything`, { headers: { ...client, Authorization: `Bearer ${token.token}` } })).status, 200);
    assert.equal((await verify(worker.base, unknown[0], from('198.51.100.99'))).status, 401);
  });

  test('sign-in: the fourth attempt within the minute is 429, before any ledger is woken', async () => {
    await withinOneWindow();
    const address = '198.51.100.2';
    for (const email of ['first@example.com', 'second@example.com', 'third@example.com']) {
      assert.equal((await devLogin(worker.base, email, address)).status, 200);
    }
    const res = await devLogin(worker.base, 'fourth@example.com', address);
    await assertRateLimited(res);
    assert.equal(res.headers.getSetCookie().length, 0);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    assert.equal((await devLogin(worker.base, 'fourth@example.com', '198.51.100.98')).status, 200);
  });

  test('console API: 429 past the limit, even for a forged cookie; a rate-limited sign-out still expires the cookie', async () => {
    await withinOneWindow();
    const client = from('2001:db8:0:1::1');
    for (let i = 0; i < 6; i += 1) assert.equal((await user.request('GET', '/console/api/me', undefined, client)).status, 200);
    await assertRateLimited(await user.request('GET', '/console/api/tokens', undefined, client));
    // Same /64, another address: the same client.
    const neighbour = from('2001:db8:0:1::2');
    // Any well-formed cookie would wake a Durable Object: refused before that.
    const forged = `__Host-patgate_session=${user.user.id}.${'0'.repeat(64)}`;
    await assertRateLimited(await fetch(`${worker.base}/console/api/me`, { headers: { ...neighbour, Cookie: forged } }));
    const out = await user.request('POST', '/console/auth/logout', undefined, neighbour);
    await assertRateLimited(out);
    assert.match(out.headers.getSetCookie()[0], /^__Host-patgate_session=; .*Max-Age=0/);
    // The session was not ended on the server (the console must say it may still be active).
    assert.equal((await user.request('GET', '/console/api/me', undefined, from('2001:db8:0:2::1'))).status, 200);
  });

  test('self-service revocation: the fourth request within the minute is 429, whatever it lists', async () => {
    await withinOneWindow();
    const client = from('198.51.100.3');
    const revoke = (address) => fetch(`${worker.base}/auth/v1/revoke`, {
      method: 'POST', headers: from(address, { 'Content-Type': 'application/json' }), body: '{"tokens":["pat_short"]}',
    });
    for (let i = 0; i < 3; i += 1) assert.equal((await revoke(client['CF-Connecting-IP'])).status, 202);
    await assertRateLimited(await revoke(client['CF-Connecting-IP']));
    assert.equal((await revoke('198.51.100.97')).status, 202);
  });

  test('leak reports: refused signatures count as failures, and a verified report is never limited', async () => {
    await withinOneWindow();
    const address = '198.51.100.4';
    const body = reportBody(['pat_noise']);
    const unsigned = () => scanner.report(worker.base, body, { signature: null, headers: from(address) });
    for (let i = 0; i < 3; i += 1) assert.equal((await unsigned()).status, 401);
    await assertRateLimited(await unsigned());
    // The scanner itself, from the same address: its deliveries are not starved.
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await scanner.report(worker.base, body, { headers: from(address) })).status, 200);
    }
  });
});
