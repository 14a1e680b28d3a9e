// Compares this checkout's Worker with another checkout's (both built with `make build`) on
// what the hot-path work must not slow down: the console API, and a large body streamed each
// way through the gateway. Each Worker runs under Miniflare directly from its own checkout (its
// own harness, bundle and wrangler.toml); rounds are interleaved and each figure is a median.
//
// Usage: node tests/bench/compare-builds.mjs <other checkout>
// BENCH_ROUNDS (default 3); CONSOLE_REQUESTS per round (default 150: with more rounds, fewer, as
// the console answers 429 beyond 600 requests a minute from one client).
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';

import * as here from '../e2e/harness.mjs';

const other = process.argv[2];
if (!other) throw new Error('usage: node tests/bench/compare-builds.mjs <other checkout>');
const there = await import(join(resolve(other), 'tests/e2e/harness.mjs'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STREAMED_MIB = 64;
const CONSOLE_REQUESTS = Number(process.env.CONSOLE_REQUESTS ?? 150);
const CHUNK = randomBytes(1024 * 1024);

// The origin: streams STREAMED_MIB MiB down for GET, and drains what is sent up.
const origin = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    let sent = 0;
    const more = () => {
      while (sent < STREAMED_MIB) {
        sent += 1;
        if (!res.write(CHUNK)) return res.once('drain', more);
      }
      return res.end();
    };
    return more();
  }
  let received = 0;
  req.on('data', (chunk) => { received += chunk.length; });
  return req.on('end', () => res.writeHead(200).end(String(received)));
});
await new Promise((ready) => origin.listen(0, '127.0.0.1', ready));
const vars = (harness) => ({
  ...harness.TEST_SECRETS, DEV_LOGIN: 'enabled', ECHO: '',
  ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`, ORIGIN_SHARED_SECRET: randomBytes(32).toString('hex'),
});

/**
 * `count` requests one after the other over one keep-alive connection: the median latency.
 * Sequential and few, as the console's rate limit (600 a minute per client) would refuse more.
 */
async function sequential(url, headers, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      const status = await new Promise((done, reject) => {
        const req = httpRequest(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode));
        });
        req.on('error', reject);
        req.end();
      });
      if (status !== 200) throw new Error(`${url} answered ${status}`);
      latencies.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return median(latencies);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const builds = [
  { label: `this checkout (${here.ROOT})`, harness: here },
  { label: `other checkout (${resolve(other)})`, harness: there },
];
try {
  for (const build of builds) {
    build.worker = await build.harness.startDirect({ vars: vars(build.harness) });
    const user = await build.harness.ConsoleClient.signIn(build.worker.base, 'compare@example.com');
    for (let i = 0; i < 20; i += 1) await user.createToken(`token ${i}`, null);
    build.cookie = user.cookie;
    build.token = (await user.createToken('stream', null)).token;
    build.console = [];
    build.down = [];
    build.up = [];
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
      const { worker, harness } = build;
      let before = harness.workerdUsage(worker.processGroup).cpuSeconds;
      const p50 = await sequential(`${worker.base}/console/api/tokens`, { Cookie: build.cookie }, CONSOLE_REQUESTS);
      const cpu = harness.workerdUsage(worker.processGroup).cpuSeconds - before;
      build.console.push({ cpuMicros: (cpu / CONSOLE_REQUESTS) * 1e6, ms: p50 });

      const auth = { Authorization: `Bearer ${build.token}` };
      before = harness.workerdUsage(worker.processGroup).cpuSeconds;
      let started = performance.now();
      const down = await fetch(`${worker.base}/v1/stream`, { headers: auth });
      let bytes = 0;
      for await (const chunk of down.body) bytes += chunk.length;
      if (bytes !== STREAMED_MIB * CHUNK.length) throw new Error(`${build.label}: ${bytes} bytes came down`);
      build.down.push({ ms: performance.now() - started, cpuMs: (harness.workerdUsage(worker.processGroup).cpuSeconds - before) * 1e3 });

      before = harness.workerdUsage(worker.processGroup).cpuSeconds;
      started = performance.now();
      const body = new ReadableStream({
        sent: 0,
        pull(controller) {
          if (this.sent === STREAMED_MIB) return controller.close();
          this.sent += 1;
          return controller.enqueue(CHUNK);
        },
      });
      const up = await fetch(`${worker.base}/v1/stream`, { method: 'POST', headers: auth, body, duplex: 'half' });
      const received = Number(await up.text());
      if (received !== STREAMED_MIB * CHUNK.length) throw new Error(`${build.label}: the origin received ${received} bytes`);
      build.up.push({ ms: performance.now() - started, cpuMs: (harness.workerdUsage(worker.processGroup).cpuSeconds - before) * 1e3 });
    }
  }
  console.log(`\n${ROUNDS} interleaved rounds, medians; console: ${CONSOLE_REQUESTS} sequential GET /console/api/tokens (21 tokens); streams: ${STREAMED_MIB} MiB through the gateway\n`);
  console.log('| build | console: CPU per request | console: median latency | down: time | down: CPU | up: time | up: CPU |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const build of builds) {
    console.log(`| ${build.label} | ${median(build.console.map((run) => run.cpuMicros)).toFixed(0)} µs | `
      + `${median(build.console.map((run) => run.ms)).toFixed(2)} ms | `
      + `${median(build.down.map((run) => run.ms)).toFixed(0)} ms | ${median(build.down.map((run) => run.cpuMs)).toFixed(0)} ms | `
      + `${median(build.up.map((run) => run.ms)).toFixed(0)} ms | ${median(build.up.map((run) => run.cpuMs)).toFixed(0)} ms |`);
  }
} finally {
  for (const build of builds) await build.worker?.stop();
  origin.close();
}
