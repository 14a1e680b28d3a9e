// The reis CLI against the running Worker.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { ConsoleClient, ROOT, startWorker } from './harness.mjs';

const REIS = join(ROOT, 'target', 'debug', 'reis');
const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors;

/** Runs reis with a private config home; returns { code, stdout, stderr }. */
function reis(args, { home, env = {}, stdin } = {}) {
  return new Promise((resolve) => {
    const child = spawn(REIS, args, {
      env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // reis may exit before reading standard input: a closed pipe is not a test failure.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });
}

describe('reis', () => {
  let worker;
  let user;
  let token;
  let home;
  before(async () => {
    worker = await startWorker();
    user = await ConsoleClient.signIn(worker.base, 'cli@example.com');
    token = await user.createToken('laptop', 3);
    home = mkdtempSync(join(tmpdir(), 'reis-home-'));
  });
  after(() => worker?.stop());

  test('login with --token verifies, saves privately, and never prints the token', async () => {
    const result = await reis(['auth', 'login', '--token', token.token, '--api', worker.base], { home });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Logged in to .* as cli@example.com with token "laptop"/);
    assert.ok(!result.stdout.includes(token.token) && !result.stderr.includes(token.token));
    const dir = join(home, 'config', 'reis');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(saved, { api_url: worker.base, token: token.token });
  });

  test('status names the user, the sources, and warns of a close expiry', async () => {
    const result = await reis(['auth', 'status'], { home });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /User:\s+cli@example.com/);
    assert.match(result.stdout, /Token:\s+pat_\w{4}… \(from config file/);
    assert.match(result.stdout, /Expires: .*\(in [23] days\)/);
    assert.match(result.stderr, /warning: token "laptop" expires in [23] days/);
    assert.ok(!result.stdout.includes(token.token));
  });

  test('flags beat the environment, which beats the config file', async () => {
    const other = await user.createToken('from env', null);
    const fromEnv = await reis(['auth', 'status'], { home, env: { REIS_API_TOKEN: other.token } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /from environment variable REIS_API_TOKEN/);
    assert.match(fromEnv.stdout, /Name:\s+from env/);
    const badEnvUrl = await reis(['auth', 'status', '--api', worker.base], { home, env: { REIS_API_URL: 'http://127.0.0.1:1' } });
    assert.equal(badEnvUrl.code, 0, badEnvUrl.stderr);
    assert.match(badEnvUrl.stdout, /API:\s+\S+ \(from command-line flag\)/);
    const unreachable = await reis(['auth', 'status'], { home, env: { REIS_API_URL: 'http://127.0.0.1:1' } });
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /could not reach http:\/\/127.0.0.1:1/);
  });

  test('login --with-token reads standard input; typos are caught offline', async () => {
    const stdinHome = mkdtempSync(join(tmpdir(), 'reis-home-'));
    const ok = await reis(['auth', 'login', '--with-token', '--api', worker.base], { home: stdinHome, stdin: `${token.token}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    const typo = token.token.slice(0, 20) + (token.token[20] === 'a' ? 'b' : 'a') + token.token.slice(21);
    const offline = await reis(['auth', 'login', '--token', typo, '--api', 'http://127.0.0.1:1'], { home: stdinHome });
    assert.equal(offline.code, 1);
    assert.match(offline.stderr, /checksum/);
    assert.ok(!offline.stderr.includes(typo));
    const unknown = await reis(['auth', 'login', '--token', vectors[9].token, '--api', worker.base], { home: stdinHome });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /rejected token pat_\w{4}…/);
    // A failed login saves nothing: the earlier token is still the one in use.
    const saved = JSON.parse(readFileSync(join(stdinHome, 'config', 'reis', 'config.json'), 'utf8'));
    assert.equal(saved.token, token.token);
  });

  test('api calls the gateway with the token and reflects the status', async () => {
    const result = await reis(['api', '/v1/projects?page=2', '-X', 'DELETE', '-H', 'X-Trace: 1'], { home });
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.deepEqual(body.request, { method: 'DELETE', path: '/v1/projects?page=2' });
    assert.equal(body.token.name, 'laptop');
    const notFound = await reis(['api', '/auth/v1/nothing'], { home });
    assert.equal(notFound.code, 4);
    const usage = await reis(['api', 'no-slash'], { home });
    assert.equal(usage.code, 2);
  });

  test('auth token prints the token for piping', async () => {
    const result = await reis(['auth', 'token'], { home });
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${token.token}\n`);
  });

  test('a deleted token fails status with exit code 1', async () => {
    const doomed = await user.createToken('doomed', null);
    const doomedHome = mkdtempSync(join(tmpdir(), 'reis-home-'));
    assert.equal((await reis(['auth', 'login', '--token', doomed.token, '--api', worker.base], { home: doomedHome })).code, 0);
    assert.equal((await user.request('DELETE', `/console/api/tokens/${doomed.id}`)).status, 204);
    const result = await reis(['auth', 'status'], { home: doomedHome });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid, expired or deleted/);
    const api = await reis(['api', '/v1/anything'], { home: doomedHome });
    assert.equal(api.code, 1);
  });

  test('logout forgets the token and explains it still works', async () => {
    const result = await reis(['auth', 'logout'], { home });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /tokens cannot delete tokens/);
    assert.match(result.stdout, /\/console\//);
    const saved = JSON.parse(readFileSync(join(home, 'config', 'reis', 'config.json'), 'utf8'));
    assert.equal(saved.token, undefined);
    const status = await reis(['auth', 'status'], { home });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /not logged in/);
  });
});
