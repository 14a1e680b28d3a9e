// Faults under workerd (issue 14): KV failing or answering 429, the ledger failing or hanging,
// the origin unreachable or slow. Each is answered as documented (503 with Retry-After, 502 or
// 504 for the origin), never 200 or 401 by mistake, and nothing is lost once it clears. The
// KV and ledger faults need the test build (worker/build-lag, feature `simulated-faults`,
// switched by POST /__sim/faults); the origin's need only a real origin that misbehaves.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ConsoleClient, ROOT, TEST_SECRETS, startWorker, verify } from './harness.mjs';

const TEST_BUILD_CONFIG = join(ROOT, 'tests/e2e/lag/wrangler.toml');
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Sets faults on the test build, e.g. { kv_reads: 'fail' }; `ok` clears one. */
async function setFaults(worker, faults) {
  const query = new URLSearchParams(faults).toString();
  const res = await fetch(`${worker.base}/__sim/faults?${query}`, { method: 'POST' });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

const clearAll = (worker) => setFaults(worker, { kv_reads: 'ok', kv_writes: 'ok', ledger: 'ok' });

/** A 503 as documented: the service's error body, and Retry-After. */
async function assertUnavailable(res, label) {
  assert.equal(res.status, 503, label);
  assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, label);
  assert.equal((await res.json()).error, 'temporarily_unavailable', label);
}

/** What KV itself holds for a token (the test build's view of the ledger's own location). */
async function kvValue(worker, token) {
  const res = await fetch(`${worker.base}/__sim/kv?location=home&key=${sha256(token)}`);
  return (await res.json()).value;
}

/** Polls until `done()` holds, for at most `limitMs`. */
async function eventually(done, limitMs, label) {
  const start = Date.now();
  while (!(await done())) {
    assert.ok(Date.now() - start < limitMs, `${label}: not within ${limitMs} ms`);
    await sleep(200);
  }
}

describe('KV and ledger faults (test build)', () => {
  let worker;
  let user;
  let kept;
  let steady;
  before(async () => {
    worker = await startWorker({ config: TEST_BUILD_CONFIG, healthPath: '/auth/v1/health', vars: TEST_SECRETS });
    user = await ConsoleClient.signIn(worker.base, 'faults@example.com');
    kept = await user.createToken('kept', 30);
    // Never changed, so never on the revocation feed: KV alone decides it in fast mode.
    steady = await user.createToken('steady', null);
  });
  after(async () => {
    if (worker) await clearAll(worker).catch(() => {});
    await worker?.stop();
  });

  test('KV reads failing: a valid token gets 503, never 401; a mistyped one still 401', async () => {
    await setFaults(worker, { kv_reads: 'fail' });
    try {
      await assertUnavailable(await verify(worker.base, kept.token), 'verify');
      await assertUnavailable(await fetch(`${worker.base}/v1/things`, { headers: { Authorization: `Bearer ${kept.token}` } }), 'forward');
      const mistyped = `${kept.token.slice(0, -1)}${kept.token.endsWith('a') ? 'b' : 'a'}`;
      assert.equal((await verify(worker.base, mistyped)).status, 401, 'no KV read for a mistyped token');
    } finally {
      await setFaults(worker, { kv_reads: 'ok' });
    }
    assert.equal((await verify(worker.base, kept.token)).status, 200);
  });

  test('KV writes failing: a create is refused and undone; a delete still stops the token, and KV catches up', async () => {
    await setFaults(worker, { kv_writes: 'fail' });
    let doomed;
    try {
      const created = await user.request('POST', '/console/api/tokens', { name: 'never made', expires_in_days: null });
      await assertUnavailable(created, 'create');
      const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
      assert.ok(!tokens.some((t) => t.name === 'never made'), 'an undone create leaves no token');
    } finally {
      await setFaults(worker, { kv_writes: 'ok' });
    }
    doomed = await user.createToken('doomed', null);
    assert.equal((await verify(worker.base, doomed.token)).status, 200);
    await setFaults(worker, { kv_writes: 'fail' });
    try {
      const deleted = await user.request('DELETE', `/console/api/tokens/${doomed.id}`);
      assert.ok([204, 503].includes(deleted.status), `delete answered ${deleted.status}`);
      // The delete is in force although KV still holds the record: the revocation feed sends
      // the token to its ledger, which refuses it, within fast mode's bound (3 s).
      await eventually(async () => (await verify(worker.base, doomed.token)).status === 401, 3_000, 'refused');
      assert.notEqual(await kvValue(worker, doomed.token), null, 'the KV delete did fail');
    } finally {
      await setFaults(worker, { kv_writes: 'ok' });
    }
    // Once KV takes writes again, the ledger's alarm brings it in step: nothing resurrected.
    await eventually(async () => (await kvValue(worker, doomed.token)) === null, 30_000, 'KV catches up');
    assert.equal((await verify(worker.base, doomed.token)).status, 401);
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    assert.ok(!tokens.some((t) => t.id === doomed.id));
  });

  test('KV answering 429 to every write: the ledger retries, keeps the rename in force, and KV catches up', async () => {
    await setFaults(worker, { kv_writes: 'rate_limited' });
    let answer;
    try {
      answer = await user.request('PATCH', `/console/api/tokens/${kept.id}`, { name: 'renamed under 429' });
      // Past its retries the ledger keeps the change (KV is brought in step later).
      assert.equal(answer.status, 200, await answer.clone().text());
      const seen = await verify(worker.base, kept.token);
      assert.equal(seen.status, 200, 'a live token is never refused for a KV fault');
      assert.equal((await seen.json()).token.name, 'renamed under 429', 'the ledger, not stale KV, answers');
    } finally {
      await setFaults(worker, { kv_writes: 'ok' });
    }
    const renamed = await user.request('PATCH', `/console/api/tokens/${kept.id}`, { name: 'kept' });
    assert.equal(renamed.status, 200);
    await eventually(async () => (await (await verify(worker.base, kept.token)).json()).token?.name === 'kept', 10_000, 'rename visible');
  });

  test('the ledger failing: the console gets 503; a valid token still validates from KV', async () => {
    await setFaults(worker, { ledger: 'fail' });
    try {
      await assertUnavailable(await user.request('GET', '/console/api/tokens'), 'list');
      await assertUnavailable(await user.request('POST', '/console/api/tokens', { name: 'x', expires_in_days: null }), 'create');
      assert.equal((await verify(worker.base, steady.token)).status, 200, 'fast mode: KV decides a token not on the feed');
      await assertUnavailable(await verify(worker.base, kept.token), 'a token on the feed needs its ledger');
    } finally {
      await setFaults(worker, { ledger: 'ok' });
    }
    assert.equal((await user.request('GET', '/console/api/tokens')).status, 200);
  });

  test('the ledger hanging: the Worker stops waiting and answers 503, then recovers', async () => {
    await setFaults(worker, { ledger: 'hang' });
    try {
      const started = Date.now();
      await assertUnavailable(await user.request('GET', '/console/api/me'), 'me');
      const waited = Date.now() - started;
      assert.ok(waited >= 5_500 && waited < 10_000, `answered after ${waited} ms`);
    } finally {
      await setFaults(worker, { ledger: 'ok' });
    }
    assert.equal((await user.request('GET', '/console/api/me')).status, 200);
  });

  test('a panic fails its own request only: the next one finds a fresh wasm instance', async () => {
    const mark = worker.output().length;
    const res = await fetch(`${worker.base}/__sim/panic`, { method: 'POST' });
    assert.equal(res.status, 500);
    await worker.waitForOutput(/simulated panic/, mark);
    assert.equal((await verify(worker.base, steady.token)).status, 200);
    assert.equal((await user.request('GET', '/console/api/me')).status, 200);
    const mistyped = steady.token.slice(0, -1) + (steady.token.endsWith('a') ? 'b' : 'a');
    assert.equal((await verify(worker.base, mistyped)).status, 401);
  });

  test('once every fault clears, nothing was lost', async () => {
    await clearAll(worker);
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    assert.deepEqual(tokens.map((t) => t.name).sort(), ['kept', 'steady']);
    for (const token of [kept, steady]) {
      assert.equal((await verify(worker.base, token.token)).status, 200);
      await eventually(async () => JSON.parse(await kvValue(worker, token.token)).name === token.name, 40_000, `KV in step for ${token.name}`);
    }
  });
});

describe('the origin unreachable or slow', () => {
  const SECRET = 'o'.repeat(64);
  let origin;
  let slowMs = 0;
  let worker;
  let token;
  before(async () => {
    origin = createServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('from the origin'), slowMs);
    });
    await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
    worker = await startWorker({
      vars: { ECHO: '', ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`, ORIGIN_SHARED_SECRET: SECRET, ORIGIN_TIMEOUT_SECONDS: '1' },
    });
    const user = await ConsoleClient.signIn(worker.base, 'origin-faults@example.com');
    ({ token } = await user.createToken('origin', null));
  });
  after(async () => {
    await worker?.stop();
    origin?.close();
  });

  const call = () => fetch(`${worker.base}/v1/things`, { headers: { Authorization: `Bearer ${token}` } });

  test('a slow origin gets 504 after ORIGIN_TIMEOUT_SECONDS, a prompt one its own answer', async () => {
    slowMs = 3_000;
    const started = Date.now();
    const slow = await call();
    assert.equal(slow.status, 504);
    assert.equal((await slow.json()).error, 'gateway_timeout');
    assert.ok(Date.now() - started < 2_900, 'the gateway did not wait for the origin');
    slowMs = 0;
    const prompt = await call();
    assert.equal(prompt.status, 200);
    assert.equal(await prompt.text(), 'from the origin');
  });

  test('an unreachable origin gets 502, and the gateway recovers with it', async () => {
    const { port } = origin.address();
    await new Promise((resolve) => origin.close(resolve));
    const down = await call();
    assert.equal(down.status, 502);
    assert.equal((await down.json()).error, 'bad_gateway');
    await new Promise((resolve) => origin.listen(port, '127.0.0.1', resolve));
    assert.equal((await call()).status, 200);
  });
});

describe('the release build cannot inject faults', () => {
  test('the faults are in the test bundle only', () => {
    const release = readFileSync(join(ROOT, 'worker/build/index_bg.wasm'));
    const testBuild = readFileSync(join(ROOT, 'worker/build-lag/index_bg.wasm'));
    for (const marker of ['simulated KV read failure', 'simulated ledger hang', '__sim_faults', 'simulated panic']) {
      assert.ok(testBuild.includes(marker), `the check must be able to see ${marker}`);
      assert.ok(!release.includes(marker), `the release bundle contains ${marker}`);
    }
  });

  test('POST /__sim/faults on a release build is an API path like any other, behind a token', async () => {
    const worker = await startWorker();
    try {
      const res = await fetch(`${worker.base}/__sim/faults?ledger=fail`, { method: 'POST' });
      assert.equal(res.status, 401);
    } finally {
      await worker.stop();
    }
  });
});
