// A CPU profile of one Worker's isolate under load: where the time of a hot-path request goes.
// `node tests/bench/profile.mjs [verify|forward|mistyped] [patgate|reference]` serves the Worker
// under Miniflare directly (as `make bench` does), takes V8's sampling profile through the
// inspector while wrk drives the chosen request, and prints the functions with the most self
// time (JavaScript, wasm and the runtime's own natives alike) and the share of samples spent
// outside the isolate's JavaScript and wasm (idle, or the runtime's C++ below it). Not part of
// `make test` or `make bench`: a tool for finding what to cut, and for showing a floor.
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';

import { ConsoleClient, ROOT, TEST_SECRETS, freePort, inspectorSession, seedKv, startDirect } from '../e2e/harness.mjs';

const [kind = 'verify', which = 'patgate'] = process.argv.slice(2);
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const BENCH = join(ROOT, 'tests/bench');
const SECRET = randomBytes(32).toString('hex');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"from":"origin"}'));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const forwarding = { ORIGIN_URL: `http://127.0.0.1:${server.address().port}`, ORIGIN_SHARED_SECRET: SECRET };

const inspectorPort = await freePort();
const patgate = await startDirect({ vars: { ...TEST_SECRETS, DEV_LOGIN: 'enabled', ECHO: '', ...forwarding }, inspectorPort: which === 'patgate' ? inspectorPort : undefined });
let worker = patgate;
try {
  const user = await ConsoleClient.signIn(patgate.base, 'profile@example.com');
  const { token } = await user.createToken('profile', null);
  if (which === 'reference') {
    const verified = await (await fetch(`${patgate.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}` } })).json();
    worker = await startDirect({ config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'reference/worker.js'), vars: forwarding, inspectorPort });
    await seedKv(worker, createHash('sha256').update(token).digest('hex'), JSON.stringify({
      v: 1, token_id: verified.token.id, user_id: verified.user.id, email: verified.user.email, name: 'profile', created_at: 1_800_000_000, expires_at: null,
    }));
  }
  const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
  const path = kind === 'forward' ? '/v1/profile?x=1' : '/auth/v1/verify';
  const header = `Authorization: Bearer ${kind === 'mistyped' ? mistyped : token}`;
  const run = (seconds) => new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', '-c8', `-d${seconds}s`, '-H', header, `${worker.base}${path}`]);
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
  await run(3); // warm up

  const session = await inspectorSession(inspectorPort);
  const { send } = session;
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 50 });
  await send('Profiler.start');
  const output = await run(SECONDS);
  const { result } = await send('Profiler.stop');
  session.close();

  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  const { nodes, samples, timeDeltas } = result.profile;
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const selfMicros = new Map();
  samples.forEach((id, i) => {
    const frame = byId.get(id).callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? `${frame.url.split('/').pop()}:${frame.lineNumber}` : ''}`.trim();
    selfMicros.set(name, (selfMicros.get(name) ?? 0) + (timeDeltas[i] ?? 0));
  });
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  const idle = (selfMicros.get('(idle)') ?? 0) + (selfMicros.get('(program)') ?? 0);
  console.log(`${which}, ${kind}: ${requests} requests in ${SECONDS} s; isolate busy ${((total - idle) / requests).toFixed(1)} µs per request of sampled time ((program) and (idle) excluded)`);
  console.log('| self µs/request | function |');
  console.log('| ---: | --- |');
  for (const [name, micros] of [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 40))) {
    console.log(`| ${(micros / requests).toFixed(2)} | ${name.slice(0, 140)} |`);
  }
} finally {
  if (worker !== patgate) await worker.stop();
  await patgate.stop();
  server.close();
}
