// `make bench`: throughput and CPU per request of the Worker against a no-op JS Worker, on this
// machine, in one run; plus the bundle size.
//
// Method: each Worker runs under `wrangler dev` (workerd). wrk drives it from loopback; CPU per
// request is the workerd process's user+system CPU time (from /proc) over the run, divided by
// the requests wrk completed. Both Workers pay the same local proxy and runtime overhead, so the
// difference is the cost of patgate's work.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { ConsoleClient, ROOT, startWorker } from '../e2e/harness.mjs';

const DURATION = process.env.BENCH_DURATION ?? '10s';
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '16';
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
  const before = workerdCpuSeconds(worker.processGroup);
  const result = wrk(`${worker.base}${path}`, headers);
  const cpu = workerdCpuSeconds(worker.processGroup) - before;
  if (!expectNon2xx && result.non2xx > 0) throw new Error(`${label}: ${result.non2xx} unexpected non-2xx answers`);
  return { label, ...result, cpuPerRequestMicros: (cpu / result.requests) * 1e6 };
}

const patgate = await startWorker();
const noop = await startWorker({ devLogin: false, config: join(ROOT, 'tests/bench/noop/wrangler.toml') });
try {
  const user = await ConsoleClient.signIn(patgate.base, 'bench@example.com');
  const { token } = await user.createToken('bench', null);
  const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
  const rows = [
    await measure('no-op JS Worker', noop, '/', {}),
    await measure('patgate: valid token, GET /auth/v1/verify', patgate, '/auth/v1/verify', { Authorization: `Bearer ${token}` }),
    await measure('patgate: mistyped token (401, no KV read)', patgate, '/auth/v1/verify', { Authorization: `Bearer ${mistyped}` }, true),
  ];
  console.log(`\nwrk -t2 -c${CONNECTIONS} -d${DURATION}, loopback, one run each (machine: ${execFileSync('nproc').toString().trim()} cores)\n`);
  console.log('| worker | req/s | p99 latency | CPU per request |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.label} | ${row.perSecond.toFixed(0)} | ${row.p99} | ${row.cpuPerRequestMicros.toFixed(0)} µs |`);
  }
  const extra = rows[1].cpuPerRequestMicros - rows[0].cpuPerRequestMicros;
  console.log(`\npatgate's valid verify costs ${extra.toFixed(0)} µs of CPU per request more than the no-op Worker.`);
} finally {
  await patgate.stop();
  await noop.stop();
}

const wasm = readFileSync(join(ROOT, 'worker/build/index_bg.wasm'));
const js = statSync(join(ROOT, 'worker/build/index.js')).size;
console.log(`\nbundle: ${(wasm.length / 1024).toFixed(0)} KiB wasm (${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped), ${(js / 1024).toFixed(0)} KiB JS glue`);
