// Starts the real Worker under workerd (`wrangler dev`, local KV and Durable Objects, a fresh
// state directory per run) and gives the tests small helpers to talk to it.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
 * Starts `wrangler dev` with the given `--var` settings. Returns { base, stateDir, stop }.
 * Development sign-in is on unless `devLogin: false`.
 */
export async function startWorker({ vars = {}, devLogin = true, config } = {}) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'patgate-state-'));
  const args = [
    'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', stateDir, '--log-level', 'warn',
  ];
  if (config) args.push('--config', config);
  const allVars = devLogin ? { DEV_LOGIN: 'enabled', ...vars } : vars;
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
  const healthPath = config ? '/' : '/auth/v1/health';
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(`${base}${healthPath}`);
      if (res.ok) break;
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

/** Seeds a validation record straight into local KV, as the ledger would write it. */
export async function seedKv(worker, key, value) {
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), [
    'kv', 'key', 'put', '--binding', 'TOKENS', key, value, '--local', '--persist-to', worker.stateDir,
  ], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
}

/** The keys in local KV (`wrangler kv key list`). */
export async function kvKeys(worker) {
  const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), [
    'kv', 'key', 'list', '--binding', 'TOKENS', '--local', '--persist-to', worker.stateDir,
  ], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout).map((entry) => entry.name);
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
