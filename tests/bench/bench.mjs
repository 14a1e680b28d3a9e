// `make bench`: throughput and CPU per request of the Worker against a no-op JS Worker, on this
// machine, in one run; plus the bundle size.
//
// Method: each Worker runs under `wrangler dev` (workerd). wrk drives it from loopback; CPU per
// request is the workerd process's user+system CPU time (from /proc) over the run, divided by
// the requests wrk completed. Both Workers pay the same local proxy and runtime overhead, so the
// difference is the cost of patgate's work.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { ConsoleClient, ROOT, startWorker } from '../e2e/harness.mjs';

const DURATION = process.env.BENCH_DURATION ?? '10s';
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '16';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU seconds (user + system) used so far by the workerd processes of a process group. */
function workerdCpuSeconds(processGroup) {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    let cmdline;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('workerd')) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== processGroup) continue; // field 5 of stat: process group
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / TICKS_PER_SECOND;
}

function wrk(url, headers = {}) {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const output = execFileSync('wrk', [...args, url]).toString();
  const requests = Number(/(\d+) requests in/.exec(output)[1]);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const p99 = /99%\s+(\S+)/.exec(output)?.[1] ?? '?';
  return { requests, perSecond, non2xx, p99 };
}

async function measure(label, worker, path, headers, expectNon2xx = false) {
  // Warm up (JIT, wasm instantiation, KV cache) before measuring.
  execFileSync('wrk', ['-t1', '-c4', '-d2s', ...Object.entries(headers).flatMap(([n, v]) => ['-H', `${n}: ${v}`]), `${worker.base}${path}`]);
  const runs = [];
  for (let run = 0; run < RUNS; run += 1) {
    const before = workerdCpuSeconds(worker.processGroup);
    const result = wrk(`${worker.base}${path}`, headers);
    const cpu = workerdCpuSeconds(worker.processGroup) - before;
    if (!expectNon2xx && result.non2xx > 0) throw new Error(`${label}: ${result.non2xx} unexpected non-2xx answers`);
    runs.push({ ...result, cpuPerRequestMicros: (cpu / result.requests) * 1e6 });
  }
  return {
    label,
    perSecond: median(runs.map((r) => r.perSecond)),
    p99: runs.map((r) => r.p99).join(' / '),
    cpuPerRequestMicros: median(runs.map((r) => r.cpuPerRequestMicros)),
    spread: runs.map((r) => r.cpuPerRequestMicros.toFixed(0)).join(', '),
  };
}

const patgate = await startWorker();
const noop = await startWorker({ devLogin: false, config: join(ROOT, 'tests/bench/noop/wrangler.toml') });
const strict = await startWorker({ vars: { REVOCATION_MODE: 'strict' } });
try {
  const user = await ConsoleClient.signIn(patgate.base, 'bench@example.com');
  const { token } = await user.createToken('bench', null);
  const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
  // The JS reference reads the same kind of record from its own local KV.
  const verified = await (await fetch(`${patgate.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const record = JSON.stringify({ v: 1, token_id: verified.token.id, user_id: verified.user.id, email: verified.user.email, name: 'bench', created_at: 0, expires_at: null });
  execFileSync(join(ROOT, 'node_modules/.bin/wrangler'), ['kv', 'key', 'put', '--binding', 'TOKENS', createHash('sha256').update(token).digest('hex'), record,
    '--local', '--persist-to', noop.stateDir, '--config', join(ROOT, 'tests/bench/noop/wrangler.toml')], { stdio: 'ignore' });
  const rows = [
    await measure('no-op JS Worker', noop, '/', {}),
    await measure('JS reference: valid token (SHA-256 + one KV read)', noop, '/auth/v1/verify', { Authorization: `Bearer ${token}` }),
    await measure('patgate: valid token, GET /auth/v1/verify', patgate, '/auth/v1/verify', { Authorization: `Bearer ${token}` }),
    await measure('patgate: mistyped token (401, no KV read)', patgate, '/auth/v1/verify', { Authorization: `Bearer ${mistyped}` }, true),
  ];
  // Revocation (README, "Revocation and consistency"): fast mode with 200 revoked hashes on
  // the feed, for a token not on it; and strict mode, which asks the owner's ledger every time.
  // After a measurement, fetch's pooled connection may have been closed by workerd: retry once.
  const once = async (call) => call().catch(() => call());
  const revoker = await once(() => ConsoleClient.signIn(patgate.base, 'revoked@example.com'));
  for (let i = 0; i < 200; i += 1) await revoker.createToken(`revoked ${i}`, null);
  const revoked = await (await revoker.request('POST', '/console/api/tokens/revoke-all', {})).json();
  if (revoked.revoked !== 200) throw new Error(`revoke-all answered ${JSON.stringify(revoked)}`);
  rows.push(await measure('patgate, fast mode: valid token not on a feed of 200 hashes', patgate, '/auth/v1/verify', { Authorization: `Bearer ${token}` }));
  const strictUser = await once(() => ConsoleClient.signIn(strict.base, 'bench@example.com'));
  const { token: strictToken } = await strictUser.createToken('bench', null);
  rows.push(await measure('patgate, strict mode: valid token (one ledger lookup)', strict, '/auth/v1/verify', { Authorization: `Bearer ${strictToken}` }));
  console.log(`\nwrk -t2 -c${CONNECTIONS} -d${DURATION}, loopback, median of ${RUNS} runs (machine: ${execFileSync('nproc').toString().trim()} cores)\n`);
  console.log('| worker | req/s | CPU per request | CPU per request, each run | p99 latency, each run |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.label} | ${row.perSecond.toFixed(0)} | ${row.cpuPerRequestMicros.toFixed(0)} µs | ${row.spread} | ${row.p99} |`);
  }
  const [floor, reference, valid] = rows.map((row) => row.cpuPerRequestMicros);
  console.log(`\nCPU above the no-op floor: JS reference ${(reference - floor).toFixed(0)} µs, patgate ${(valid - floor).toFixed(0)} µs per valid verify.`);
  console.log('Local KV is simulated inside workerd, so both include its cost; production KV reads cost the Worker far less CPU.');
  const [, , , , withFeed, strictRow] = rows.map((row) => row.cpuPerRequestMicros);
  console.log(`Revocation: fast mode with 200 hashes on the feed ${(withFeed - floor).toFixed(0)} µs, strict mode ${(strictRow - floor).toFixed(0)} µs above the floor (strict includes the ledger object's work; feed_bench above times the feed check alone).`);
} finally {
  await patgate.stop();
  await noop.stop();
  await strict.stop();
}

const wasm = readFileSync(join(ROOT, 'worker/build/index_bg.wasm'));
const js = statSync(join(ROOT, 'worker/build/index.js')).size;
console.log(`\nbundle: ${(wasm.length / 1024).toFixed(0)} KiB wasm (${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped), ${(js / 1024).toFixed(0)} KiB JS glue`);
