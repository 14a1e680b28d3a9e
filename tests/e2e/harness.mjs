// Starts the real Worker under workerd (`wrangler dev`, local KV and Durable Objects, a fresh
// state directory per run) and gives the tests small helpers to talk to it.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CSRF = { 'X-Requested-With': 'patgate-console' };

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * wrangler.toml with other limits for its rate-limiting bindings, e.g. { SIGN_IN_LIMITER: 3 },
 * written into `dir` with its paths made absolute. Returns the new file's path.
 */
function configWithLimits(limits, dir) {
  let toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const replace = (pattern, replacement) => {
    const next = toml.replace(pattern, replacement);
    if (next === toml) throw new Error(`wrangler.toml no longer matches ${pattern}`);
    toml = next;
  };
  replace(/^main = "(.*)"$/m, (_, path) => `main = "${join(ROOT, path)}"`);
  replace(/^directory = "(.*)"$/m, (_, path) => `directory = "${join(ROOT, path)}"`);
  for (const [name, limit] of Object.entries(limits)) {
    replace(new RegExp(`(name = "${name}"\nnamespace_id = "\\d+"\nsimple = \\{ limit = )\\d+`), `$1${limit}`);
  }
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, toml);
  return path;
}

/**
 * The secrets of the local configuration (wrangler.toml's [vars] holds the rest), as a test
 * passes them: test-only values, never used anywhere else.
 */
export const TEST_SECRETS = {
  COOKIE_SECRET: 'test-only-cookie-secret-0123456789abcdef',
  OIDC_CLIENT_SECRET: 'test-only-client-secret',
  ADMIN_API_SECRET: 'test-only-admin-secret-0123456789abcdef',
};

/**
 * Starts `wrangler dev` with the local configuration, the test secrets and the given `--var`
 * settings (a value of '' unsets one). Returns { base, stateDir, stop }. Development sign-in
 * is on unless `devLogin: false`; `limits` replaces rate limits by binding. `port` picks the
 * port (else a free one); `env` a wrangler environment and `config` another configuration,
 * which get no test secrets. `healthPath` is polled until the Worker is ready.
 */
export async function startWorker({
  vars = {}, devLogin = true, config, limits, port, env, healthPath = config && !limits ? '/' : '/auth/v1/health',
} = {}) {
  const local = !config && !env;
  port ??= await freePort();
  const inspectorPort = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'patgate-state-'));
  if (limits) config = configWithLimits(limits, stateDir);
  const args = [
    'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', stateDir, '--log-level', process.env.WRANGLER_LOG_LEVEL ?? 'warn',
  ];
  if (config) args.push('--config', config);
  if (env) args.push('--env', env);
  const allVars = { ...(local ? TEST_SECRETS : {}), ...(devLogin ? { DEV_LOGIN: 'enabled' } : {}), ...vars };
  for (const [name, value] of Object.entries(allVars)) args.push('--var', `${name}:${value}`);
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const base = `http://localhost:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      // A misconfigured Worker is ready too: its health answers 500 with the same shape.
      const res = await fetch(`${base}${healthPath}`);
      if (res.ok || (healthPath !== '/' && res.status === 500 && (await res.json()).capabilities)) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      process.kill(-child.pid, 'SIGKILL');
      throw new Error(`wrangler dev did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    port,
    inspectorPort,
    processGroup: child.pid,
    stateDir,
    output: () => output,
    /**
     * Resolves to the first match of `pattern` in the output after position `since`: the
     * Worker's log lines can arrive after its answer.
     */
    async waitForOutput(pattern, since = 0, timeoutMs = 5000) {
      const waitUntil = Date.now() + timeoutMs;
      for (;;) {
        const match = output.slice(since).match(pattern);
        if (match) return match;
        if (Date.now() > waitUntil) throw new Error(`${pattern} is not in the Worker's output:\n${output.slice(since)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      await new Promise((r) => setTimeout(r, 300));
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * The local OpenID provider (tests/oidc/provider.mjs) and a Worker that signs in with it, as
 * `make dev` runs them. Returns { worker, provider, stop }.
 */
export async function startWorkerWithProvider({ vars = {}, ...options } = {}) {
  const { startLocalProvider } = await import('../oidc/provider.mjs');
  const port = await freePort();
  const provider = await startLocalProvider({
    redirectUris: [`http://localhost:${port}/console/auth/callback`],
    clientSecret: TEST_SECRETS.OIDC_CLIENT_SECRET,
  });
  const worker = await startWorker({ ...options, port, vars: { OIDC_ISSUER: provider.issuer, ...vars } });
  return {
    worker,
    provider,
    async stop() {
      await worker.stop();
      await provider.stop();
    },
  };
}

/**
 * Serves a Worker under Miniflare directly, without the `wrangler dev` proxy (see
 * serve-direct.mjs): the Worker's own CPU and memory, for `make load` and `make bench`. The
 * default is patgate's bundle and wrangler.toml, with the test secrets and development sign-in.
 * Returns the same shape as `startWorker` (no stateDir: the state lives in memory).
 */
export async function startDirect({ config = join(ROOT, 'wrangler.toml'), script = join(ROOT, 'worker/build/entry.mjs'), vars = { ...TEST_SECRETS, DEV_LOGIN: 'enabled' }, inspectorPort } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'patgate-state-'));
  const options = JSON.stringify({ config, script, vars, stateDir, inspectorPort });
  const child = spawn(process.execPath, [join(ROOT, 'tests/e2e/serve-direct.mjs'), options], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error(`Miniflare did not start:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const ready = /ready (\S+)/.exec(output);
      if (ready) { clearTimeout(timer); resolveBase(ready[1].replace('127.0.0.1', 'localhost')); }
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Miniflare exited (${code}):\n${output}`)); });
  });
  return {
    base,
    port: Number(new URL(base).port),
    inspectorPort,
    config,
    processGroup: child.pid,
    stateDir,
    output: () => output,
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      await new Promise((r) => setTimeout(r, 300));
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * A Chrome DevTools protocol session with a Worker's own isolate, served by `startWorker` or
 * `startDirect({ inspectorPort })` (their `inspectorPort`). Returns { send(method, params),
 * close }, `send` resolving to the reply.
 */
export async function inspectorSession(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  // Miniflare lists every isolate (the Worker's is `core:user:`); wrangler dev, only the Worker's.
  const target = targets.find((t) => t.title.endsWith('core:user:')) ?? targets[0];
  const { default: WebSocket } = await import('ws');
  // A CPU profile can be large.
  const socket = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolveOpen, reject) => { socket.once('open', resolveOpen); socket.once('error', reject); });
  let nextId = 0;
  const pending = new Map();
  socket.on('message', (message) => {
    const reply = JSON.parse(message);
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  return {
    send(method, params = {}) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolveReply) => {
        pending.set(id, resolveReply);
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => socket.close(),
  };
}

/**
 * The JavaScript heap of a Worker's isolate (see `inspectorSession`): what the Worker itself
 * holds, apart from the runtime's connections and services. Returns { usedBytes, close }.
 */
export async function isolateHeap(inspectorPort) {
  const session = await inspectorSession(inspectorPort);
  return {
    async usedBytes() {
      const reply = await session.send('Runtime.getHeapUsage');
      return reply.result.usedSize + reply.result.embedderHeapUsedSize;
    },
    close: session.close,
  };
}

/** A signed-in console user: sends the session cookie and the CSRF defences. */
export class ConsoleClient {
  constructor(base, cookie, user) {
    this.base = base;
    this.cookie = cookie;
    this.user = user;
  }

  static async signIn(base, email) {
    const res = await fetch(`${base}/console/auth/dev-login`, {
      method: 'POST',
      headers: { ...CSRF, Origin: base, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
    const cookie = res.headers.getSetCookie()[0].split(';')[0];
    const { user } = await res.json();
    return new ConsoleClient(base, cookie, user);
  }

  request(method, path, body, extraHeaders = {}) {
    const headers = { Cookie: this.cookie, ...extraHeaders };
    if (method !== 'GET') Object.assign(headers, CSRF, { Origin: this.base, 'Content-Type': 'application/json' }, extraHeaders);
    return fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
  }

  async createToken(name = 'CI', expiresInDays = null) {
    const res = await this.request('POST', '/console/api/tokens', { name, expires_in_days: expiresInDays });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
    return res.json();
  }
}

/**
 * Seeds a validation record straight into local KV, as the ledger would write it. `worker` is a
 * `startWorker` or `startDirect` result; its `config` (if any) names the KV namespace.
 */
export async function seedKv(worker, key, value) {
  const config = worker.config ? ['--config', worker.config] : [];
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), [
    'kv', 'key', 'put', '--binding', 'TOKENS', key, value, '--local', '--persist-to', worker.stateDir, ...config,
  ], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
}

/** The keys in local KV (`wrangler kv key list`). */
export async function kvKeys(worker) {
  const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), [
    'kv', 'key', 'list', '--binding', 'TOKENS', '--local', '--persist-to', worker.stateDir,
  ], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout).map((entry) => entry.name);
}

function allFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

/**
 * Asserts that no file of the Worker's persisted local state (everything under `stateDir`:
 * KV, Durable Object storage) holds any of `tokens`, whole or its secret part after `pat_`:
 * token plaintext is never persisted. Each string of `present` (the tokens' SHA-256 hashes,
 * which the ledgers keep) must be found somewhere, so a scan that reads nothing cannot pass.
 */
export async function assertNoPlaintextInState(stateDir, tokens, present) {
  await new Promise((r) => setTimeout(r, 500)); // writes still under way
  const files = allFiles(stateDir);
  const found = new Set();
  for (const file of files) {
    const content = readFileSync(file);
    for (const token of tokens) {
      assert.equal(content.indexOf(token), -1, `${token.slice(0, 8)}… found in ${file}`);
      assert.equal(content.indexOf(token.slice(4)), -1, `secret part of ${token.slice(0, 8)}… found in ${file}`);
    }
    for (const text of present) if (content.includes(text)) found.add(text);
  }
  assert.deepEqual(present.filter((text) => !found.has(text)), [], 'not found in the state: the scan missed storage');
}

export function verify(base, token, extraHeaders = {}) {
  return fetch(`${base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${token}`, ...extraHeaders } });
}

/**
 * CPU seconds (user + system) used so far, and resident memory now, of the workerd processes of
 * a process group (a `startWorker` result's `processGroup`), read from /proc.
 */
export function workerdUsage(processGroup) {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const pageSize = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim());
  let ticks = 0;
  let rssBytes = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    let cmdline;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (!cmdline.includes('workerd')) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== processGroup) continue; // field 5 of stat: process group
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    rssBytes += Number(fields[21]) * pageSize; // rss, in pages
  }
  return { cpuSeconds: ticks / ticksPerSecond, rssBytes };
}
