// Revocation under workerd with simulated KV lag (issue 11). `wrangler dev` has one location
// and strongly consistent KV, so these tests run the test build (worker/build-lag, feature
// `simulated-lag`): a request names its location in X-Patgate-Sim-Location, and every
// location but `home` keeps what it read from KV for 60 s, as KV's edge caches do. The real
// revocation feed, its Cache API copy and the ledgers' lookups run as in production.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ConsoleClient, ROOT, TEST_SECRETS, startWorker, verify } from './harness.mjs';
import { reportBody, startScanner } from './scanner.mjs';

const LAG_CONFIG = join(ROOT, 'tests/e2e/lag/wrangler.toml');
const MARKER = 'patgate-simulated-kv-lag';
const FAST_BOUND_MS = 3_000;
const FAR = { 'X-Patgate-Sim-Location': 'far' };

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** What `location`'s KV answers for a token now: { value, cached }. */
async function kvAt(worker, location, token) {
  const res = await fetch(`${worker.base}/__sim/kv?location=${location}&key=${sha256(token)}`);
  assert.equal(res.status, 200);
  return res.json();
}

/**
 * Polls /auth/v1/verify at a location (the far one unless `headers` say otherwise) every
 * 100 ms until `done(res, body)` holds; returns the milliseconds that took. Fails beyond
 * `limitMs`.
 */
async function pollVerify(worker, token, done, limitMs, headers = FAR) {
  const start = Date.now();
  for (;;) {
    const res = await verify(worker.base, token, headers);
    const body = await res.json();
    if (done(res, body)) return Date.now() - start;
    assert.ok([200, 401].includes(res.status), `unexpected ${res.status}`);
    assert.ok(Date.now() - start <= limitMs, `still ${res.status} ${JSON.stringify(body)} after ${limitMs} ms`);
    await sleep(100);
  }
}

const refused = (res) => res.status === 401;

/** Creates a token and has the far location read (and cache) its KV record. */
async function warmToken(worker, user, name) {
  const created = await user.createToken(name, 30);
  const res = await verify(worker.base, created.token, FAR);
  assert.equal(res.status, 200);
  assert.equal((await kvAt(worker, 'far', created.token)).cached, true);
  return created;
}

describe('fast mode with a far location whose KV lags', () => {
  let worker;
  let scanner;
  let user;
  before(async () => {
    scanner = await startScanner();
    worker = await startWorker({
      config: LAG_CONFIG, healthPath: '/auth/v1/health', vars: { ...TEST_SECRETS, LEAK_KEYS_URL: scanner.url },
    });
    user = await ConsoleClient.signIn(worker.base, 'lag@example.com');
  });
  after(async () => {
    await worker?.stop();
    await scanner?.stop();
  });

  test('a deleted token is refused there within 3 s while its KV still holds the record', async () => {
    const created = await warmToken(worker, user, 'CI');
    const res = await user.request('DELETE', `/console/api/tokens/${created.id}`);
    assert.equal(res.status, 204);
    const elapsed = await pollVerify(worker, created.token, refused, FAST_BOUND_MS);
    const stale = await kvAt(worker, 'far', created.token);
    assert.equal(stale.cached, true);
    assert.equal(JSON.parse(stale.value).token_id, created.id, 'KV alone would still say valid');
    assert.equal((await kvAt(worker, 'home', created.token)).value, null);
    console.log(`# fast mode: the far location refused the deleted token ${elapsed} ms after DELETE answered`);
  });

  test('leaked, handed in, regenerated: each old secret is refused there within 3 s while its KV still holds the record', async () => {
    const leaked = await warmToken(worker, user, 'leaked');
    const handedIn = await warmToken(worker, user, 'handed in');
    const regenerated = await warmToken(worker, user, 'regenerated');
    const report = await scanner.report(worker.base, reportBody([leaked.token]));
    assert.equal((await report.json())[0].label, 'true_positive');
    const revoke = await fetch(`${worker.base}/auth/v1/revoke`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tokens: [handedIn.token] }),
    });
    assert.equal(revoke.status, 202);
    const renewed = await user.request('POST', `/console/api/tokens/${regenerated.id}/regenerate`, { expires_in_days: 30 });
    assert.equal(renewed.status, 200);
    for (const created of [leaked, handedIn, regenerated]) {
      const elapsed = await pollVerify(worker, created.token, refused, FAST_BOUND_MS);
      const stale = await kvAt(worker, 'far', created.token);
      assert.equal(JSON.parse(stale.value).token_id, created.id, 'KV alone would still say valid');
      console.log(`# fast mode: the far location refused the ${created.name} token ${elapsed} ms after its revocation answered`);
    }
    const { token } = await renewed.json();
    await pollVerify(worker, token, (res) => res.status === 200, FAST_BOUND_MS);
  });

  test('a rename reaches the far location within 3 s; its KV still has the old name', async () => {
    const created = await warmToken(worker, user, 'before');
    const res = await user.request('PATCH', `/console/api/tokens/${created.id}`, { name: 'after' });
    assert.equal(res.status, 200);
    await pollVerify(worker, created.token, (r, body) => r.status === 200 && body.token.name === 'after', FAST_BOUND_MS);
    assert.equal(JSON.parse((await kvAt(worker, 'far', created.token)).value).name, 'before');
  });

  test('revoke all: every token refused there within 3 s, one audit event', async () => {
    const owner = await ConsoleClient.signIn(worker.base, 'revoke-all@example.com');
    const tokens = [];
    for (const name of ['a', 'b', 'c']) tokens.push(await warmToken(worker, owner, name));
    const res = await owner.request('POST', '/console/api/tokens/revoke-all', {});
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { revoked: 3 });
    for (const { token } of tokens) await pollVerify(worker, token, refused, FAST_BOUND_MS);
    const listed = await (await owner.request('GET', '/console/api/tokens')).json();
    assert.deepEqual(listed.tokens, []);
    const { events } = await (await owner.request('GET', '/console/api/audit')).json();
    const revoked = events.filter((event) => event.action === 'revoked_all');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0].detail, '3 tokens');
  });

  test('a rename followed at once by a delete both succeed: KV\'s 429 is retried', async () => {
    const stats = async () => (await (await fetch(`${worker.base}/__sim/stats`)).json()).rate_limited_writes;
    const before429s = await stats();
    const created = await user.createToken('busy', null);
    const renamed = await user.request('PATCH', `/console/api/tokens/${created.id}`, { name: 'busier' });
    assert.equal(renamed.status, 200);
    const deleted = await user.request('DELETE', `/console/api/tokens/${created.id}`);
    assert.equal(deleted.status, 204);
    assert.ok(await stats() > before429s, 'KV answered 429 and the ledger retried');
    assert.equal((await kvAt(worker, 'home', created.token)).value, null);
    assert.equal((await verify(worker.base, created.token)).status, 401);
  });

  test('a failed KV write: the change is in force at once, and the alarm catches KV up', async () => {
    const created = await user.createToken('stubborn', null);
    const failing = await fetch(`${worker.base}/__sim/fail-kv-writes?count=1`, { method: 'POST' });
    assert.equal(failing.status, 200);
    const res = await user.request('PATCH', `/console/api/tokens/${created.id}`, { name: 'renamed' });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse((await kvAt(worker, 'home', created.token)).value).name, 'stubborn');
    // Home's KV is behind: the authority answers, once this isolate's feed copy lists it.
    const named = (r, body) => r.status === 200 && body.token.name === 'renamed';
    await pollVerify(worker, created.token, named, FAST_BOUND_MS, {});
    const start = Date.now();
    while (JSON.parse((await kvAt(worker, 'home', created.token)).value).name !== 'renamed') {
      assert.ok(Date.now() - start < 30_000, 'the alarm never rewrote the KV record');
      await sleep(250);
    }
    const { events } = await (await user.request('GET', '/console/api/audit')).json();
    assert.ok(events.some((event) => event.action === 'renamed' && event.detail === 'stubborn → renamed'));
  });
});

describe('strict mode with a far location whose KV lags', () => {
  let worker;
  let user;
  before(async () => {
    worker = await startWorker({
      config: LAG_CONFIG, healthPath: '/auth/v1/health', vars: { ...TEST_SECRETS, REVOCATION_MODE: 'strict' },
    });
    user = await ConsoleClient.signIn(worker.base, 'strict@example.com');
  });
  after(() => worker?.stop());

  test('a deleted token is refused there by the first request after DELETE answers', async () => {
    const created = await warmToken(worker, user, 'CI');
    const res = await user.request('DELETE', `/console/api/tokens/${created.id}`);
    assert.equal(res.status, 204);
    assert.equal((await verify(worker.base, created.token, FAR)).status, 401);
    assert.equal((await kvAt(worker, 'far', created.token)).cached, true);
  });
});

describe('the release build cannot simulate lag', () => {
  test('the marker of the simulation is in the test bundle only', () => {
    const release = readFileSync(join(ROOT, 'worker/build/index_bg.wasm'));
    const lag = readFileSync(join(ROOT, 'worker/build-lag/index_bg.wasm'));
    assert.ok(lag.includes(MARKER), 'the check must be able to see the marker');
    assert.ok(!release.includes(MARKER), 'the release bundle contains the lag simulation');
  });

  test('a release build given SIMULATED_KV_LAG serves nothing but a health report naming it', async () => {
    const worker = await startWorker({ vars: { SIMULATED_KV_LAG: '60' } });
    try {
      const health = await fetch(`${worker.base}/auth/v1/health`);
      assert.equal(health.status, 500);
      assert.ok((await health.json()).problems.includes(
        'SIMULATED_KV_LAG is a test-build setting and this is a release build: refusing to serve',
      ));
      for (const path of ['/auth/v1/verify', '/console/', '/console/api/me', '/__sim/stats']) {
        const res = await fetch(`${worker.base}${path}`, { headers: FAR });
        assert.equal(res.status, 500, path);
        assert.equal((await res.json()).error, 'misconfigured');
        assert.equal(res.headers.get('x-patgate-simulated-lag'), null);
      }
    } finally {
      await worker.stop();
    }
  });

  test('without the setting, the release build has no simulation routes', async () => {
    const worker = await startWorker();
    try {
      const res = await fetch(`${worker.base}/__sim/stats`);
      assert.equal(res.status, 401, 'an API path like any other, behind a token');
    } finally {
      await worker.stop();
    }
  });
});
