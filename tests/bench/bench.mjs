// `make bench`: patgate's hot path against a plain-JS reference that does the same work
// (tests/bench/reference), a no-op Worker (the runtime's floor) and a Worker that does nothing
// but the one KV read (tests/bench/kv-floor: the floor of a valid token), side by side in one run.
//
// Method: each Worker is served under Miniflare directly (workerd without the `wrangler dev`
// proxy, which would dominate: there the no-op costs about 650 µs), behind the same assets layer.
// wrk drives one Worker at a time from loopback; CPU per request is that Worker's workerd CPU
// time (user + system, from /proc) over the run, divided by the requests wrk completed. Rounds
// are interleaved (every row once per round, in a rotating order) and each row reports the median
// of its rounds. Forwarded requests go to a loopback origin outside the measured processes.
// Also: the bundle's size, and how long a fresh instance takes to start and answer its first
// request. Figures are this machine's; compare rows of the same run, never across runs.
import { createHash, randomBytes } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { ConsoleClient, ROOT, TEST_SECRETS, seedKv, startDirect, workerdUsage } from '../e2e/harness.mjs';

const DURATION = process.env.BENCH_DURATION ?? '10s';
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '16';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FRESH_STARTS = Number(process.env.BENCH_FRESH_STARTS ?? 5);
const SECRET = randomBytes(32).toString('hex');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const BENCH = join(ROOT, 'tests/bench');

function wrk(url, headers) {
  return new Promise((resolve, reject) => {
    const args = ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency'];
    for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
    const child = spawn('wrk', [...args, url]);
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.on('error', reject);
    child.on('close', () => resolve({
      requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN),
      perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
      unexpected: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
      socketErrors: /Socket errors: (.*)/.exec(output)?.[1],
      // The latency distribution's own line: a thread-stats column can end in "99%" too.
      p99: /^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? '?',
    }));
  });
}

/** A loopback origin for forwarded requests: answers 200 with a small JSON body. */
async function startOrigin() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"from":"origin"}'));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

const origin = await startOrigin();
const forwarding = { ORIGIN_URL: origin.url, ORIGIN_SHARED_SECRET: SECRET };
// The local configuration echoes; forwarding needs ECHO unset (the two exclude each other).
const patgateVars = { ...TEST_SECRETS, DEV_LOGIN: 'enabled', ECHO: '', ...forwarding };
const workers = {
  noop: await startDirect({ config: join(BENCH, 'noop/wrangler.toml'), script: join(BENCH, 'noop/worker.js'), vars: {} }),
  reference: await startDirect({ config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'reference/worker.js'), vars: forwarding }),
  kvFloor: await startDirect({ config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'kv-floor/worker.js'), vars: forwarding }),
  patgate: await startDirect({ vars: patgateVars }),
  strict: await startDirect({ vars: { ...patgateVars, REVOCATION_MODE: 'strict' } }),
};
try {
  const user = await ConsoleClient.signIn(workers.patgate.base, 'bench@example.com');
  const { token } = await user.createToken('bench', null);
  const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
  // The reference reads the same record as patgate, from its own KV.
  const verified = await (await fetch(`${workers.patgate.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const key = createHash('sha256').update(token).digest('hex');
  const record = JSON.stringify({
    v: 1, token_id: verified.token.id, user_id: verified.user.id, email: verified.user.email, name: 'bench', created_at: 1_800_000_000, expires_at: null,
  });
  await seedKv(workers.reference, key, record);
  await seedKv(workers.kvFloor, key, record);
  // Revocation (README, "Revocation and consistency"): in fast mode, 200 revoked hashes sit on
  // the feed while the valid token (not on it) is measured; strict mode asks the owner's ledger
  // on every request.
  const revoker = await ConsoleClient.signIn(workers.patgate.base, 'revoked@example.com');
  for (let i = 0; i < 200; i += 1) await revoker.createToken(`revoked ${i}`, null);
  const revoked = await (await revoker.request('POST', '/console/api/tokens/revoke-all', {})).json();
  if (revoked.revoked !== 200) throw new Error(`revoke-all answered ${JSON.stringify(revoked)}`);
  const strictUser = await ConsoleClient.signIn(workers.strict.base, 'bench@example.com');
  const { token: strictToken } = await strictUser.createToken('bench', null);
  const bearer = (value) => ({ Authorization: `Bearer ${value}` });
  const rows = [
    { label: 'no-op JS Worker', worker: 'noop', path: '/', headers: {} },
    { label: 'KV-read floor: a JS Worker that only reads the record from KV, GET /auth/v1/verify', worker: 'kvFloor', path: '/auth/v1/verify', headers: { 'X-Record-Key': key } },
    { label: 'KV-read floor: the same, then forwarded to the origin as received', worker: 'kvFloor', path: '/v1/bench?x=1', headers: { 'X-Record-Key': key } },
    { label: 'JS reference: valid token, GET /auth/v1/verify', worker: 'reference', path: '/auth/v1/verify', headers: bearer(token) },
    { label: 'patgate: valid token, GET /auth/v1/verify', worker: 'patgate', path: '/auth/v1/verify', headers: bearer(token) },
    { label: 'patgate, strict mode: valid token, GET /auth/v1/verify (one ledger lookup)', worker: 'strict', path: '/auth/v1/verify', headers: bearer(strictToken) },
    { label: 'JS reference: valid token, forwarded to the origin', worker: 'reference', path: '/v1/bench?x=1', headers: bearer(token) },
    { label: 'patgate: valid token, forwarded to the origin', worker: 'patgate', path: '/v1/bench?x=1', headers: bearer(token) },
    { label: 'JS reference: mistyped token (401, no KV read)', worker: 'reference', path: '/auth/v1/verify', headers: bearer(mistyped), refused: true },
    { label: 'patgate: mistyped token (401, no KV read)', worker: 'patgate', path: '/auth/v1/verify', headers: bearer(mistyped), refused: true },
  ];
  for (const row of rows) {
    // Warm up (JIT, wasm, KV cache), and check the answer is the expected one.
    const warm = await wrk(`${workers[row.worker].base}${row.path}`, row.headers);
    if (!row.refused && warm.unexpected > 0) throw new Error(`${row.label}: ${warm.unexpected} unexpected answers`);
    row.runs = [];
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = rows.map((_, i) => rows[(i + round) % rows.length]);
    for (const row of order) {
      const worker = workers[row.worker];
      const before = workerdUsage(worker.processGroup).cpuSeconds;
      const result = await wrk(`${worker.base}${row.path}`, row.headers);
      const cpu = workerdUsage(worker.processGroup).cpuSeconds - before;
      row.runs.push({ ...result, cpuMicros: (cpu / result.requests) * 1e6 });
    }
  }
  const cpuOf = (label) => median(rows.find((row) => row.label.startsWith(label)).runs.map((r) => r.cpuMicros));
  console.log(`\nMiniflare direct, wrk -t2 -c${CONNECTIONS} -d${DURATION}, loopback, ${ROUNDS} interleaved rounds, medians (machine: ${execFileSync('nproc').toString().trim()} cores)\n`);
  console.log('| worker | req/s | CPU per request | each round | p99, each round |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    const cpu = median(row.runs.map((r) => r.cpuMicros));
    console.log(`| ${row.label} | ${median(row.runs.map((r) => r.perSecond)).toFixed(0)} | ${cpu.toFixed(0)} µs | ${row.runs.map((r) => r.cpuMicros.toFixed(0)).join(', ')} | ${row.runs.map((r) => r.p99).join(' / ')} |`);
  }
  const floor = cpuOf('no-op');
  const ratio = (kind) => (cpuOf(`patgate: valid token, ${kind}`) / cpuOf(`JS reference: valid token, ${kind}`)).toFixed(2);
  console.log(`\npatgate ÷ JS reference, valid token: verify ${ratio('GET /auth/v1/verify')}×, forwarded ${ratio('forwarded')}× (target ≤ 0.9×)`);
  // What 0.9× the reference leaves above the floor every Worker pays (its KV read, and the
  // fetch to the origin), for the token check, hashing, the record, the signature and the answer.
  const headroom = (kind, floorLabel) => {
    const floor = cpuOf(floorLabel);
    const reference = cpuOf(`JS reference: valid token, ${kind}`);
    return `${(floor / reference).toFixed(2)}× the reference (0.9× leaves ${(0.9 * reference - floor).toFixed(0)} µs above it; the reference spends ${(reference - floor).toFixed(0)} µs, patgate ${(cpuOf(`patgate: valid token, ${kind}`) - floor).toFixed(0)} µs)`;
  };
  console.log(`the floor of one KV read: verify ${headroom('GET /auth/v1/verify', 'KV-read floor: a JS')}; forwarded ${headroom('forwarded', 'KV-read floor: the same')}`);
  console.log(`above the no-op floor, mistyped token: JS reference ${(cpuOf('JS reference: mistyped') - floor).toFixed(0)} µs, patgate ${(cpuOf('patgate: mistyped') - floor).toFixed(0)} µs`);
  console.log(`revocation: fast mode (the rows above, with 200 hashes on the feed) adds an in-memory check (feed_bench above times it); strict mode costs ${(cpuOf('patgate, strict mode') - cpuOf('patgate: valid token, GET')).toFixed(0)} µs more per valid verify, its ledger lookup included`);
} finally {
  for (const worker of Object.values(workers)) await worker.stop();
  origin.close();
}

// A fresh instance: from starting the runtime to the first answer, and from "ready" to it.
async function freshStart(options, path, headers) {
  const started = performance.now();
  const worker = await startDirect(options);
  const ready = performance.now();
  const response = await fetch(`${worker.base}${path}`, { headers });
  await response.arrayBuffer();
  const answered = performance.now();
  await worker.stop();
  return { total: answered - started, firstRequest: answered - ready };
}
const fresh = { reference: [], patgate: [] };
const probe = { Authorization: 'Bearer pat_mistyped' };
for (let i = 0; i < FRESH_STARTS; i += 1) {
  fresh.reference.push(await freshStart({ config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'reference/worker.js'), vars: forwarding }, '/auth/v1/verify', probe));
  fresh.patgate.push(await freshStart({ vars: patgateVars }, '/auth/v1/verify', probe));
}
console.log(`\nfresh instance, median of ${FRESH_STARTS}: first request after ready: JS reference ${median(fresh.reference.map((f) => f.firstRequest)).toFixed(1)} ms, patgate ${median(fresh.patgate.map((f) => f.firstRequest)).toFixed(1)} ms; start + first request: JS reference ${median(fresh.reference.map((f) => f.total)).toFixed(0)} ms, patgate ${median(fresh.patgate.map((f) => f.total)).toFixed(0)} ms`);

const wasm = readFileSync(join(ROOT, 'worker/build/index_bg.wasm'));
const js = statSync(join(ROOT, 'worker/build/index.js')).size + statSync(join(ROOT, 'worker/build/entry.mjs')).size;
console.log(`bundle: ${(wasm.length / 1024).toFixed(0)} KiB wasm (${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped), ${(js / 1024).toFixed(0)} KiB JS glue`);
