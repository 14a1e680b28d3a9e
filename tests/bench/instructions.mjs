// Instructions per request, counted by valgrind's callgrind in the workerd process: a measure of
// a Worker's hot path that the machine's load does not move, for comparing small changes and
// for showing where a floor lies. `make bench` measures time; this counts work.
//
// Usage: node tests/bench/instructions.mjs [noop|modulefloor|kvfloor|reference|patgate|strict] [verify|forward|mistyped]
//   (modulefloor: the no-op's answer from an isolate that loaded patgate's bundle; kvfloor: a
//   Worker that only reads the token's record from KV, tests/bench/kv-floor)
//   INSTRUCTIONS_REQUESTS (default 300) requests are counted after INSTRUCTIONS_WARMUP (default
//   1500, past V8's tier-up) uncounted ones, one at a time over one keep-alive connection. The measured Worker's
//   workerd runs under valgrind (through MINIFLARE_WORKERD_PATH); patgate, which issues the
//   token, runs natively when it is not the one measured. CALLGRIND_KEEP=1 keeps the
//   callgrind output (callgrind_annotate reads it) and prints its path.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConsoleClient, ROOT, TEST_SECRETS, seedKv, startDirect } from '../e2e/harness.mjs';

const [which = 'patgate', kind = 'verify'] = process.argv.slice(2);
const REQUESTS = Number(process.env.INSTRUCTIONS_REQUESTS ?? 300);
const WARMUP = Number(process.env.INSTRUCTIONS_WARMUP ?? 1500);
const BENCH = join(ROOT, 'tests/bench');
const WORKERD = join(ROOT, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
const SECRET = randomBytes(32).toString('hex');

const scratch = mkdtempSync(join(tmpdir(), 'patgate-callgrind-'));
const wrapper = join(scratch, 'workerd');
writeFileSync(wrapper, `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file --callgrind-out-file=${scratch}/callgrind.out.%p ${WORKERD} "$@"\n`);
chmodSync(wrapper, 0o755);

const origin = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"from":"origin"}'));
});
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
const forwarding = { ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`, ORIGIN_SHARED_SECRET: SECRET };
const patgateVars = { ...TEST_SECRETS, DEV_LOGIN: 'enabled', ECHO: '', ...forwarding };

/** Starts a Worker, under valgrind when `measured`. */
async function start(options, measured) {
  if (measured) process.env.MINIFLARE_WORKERD_PATH = wrapper;
  try {
    return await startDirect(options);
  } finally {
    delete process.env.MINIFLARE_WORKERD_PATH;
  }
}

const configs = {
  noop: { config: join(BENCH, 'noop/wrangler.toml'), script: join(BENCH, 'noop/worker.js'), vars: {} },
  reference: { config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'reference/worker.js'), vars: forwarding },
  kvfloor: { config: join(BENCH, 'reference/wrangler.toml'), script: join(BENCH, 'kv-floor/worker.js'), vars: forwarding },
  modulefloor: { config: join(ROOT, 'wrangler.toml'), script: join(BENCH, 'module-floor/worker.js'), vars: {} },
  patgate: { vars: patgateVars },
  strict: { vars: { ...patgateVars, REVOCATION_MODE: 'strict' } },
};
const issuer = await start(configs[which === 'strict' ? 'strict' : 'patgate'], which === 'patgate' || which === 'strict');
const measured = which === 'patgate' || which === 'strict' ? issuer : await start(configs[which], true);
try {
  const user = await ConsoleClient.signIn(issuer.base, 'instructions@example.com');
  const { token } = await user.createToken('instructions', null);
  const key = createHash('sha256').update(token).digest('hex');
  if (which === 'reference' || which === 'kvfloor') {
    const verified = await (await fetch(`${issuer.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}` } })).json();
    await seedKv(measured, key, JSON.stringify({
      v: 1, token_id: verified.token.id, user_id: verified.user.id, email: verified.user.email, name: 'instructions', created_at: 1_800_000_000, expires_at: null,
    }));
  }
  const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
  const path = which === 'noop' || which === 'modulefloor' ? '/' : kind === 'forward' ? '/v1/instructions?x=1' : '/auth/v1/verify';
  const headers = which === 'noop' || which === 'modulefloor' ? {}
    : which === 'kvfloor' ? { 'X-Record-Key': key }
      : { Authorization: `Bearer ${kind === 'mistyped' ? mistyped : token}` };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(path, measured.base);
  // A keep-alive connection the server has just closed is retried once on a fresh one.
  const once = (retry = true) => new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', (error) => (retry && error.code === 'ECONNRESET' ? once(false).then(resolve, reject) : reject(error)));
    req.end();
  });
  const expected = kind === 'mistyped' ? 401 : 200;
  for (let i = 0; i < WARMUP; i += 1) {
    const status = await once();
    if (status !== expected && which !== 'noop' && which !== 'modulefloor') throw new Error(`warm-up answered ${status}`);
  }
  const pids = readdirSync('/proc').filter((entry) => {
    try {
      return /^\d+$/.test(entry) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('callgrind') && readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[2] === String(measured.processGroup);
    } catch {
      return false;
    }
  });
  if (pids.length === 0) throw new Error("no workerd under callgrind in the process group");
  const control = (...args) => execFileSync('callgrind_control', [...args, ...pids], { stdio: 'pipe' });
  control('-z');
  control('-i', 'on');
  for (let i = 0; i < REQUESTS; i += 1) await once();
  control('-i', 'off');
  control('-d');
  agent.destroy();
  const dumps = readdirSync(scratch).filter((name) => name.startsWith('callgrind.out.') && /\.\d+$/.test(name));
  let total = 0;
  for (const dump of dumps) {
    const summary = /^totals:\s+(\d+)/m.exec(readFileSync(join(scratch, dump), 'utf8'));
    total += Number(summary?.[1] ?? 0);
  }
  console.log(`${which}, ${kind}: ${(total / REQUESTS / 1000).toFixed(1)} k instructions per request (${REQUESTS} requests after ${WARMUP} warm-up, callgrind)`);
  if (process.env.CALLGRIND_KEEP) console.log(`callgrind output: ${dumps.map((dump) => join(scratch, dump)).join(' ')}`);
} finally {
  if (measured !== issuer) await measured.stop();
  await issuer.stop();
  origin.close();
  if (!process.env.CALLGRIND_KEEP) rmSync(scratch, { recursive: true, force: true });
}
