// `make load`: the Worker under workerd for LOAD_SECONDS (default 60) at LOAD_CONNECTIONS
// (default 64) connections, mixing valid, mistyped, unknown and expired tokens on the gateway
// with concurrent console writes (create, rename, delete) by several users.
//
// The Worker runs under workerd with `wrangler dev`, as in the e2e tests. Passes when: wrk saw no socket error; no answer was a 5xx;
// every gateway answer was the one its token's class must get (valid: 200, the others: 401);
// every console write succeeded; no token was lost or resurrected (each user's list, the tokens
// that validate and local KV agree with what the writers did); and the Worker's memory stayed
// bounded after warm-up. "The Worker's memory" is its isolate's heap, read through the inspector
// every quarter of the run: it saws up and down with garbage collection (which cannot be forced
// from outside in workerd), so it is held to a bound well under the platform's 128 MB per
// isolate, where a leak would break through. workerd's processes as a whole grow under load
// even for a no-op Worker (the dev proxy, its connection buffers, local KV and Durable Objects);
// the summary reports them beside it.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConsoleClient, ROOT, isolateHeap, kvKeys, seedKv, startWorker, verify, workerdUsage } from '../e2e/harness.mjs';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 64);
const WARM_UP_SECONDS = Math.min(10, SECONDS / 4);
/** The bound on the Worker's heap: three quarters of the 128 MB a Worker isolate may use. */
const HEAP_BOUND_BYTES = 96 * 1024 * 1024;
const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors
  .filter((v) => v.token);
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const mistype = (token) => token.slice(0, -1) + ALPHABET[(ALPHABET.indexOf(token.at(-1)) + 1) % 62];

const problems = [];
const check = (ok, message) => { if (!ok) problems.push(message); };

/** Runs wrk with one token class; resolves to its summary and per-status tallies. */
function wrk(base, tokensFile, path, connections) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '-s', join(ROOT, 'tests/load/token-class.lua'),
      `${base}${path}`, '--', tokensFile, path]);
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('error', reject);
    child.on('close', () => {
      const number = (pattern) => Number(pattern.exec(output)?.[1] ?? NaN);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
      resolve({
        requests: number(/(\d+) requests in/),
        perSecond: number(/Requests\/sec:\s+([\d.]+)/),
        p50: /50%\s+(\S+)/.exec(output)?.[1] ?? '?',
        p99: /99%\s+(\S+)/.exec(output)?.[1] ?? '?',
        socketErrors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
        statuses: JSON.parse(/STATUSES (\{.*\})/.exec(output)?.[1] ?? '{}'),
        output,
      });
    });
  });
}

/** A user who keeps creating, renaming and deleting tokens until `stop()`; remembers the outcome. */
function consoleWriter(user) {
  const live = new Map(); // id → { token, name }
  const deleted = [];
  const tally = { writes: 0, failures: [] };
  let running = true;
  /** Sends one write; any answer but `status`, or none, is a failure. */
  const expect = async (label, sending, status) => {
    tally.writes += 1;
    let response;
    try {
      response = await sending;
    } catch (error) {
      tally.failures.push(`${label}: ${error.cause?.code ?? error.message}`);
      return { status: 0 };
    }
    if (response.status !== status) tally.failures.push(`${label}: ${response.status} ${await response.text()}`);
    return response;
  };
  const loop = (async () => {
    for (let round = 0; running; round += 1) {
      const created = await expect('create', user.request('POST', '/console/api/tokens', { name: `load ${round}`, expires_in_days: 30 }), 201);
      if (created.status !== 201) continue;
      const token = await created.json();
      live.set(token.id, { token: token.token, name: token.name });
      const renamed = await expect('rename', user.request('PATCH', `/console/api/tokens/${token.id}`, { name: `load ${round} renamed` }), 200);
      if (renamed.status === 200) live.get(token.id).name = `load ${round} renamed`;
      if (round % 2 === 1) {
        // Delete an older token, so that deletions race with the readers' traffic.
        const [id, entry] = live.entries().next().value;
        const gone = await expect('delete', user.request('DELETE', `/console/api/tokens/${id}`), 204);
        if (gone.status === 204) { live.delete(id); deleted.push(entry.token); }
      }
    }
  })();
  return { live, deleted, tally, stop: async () => { running = false; await loop; } };
}

// One client address sends everything here: lift the per-address limits (tests/e2e/limits.test.mjs
// covers them), so that every answer is the one its token deserves.
const LIFTED = 1_000_000;
const worker = await startWorker({ limits: { SIGN_IN_LIMITER: LIFTED, CONSOLE_LIMITER: LIFTED, FAILED_TOKEN_LIMITER: LIFTED } });

/**
 * The Worker's heap now: the lowest of a few readings a quarter second apart, through a brief
 * inspector connection (an attached inspector makes wrangler report every subrequest to it, so
 * it is attached only to read).
 */
async function heapNow() {
  const heap = await isolateHeap(worker.inspectorPort);
  const readings = [];
  for (let i = 0; i < 4; i += 1) {
    readings.push(await heap.usedBytes());
    await new Promise((r) => setTimeout(r, 250));
  }
  heap.close();
  return Math.min(...readings);
}
const scratch = mkdtempSync(join(tmpdir(), 'patgate-load-'));
try {
  // Readers: tokens that stay valid throughout. Expired: records seeded with a past expiry.
  const readers = await Promise.all([0, 1, 2, 3].map((i) => ConsoleClient.signIn(worker.base, `reader${i}@example.com`)));
  const valid = (await Promise.all(readers.flatMap((user) => [0, 1, 2, 3, 4].map((i) => user.createToken(`reader ${i}`, 90)))))
    .map((created) => created.token);
  const expired = vectors.slice(0, 4).map((vector) => vector.token);
  for (const [i, token] of expired.entries()) {
    await seedKv(worker, sha256(token), JSON.stringify({
      v: 1, token_id: `tok_expired${"0".repeat(12)}${i}`, user_id: readers[0].user.id, email: readers[0].user.email,
      name: 'expired', created_at: 1_000_000_000, expires_at: 1_000_086_400,
    }));
  }
  const classes = {
    valid: { tokens: valid, path: '/v1/load?class=valid', status: 200 },
    mistyped: { tokens: valid.map(mistype), path: '/v1/load?class=mistyped', status: 401 },
    unknown: { tokens: vectors.slice(4, 10).map((vector) => vector.token), path: '/auth/v1/verify', status: 401 },
    expired: { tokens: expired, path: '/auth/v1/verify', status: 401 },
  };
  for (const [name, spec] of Object.entries(classes)) writeFileSync(join(scratch, `${name}.txt`), `${spec.tokens.join('\n')}\n`);

  const writers = await Promise.all([0, 1, 2, 3].map(async (i) => consoleWriter(await ConsoleClient.signIn(worker.base, `writer${i}@example.com`))));
  const started = Date.now();
  const memory = [];
  const sampler = setInterval(() => memory.push({ at: Date.now(), rss: workerdUsage(worker.processGroup).rssBytes }), 1000);
  const heapReadings = [];
  const heapReader = (async () => {
    for (const fraction of [0.25, 0.5, 0.75, 0.95]) {
      const due = started + Math.max(WARM_UP_SECONDS, SECONDS * fraction) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      heapReadings.push({ at: Math.round((Date.now() - started) / 1000), bytes: await heapNow() });
    }
  })();
  const perClass = Math.floor(CONNECTIONS / Object.keys(classes).length);
  const results = Object.fromEntries(await Promise.all(Object.entries(classes)
    .map(async ([name, spec]) => [name, await wrk(worker.base, join(scratch, `${name}.txt`), spec.path, perClass)])));
  clearInterval(sampler);
  await heapReader;
  await Promise.all(writers.map((writer) => writer.stop()));

  // Every gateway answer is the one its class must get; nothing failed at the socket level.
  for (const [name, result] of Object.entries(results)) {
    const wrong = Object.entries(result.statuses).filter(([status]) => Number(status) !== classes[name].status);
    check(result.requests > 0, `${name}: wrk made no request:\n${result.output}`);
    check(wrong.length === 0, `${name}: answers other than ${classes[name].status}: ${JSON.stringify(Object.fromEntries(wrong))}`);
    check(result.socketErrors === 0, `${name}: ${result.socketErrors} socket errors`);
  }
  // Console writes all succeeded, and nothing was lost or resurrected.
  const liveTokens = [];
  for (const [i, writer] of writers.entries()) {
    check(writer.tally.failures.length === 0, `writer ${i}: ${writer.tally.failures.slice(0, 3).join('; ')}`);
    const user = await ConsoleClient.signIn(worker.base, `writer${i}@example.com`);
    const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
    const listed = new Map(tokens.map((t) => [t.id, t.name]));
    const expected = new Map([...writer.live].map(([id, entry]) => [id, entry.name]));
    check(JSON.stringify([...listed].sort()) === JSON.stringify([...expected].sort()), `writer ${i}: the list differs from what was written`);
    for (const { token } of writer.live.values()) {
      liveTokens.push(token);
      check((await verify(worker.base, token)).status === 200, `writer ${i}: a live token is refused`);
    }
    for (const token of writer.deleted) check((await verify(worker.base, token)).status === 401, `writer ${i}: a deleted token validates`);
  }
  const keys = new Set(await kvKeys(worker));
  const expectedKeys = new Set([...valid, ...liveTokens, ...expired].map(sha256));
  check(keys.size === expectedKeys.size && [...expectedKeys].every((key) => keys.has(key)),
    `KV holds ${keys.size} records, the ledgers account for ${expectedKeys.size}`);
  // The Worker's memory stays bounded (see the top of this file).
  for (const reading of heapReadings) {
    check(reading.bytes <= HEAP_BOUND_BYTES, `the Worker's heap reached ${reading.bytes} bytes at ${reading.at} s`);
  }
  const rssAfterWarmUp = memory.find((sample) => sample.at - started >= WARM_UP_SECONDS * 1000)?.rss ?? 0;
  const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  console.log(`\nmake load: ${SECONDS} s, ${perClass * Object.keys(classes).length} connections (${perClass} per class), wrk from loopback, machine: ${execNproc()} cores\n`);
  console.log('| class | expected | requests | req/s | p50 | p99 | statuses | socket errors |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const [name, result] of Object.entries(results)) {
    console.log(`| ${name} | ${classes[name].status} | ${result.requests} | ${result.perSecond.toFixed(0)} | ${result.p50} | ${result.p99} | ${JSON.stringify(result.statuses)} | ${result.socketErrors} |`);
  }
  const writes = writers.reduce((sum, writer) => sum + writer.tally.writes, 0);
  const failures = writers.reduce((sum, writer) => sum + writer.tally.failures.length, 0);
  console.log(`\nconsole writes: ${writes} (create, rename, delete by ${writers.length} users), ${failures} failed; ${liveTokens.length} live and ${writers.reduce((s, w) => s + w.deleted.length, 0)} deleted tokens checked afterwards; KV records: ${keys.size}`);
  console.log(`the Worker's heap (bound ${mib(HEAP_BOUND_BYTES)}): ${heapReadings.map((r) => `${mib(r.bytes)} at ${r.at} s`).join(', ')}`);
  console.log(`workerd processes (runtime, dev proxy, local KV and Durable Objects): ${mib(rssAfterWarmUp)} after warm-up, ${mib(memory.at(-1)?.rss ?? 0)} at the end`);
} finally {
  if (problems.length > 0) {
    const log = join(ROOT, 'test-artifacts', 'load-workerd.log');
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(log, worker.output());
    console.error(`\nthe Worker's output is in ${log}`);
  }
  await worker.stop();
  rmSync(scratch, { recursive: true, force: true });
}

function execNproc() {
  return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((line) => line.startsWith('processor')).length;
}

if (problems.length > 0) {
  console.error(`\nmake load FAILED:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('\nmake load: passed');
