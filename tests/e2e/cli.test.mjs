// The reis CLI against the running Worker.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
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

/** A local HTTP server that records the Authorization header of every request it receives. */
async function startRecorder() {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? null);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

const configOf = (home) => JSON.parse(readFileSync(join(home, 'config', 'reis', 'config.json'), 'utf8'));

describe('reis', () => {
  let worker;
  let user;
  let token;
  let home;
  let recorder;
  before(async () => {
    worker = await startWorker();
    user = await ConsoleClient.signIn(worker.base, 'cli@example.com');
    token = await user.createToken('laptop', 3);
    home = mkdtempSync(join(tmpdir(), 'reis-home-'));
    recorder = await startRecorder();
  });
  after(async () => {
    await recorder?.close();
    await worker?.stop();
  });

  test('login with --token verifies, saves privately, and never prints the token', async () => {
    const result = await reis(['auth', 'login', '--token', token.token, '--api', worker.base], { home });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Logged in to .* as cli@example.com with token "laptop"/);
    assert.ok(!result.stdout.includes(token.token) && !result.stderr.includes(token.token));
    const dir = join(home, 'config', 'reis');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(saved, { default_api: worker.base, hosts: { [worker.base]: { token: token.token } } });
  });

  test('status names the user, the sources, and warns of a close expiry', async () => {
    const result = await reis(['auth', 'status'], { home });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /User:\s+cli@example.com/);
    assert.match(result.stdout, /Token:\s+pat_\w{4}… \(from config file/);
    assert.ok(result.stdout.includes(`config.json, saved for ${worker.base})`), result.stdout);
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
    // A saved token goes only to its own API: elsewhere, the token comes from the environment.
    const unreachable = await reis(['auth', 'status'], { home, env: { REIS_API_URL: 'http://127.0.0.1:1', REIS_API_TOKEN: other.token } });
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
    assert.equal(configOf(stdinHome).hosts[worker.base].token, token.token);
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

  test('a saved token is sent only to the API it was saved for (issue 12, item 12)', async () => {
    recorder.seen.length = 0;
    const byFlag = await reis(['api', '/x', '--api', recorder.base], { home });
    assert.equal(byFlag.code, 1);
    assert.ok(
      byFlag.stderr.includes(`not logged in to ${recorder.base}: run \`reis auth login --api ${recorder.base} --with-token\``),
      byFlag.stderr,
    );
    const byEnv = await reis(['auth', 'status'], { home, env: { REIS_API_URL: recorder.base } });
    assert.equal(byEnv.code, 1);
    assert.match(byEnv.stderr, /this API comes from environment variable REIS_API_URL/);
    assert.ok(byEnv.stderr.includes(`saved for: ${worker.base}`), byEnv.stderr);
    const printed = await reis(['auth', 'token'], { home, env: { REIS_API_URL: recorder.base } });
    assert.equal(printed.code, 1);
    assert.equal(printed.stdout, '');
    const remote = await reis(['api', '/x'], { home, env: { REIS_API_URL: 'https://evil.example' } });
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /not logged in to https:\/\/evil.example/);
    assert.deepEqual(recorder.seen, [], 'no request reached another API');
    // A token from the environment goes where the environment says.
    const other = await user.createToken('for the recorder', null);
    const envToken = await reis(['api', '/x'], { home, env: { REIS_API_URL: recorder.base, REIS_API_TOKEN: other.token } });
    assert.equal(envToken.code, 0, envToken.stderr);
    assert.deepEqual(recorder.seen, [`Bearer ${other.token}`]);
    // And the saved one still goes to its own API.
    const own = await reis(['api', '/v1/x'], { home });
    assert.equal(own.code, 0, own.stderr);
    assert.equal(JSON.parse(own.stdout).token.name, 'laptop');
  });

  test('plain http is refused for any host but loopback (issue 12, item 11)', async () => {
    const refused = await reis(['api', '/x', '--api', 'http://example.com'], { home });
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /refusing to send a token over plain http to example\.com; use https:\/\/ \(plain http is allowed only for localhost\)/,
    );
    const byEnv = await reis(['auth', 'status'], { home, env: { REIS_API_URL: 'http://10.0.0.1:8787' } });
    assert.equal(byEnv.code, 2);
    assert.match(byEnv.stderr, /plain http to 10\.0\.0\.1/);
    const freshHome = mkdtempSync(join(tmpdir(), 'reis-home-'));
    const login = await reis(['auth', 'login', '--token', token.token, '--api', 'http://example.com'], { home: freshHome });
    assert.equal(login.code, 2);
    assert.ok(!existsSync(join(freshHome, 'config', 'reis', 'config.json')), 'nothing saved');
    const withPath = await reis(['api', '/x', '--api', `${worker.base}/prefix`], { home });
    assert.equal(withPath.code, 2);
    assert.match(withPath.stderr, /without a path/);
    const withPassword = await reis(['auth', 'status', '--api', 'https://me:s3cret@api.example.com'], { home });
    assert.equal(withPassword.code, 2);
    assert.ok(!withPassword.stderr.includes('s3cret'));
  });

  test('a config file in the first format keeps its token, for its API only', async () => {
    const oldHome = mkdtempSync(join(tmpdir(), 'reis-home-'));
    const dir = join(oldHome, 'config', 'reis');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ api_url: `${worker.base}/`, token: token.token }), { mode: 0o600 });
    const status = await reis(['auth', 'status'], { home: oldHome });
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.includes(`saved for ${worker.base})`), status.stdout);
    recorder.seen.length = 0;
    const elsewhere = await reis(['api', '/x', '--api', recorder.base], { home: oldHome });
    assert.equal(elsewhere.code, 1);
    assert.deepEqual(recorder.seen, []);
    // The next save writes the new format.
    const again = await reis(['auth', 'login', '--token', token.token], { home: oldHome });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(configOf(oldHome), { default_api: worker.base, hosts: { [worker.base]: { token: token.token } } });
  });

  test('logout forgets the token and explains it still works', async () => {
    const result = await reis(['auth', 'logout'], { home });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /tokens cannot delete tokens/);
    assert.match(result.stdout, /\/console\//);
    assert.ok(result.stdout.includes(`Removed token pat_`) && result.stdout.includes(` for ${worker.base} from `), result.stdout);
    const saved = configOf(home);
    assert.equal(saved.token, undefined);
    assert.deepEqual(saved.hosts, {});
    const status = await reis(['auth', 'status'], { home });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /not logged in/);
  });
});
