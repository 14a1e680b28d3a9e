// The production environment of wrangler.toml under workerd: a half-configured deployment
// refuses what it cannot do (500 `misconfigured`), says which setting is wrong in its log and
// its health, and never echoes, forwards nowhere, or signs in some other way.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { ROOT, TEST_SECRETS, startWorker, verify } from './harness.mjs';

const COMPLETE = {
  ORIGIN_URL: 'http://127.0.0.1:9',
  ORIGIN_SHARED_SECRET: randomBytes(32).toString('hex'),
  OIDC_ISSUER: 'https://id.example.com',
  OIDC_CLIENT_ID: 'patgate',
  OIDC_PROVIDER_NAME: 'Example ID',
  ...TEST_SECRETS,
};

const health = async (worker) => {
  const res = await fetch(`${worker.base}/auth/v1/health`);
  return { status: res.status, body: await res.json() };
};

describe('the production configuration', () => {
  const workers = [];
  after(() => Promise.all(workers.map((worker) => worker.stop())));
  const start = async (options) => {
    const worker = await startWorker({ env: 'production', ...options });
    workers.push(worker);
    return worker;
  };

  test('as committed, with nothing filled in: every capability refuses and health says why', async () => {
    const worker = await start({ devLogin: false });
    const { status, body } = await health(worker);
    assert.equal(status, 500);
    assert.deepEqual(body, {
      status: 'misconfigured',
      capabilities: {
        sign_in: false, development_sign_in: false, forwarding: false, echo: false, admin_api: false, leak_reports: true,
      },
      problems: [
        'ORIGIN_URL is not set, and forwarding to the origin needs it',
        'OIDC_ISSUER is not set, and sign-in with the identity provider needs it',
        'ADMIN_API_SECRET is not set, and the admin API needs it',
      ],
    });
    // Without its secret, the admin API refuses, whatever credential comes.
    const admin = await fetch(`${worker.base}/auth/v1/admin/users/usr_0123456789abcdef01234567/revoke-all`, {
      method: 'POST', headers: { Authorization: 'Bearer anything-at-all' }, body: '{"requested_by":"ops"}',
    });
    assert.equal(admin.status, 500);
    assert.deepEqual(await admin.json(), { error: 'misconfigured', message: 'the admin API is not configured' });
    for (const headers of [{}, { Authorization: `Bearer pat_${'a'.repeat(64)}` }]) {
      const res = await fetch(`${worker.base}/v1/projects`, { headers });
      assert.equal(res.status, 500);
      assert.equal((await res.json()).error, 'misconfigured');
    }
    const login = await fetch(`${worker.base}/console/auth/login`, { redirect: 'manual' });
    assert.equal(login.status, 500);
    assert.equal((await login.json()).message, 'sign-in with the identity provider is not configured');
    const methods = await (await fetch(`${worker.base}/console/auth/methods`)).json();
    assert.deepEqual(methods, { provider: null, development: false });
    const devLogin = await fetch(`${worker.base}/console/auth/dev-login`, {
      method: 'POST',
      headers: { 'X-Requested-With': 'patgate-console', Origin: worker.base, 'Content-Type': 'application/json' },
      body: '{"email":"ada@example.com"}',
    });
    assert.equal(devLogin.status, 404, 'development sign-in never stands in for the provider');
    await worker.waitForOutput(/configuration: ORIGIN_URL is not set/);
    await worker.waitForOutput(/configuration: OIDC_ISSUER is not set/);
  });

  test('one bad secret stops forwarding before any token is looked at, and no value is logged', async () => {
    const weak = 'weak-secret-value';
    const worker = await start({ devLogin: false, vars: { ...COMPLETE, ORIGIN_SHARED_SECRET: weak } });
    const { status, body } = await health(worker);
    assert.equal(status, 500);
    assert.deepEqual(body.capabilities, {
      sign_in: true, development_sign_in: false, forwarding: false, echo: false, admin_api: true, leak_reports: true,
    });
    assert.deepEqual(body.problems, [
      'ORIGIN_SHARED_SECRET is invalid: it must be at least 32 characters (use 32 random bytes, hex-encoded)',
    ]);
    // A token with a valid checksum: the gateway refuses on its configuration, not the token.
    const { token } = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors[0];
    assert.equal((await verify(worker.base, token)).status, 401, 'validation itself needs no origin');
    const res = await fetch(`${worker.base}/v1/projects`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 500);
    const answer = await res.text();
    assert.equal(JSON.parse(answer).error, 'misconfigured');
    assert.ok(!answer.includes('echo'));
    await worker.waitForOutput(/configuration: ORIGIN_SHARED_SECRET is invalid/);
    for (const secret of [weak, ...Object.values(TEST_SECRETS)]) {
      assert.ok(!worker.output().includes(secret));
      assert.ok(!JSON.stringify(body).includes(secret));
    }
  });

  test('complete, it forwards and signs in, and neither echoes nor offers development sign-in', async () => {
    const worker = await start({ devLogin: false, vars: COMPLETE });
    const { status, body } = await health(worker);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      status: 'ok',
      capabilities: {
        sign_in: true, development_sign_in: false, forwarding: true, echo: false, admin_api: true, leak_reports: true,
      },
      problems: [],
    });
    const methods = await (await fetch(`${worker.base}/console/auth/methods`)).json();
    assert.deepEqual(methods, { provider: { name: 'Example ID', login_url: '/console/auth/login' }, development: false });
  });
});
