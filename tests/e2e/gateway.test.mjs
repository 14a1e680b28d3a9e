// Edge validation and the gateway, end to end under workerd (issue: edge validation).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { RequestIdMemory, verifyGatewayRequest } from '../../docs/verify-origin-signature.mjs';
import { ConsoleClient, ROOT, seedKv, startWorker, verify } from './harness.mjs';

const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

describe('verify endpoint', () => {
  let worker;
  let user;
  let token;
  before(async () => {
    worker = await startWorker();
    user = await ConsoleClient.signIn(worker.base, 'gateway@example.com');
    token = await user.createToken('CI', 30);
  });
  after(() => worker?.stop());

  test('a valid token answers 200 with the user and token', async () => {
    const res = await verify(worker.base, token.token);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    assert.deepEqual(body.user, user.user);
    assert.equal(body.token.id, token.id);
    assert.equal(body.token.name, 'CI');
    assert.equal(body.token.created_at, token.created_at);
    assert.match(body.token.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(!JSON.stringify(body).includes(token.token));
  });

  test('the scheme name is case-insensitive', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: `${scheme} ${token.token}` } });
      assert.equal(res.status, 200, scheme);
    }
  });

  test('no credentials or another scheme: 401 with a bare challenge', async () => {
    for (const headers of [{}, { Authorization: 'Basic dXNlcjpwYXNz' }, { Authorization: `Token ${token.token}` }]) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="patgate"');
      assert.equal((await res.json()).error, 'unauthorized');
    }
  });

  test('unreadable Authorization headers: 400 invalid_request', async () => {
    const cases = [
      'Bearer',
      'Bearer ',
      `Bearer  ${token.token}`,
      `Bearer\t${token.token}`,
      `Bearer ${token.token}, Bearer ${token.token}`,
      `Bearer ${'a'.repeat(8 * 1024)}`,
      'Bearer pat_ä',
    ];
    for (const value of cases) {
      const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: value } }).catch(() => null);
      if (res === null) continue; // undici refuses some values client-side: nothing reached the Worker
      assert.equal(res.status, 400, JSON.stringify(value.slice(0, 40)));
      assert.match(res.headers.get('www-authenticate'), /error="invalid_request"/);
      assert.equal((await res.json()).error, 'invalid_request');
    }
    // A 1 MiB header is refused by the runtime itself (431) before the Worker runs.
    const huge = await fetch(`${worker.base}/auth/v1/verify`, { headers: { Authorization: `Bearer ${'a'.repeat(1024 * 1024)}` } });
    assert.ok([400, 431].includes(huge.status), String(huge.status));
    const twoHeaders = new Headers();
    twoHeaders.append('Authorization', `Bearer ${token.token}`);
    twoHeaders.append('Authorization', `Bearer ${token.token}`);
    const res = await fetch(`${worker.base}/auth/v1/verify`, { headers: twoHeaders });
    assert.equal(res.status, 400);
  });

  test('malformed, mistyped, unknown, expired and deleted tokens share one 401 body', async () => {
    const doomed = await user.createToken('doomed', null);
    assert.equal((await user.request('DELETE', `/console/api/tokens/${doomed.id}`)).status, 204);

    const expired = vectors[5].token;
    const expiredRecord = {
      v: 1, token_id: 'tok_expiredexpiredexpire', user_id: user.user.id, email: user.user.email,
      name: 'old', created_at: 1_000_000_000, expires_at: 1_000_086_400,
    };
    await seedKv(worker, vectors[5].sha256_hex, JSON.stringify(expiredRecord));

    const last = token.token.at(-1);
    const mistyped = token.token.slice(0, -1) + ALPHABET[(ALPHABET.indexOf(last) + 1) % 62];
    const unknown = vectors[6].token;
    const cases = {
      malformed: 'pat_short',
      otherVendor: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB',
      mistyped,
      storedHashAsToken: sha256(token.token),
      unknown,
      expired,
      deleted: doomed.token,
    };
    // One answer for all, headers included: the isolate makes this refusal once and answers
    // the later ones from what it made (platform/entry.rs, fixed_answer), so twice each.
    const answers = new Set();
    for (const [label, value] of [...Object.entries(cases), ...Object.entries(cases)]) {
      const res = await verify(worker.base, value);
      assert.equal(res.status, 401, label);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="patgate", error="invalid_token"', label);
      assert.equal(res.headers.get('cache-control'), 'no-store', label);
      const headers = [...res.headers].filter(([name]) => name !== 'date');
      answers.add(JSON.stringify([headers, await res.text()]));
    }
    assert.equal(answers.size, 1, [...answers].join('\n'));
  });

  test('an unreadable stored record fails closed: 503 with Retry-After, never 401', async () => {
    const vector = vectors[7];
    await seedKv(worker, vector.sha256_hex, '{"v":99,"future":true}');
    const res = await verify(worker.base, vector.token);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal((await res.json()).error, 'temporarily_unavailable');
  });

  test('echo mode shows the identity but never the token or client X-Auth values', async () => {
    const res = await fetch(`${worker.base}/v1/projects?page=2`, {
      headers: { Authorization: `Bearer ${token.token}`, 'X-Auth-User-Id': 'usr_spoofed', 'X-Auth-Admin': 'yes' },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(token.token));
    assert.ok(!text.includes('spoofed') && !text.includes('X-Auth-Admin'));
    const body = JSON.parse(text);
    assert.equal(body.user.id, user.user.id);
    assert.deepEqual(body.request, { method: 'GET', path: '/v1/projects?page=2' });
  });

  test('a use is recorded as last used, with its place', async () => {
    const fresh = await user.createToken('usage', 7);
    assert.equal((await verify(worker.base, fresh.token)).status, 200);
    let listed;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const { tokens } = await (await user.request('GET', '/console/api/tokens')).json();
      listed = tokens.find((t) => t.id === fresh.id);
      if (listed.last_used_at) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(listed.last_used_at, /Z$/);
    assert.equal(typeof listed.last_used_from, 'string');
  });

  test('other /auth paths and wrong methods are refused', async () => {
    assert.equal((await fetch(`${worker.base}/auth/v1/nothing`)).status, 404);
    const res = await fetch(`${worker.base}/auth/v1/verify`, { method: 'POST', headers: { Authorization: `Bearer ${token.token}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });
});

/** Sends a request with node:http, which (unlike fetch) sends any header name and `Connection`. */
function rawRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const framing = body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) };
    const req = httpRequest(url, { method, headers: { ...headers, ...framing } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the origin signature verifier (docs/verify-origin-signature.mjs)', () => {
  // README's worked example.
  const example = {
    method: 'POST',
    pathAndQuery: '/v1/things?x=1',
    headers: {
      'x-auth-timestamp': '1795435200',
      'x-auth-request-id': '5f0c6a8e2b9d4c7183e1a6f4b2d09c35',
      'x-forwarded-host': 'api.bahriya.cloud',
      'x-auth-user-id': 'usr_0123456789abcdef01234567',
      'x-auth-token-id': 'tok_abcdefghij0123456789',
      'x-auth-signature': '272fe8169831e00bf4b9bf6334065d97e299fd3e65256fee1cf9418114a42cac',
    },
  };
  const check = (request, changes = {}) => verifyGatewayRequest(request, {
    secret: 'origin-secret', host: 'api.bahriya.cloud', seen: new RequestIdMemory(), nowSeconds: 1795435200, ...changes,
  });
  const withHeader = (name, value) => ({ ...example, headers: { ...example.headers, [name]: value } });

  test("accepts README's example", () => {
    assert.deepEqual(check(example), {
      userId: 'usr_0123456789abcdef01234567', tokenId: 'tok_abcdefghij0123456789', requestId: '5f0c6a8e2b9d4c7183e1a6f4b2d09c35',
    });
    assert.ok(check(example, { host: 'API.Bahriya.Cloud' }));
  });

  test('refuses signatures in any other form than 64 lowercase hex digits', () => {
    const signature = example.headers['x-auth-signature'];
    for (const forged of [signature.toUpperCase(), `${signature}zz`, `${signature}00`, `${signature.slice(0, 62)}zz`, signature.slice(0, 62), '']) {
      assert.equal(check(withHeader('x-auth-signature', forged)), null, forged);
    }
  });

  test('refuses another host, method, path, request id, a stale timestamp and a replay', () => {
    assert.equal(check(example, { host: 'api.other.example' }), null);
    assert.equal(check({ ...example, method: 'PUT' }), null);
    assert.equal(check({ ...example, method: 'post' }), null);
    assert.equal(check({ ...example, pathAndQuery: '/v1/things?x=2' }), null);
    assert.equal(check(withHeader('x-auth-request-id', '5f0c6a8e2b9d4c7183e1a6f4b2d09c36')), null);
    assert.equal(check(withHeader('x-auth-request-id', '5F0C6A8E2B9D4C7183E1A6F4B2D09C35')), null);
    assert.equal(check(withHeader('x-forwarded-host', 'api.other.example')), null, 'signed for another host');
    assert.equal(check(example, { nowSeconds: 1795435200 + 301 }), null);
    const seen = new RequestIdMemory();
    assert.ok(check(example, { seen }));
    assert.equal(check(example, { seen, nowSeconds: 1795435200 + 299 }), null, 'replayed within the window');
  });
});

describe('forwarding to the origin', () => {
  const SECRET = randomBytes(32).toString('hex');
  let origin;
  let originUrl;
  const seen = [];
  let worker;
  let token;
  let host;
  const verifyAtOrigin = (request, memory = new RequestIdMemory()) => verifyGatewayRequest(
    { method: request.method, pathAndQuery: request.url, headers: request.headers }, { secret: SECRET, host, seen: memory },
  );

  before(async () => {
    origin = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(207, { 'Content-Type': 'application/json', 'X-Origin': 'yes', 'Cache-Control': 'public, max-age=600' });
        res.end(JSON.stringify({ from: 'origin', user: req.headers['x-auth-user-id'], bytes: body.length }));
      });
    });
    await new Promise((r) => origin.listen(0, '127.0.0.1', r));
    originUrl = `http://127.0.0.1:${origin.address().port}`;
    worker = await startWorker({ vars: { ECHO: '', ORIGIN_URL: originUrl, ORIGIN_SHARED_SECRET: SECRET } });
    host = new URL(worker.base).host;
    const user = await ConsoleClient.signIn(worker.base, 'forward@example.com');
    token = await user.createToken('forwarding', null);
  });
  after(async () => {
    await worker?.stop();
    origin?.close();
  });

  test('method, path, query and a 1 MiB body arrive intact, with a verifiable signature', async () => {
    const payload = randomBytes(1024 * 1024);
    const res = await fetch(`${worker.base}/v1/blobs/42?overwrite=true&x=%2F`, {
      method: 'PUT',
      headers: {
        Authorization: `Bearer ${token.token}`,
        Cookie: 'session=abc',
        'X-Auth-User-Id': 'usr_spoofed',
        'X-Auth-Signature': 'forged',
        'X-Request-Id': 'req-1',
        'Content-Type': 'application/octet-stream',
      },
      body: payload,
    });
    assert.equal(res.status, 207);
    assert.equal(res.headers.get('x-origin'), 'yes');
    const request = seen.at(-1);
    assert.equal(request.method, 'PUT');
    assert.equal(request.url, '/v1/blobs/42?overwrite=true&x=%2F');
    assert.ok(request.body.equals(payload));
    assert.equal(request.headers['x-request-id'], 'req-1');
    assert.equal(request.headers.authorization, undefined);
    assert.equal(request.headers.cookie, undefined);
    assert.equal(request.headers['x-auth-token-id'], token.id);
    assert.notEqual(request.headers['x-auth-user-id'], 'usr_spoofed');
    assert.equal(request.headers['x-forwarded-host'], host);
    assert.match(request.headers['x-auth-request-id'], /^[0-9a-f]{32}$/);

    const caller = verifyAtOrigin(request);
    assert.deepEqual(caller, { userId: request.headers['x-auth-user-id'], tokenId: token.id, requestId: request.headers['x-auth-request-id'] });
    assert.equal(verifyAtOrigin({ ...request, method: 'GET' }), null);
    assert.equal(verifyGatewayRequest({ method: request.method, pathAndQuery: request.url, headers: request.headers }, { secret: 'wrong', host, seen: new RequestIdMemory() }), null);
  });

  test('every forwarded request has its own id, and a replayed one is refused', async () => {
    const memory = new RequestIdMemory();
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await fetch(`${worker.base}/v1/same`, { headers: { Authorization: `Bearer ${token.token}` } })).status, 207);
    }
    const requests = seen.slice(-3);
    assert.equal(new Set(requests.map((r) => r.headers['x-auth-request-id'])).size, 3);
    for (const request of requests) assert.ok(verifyAtOrigin(request, memory));
    assert.equal(verifyAtOrigin(requests[0], memory), null, 'the same signed headers, seen twice');
    // Signed for this host only: an origin serving another host refuses it.
    const elsewhere = verifyGatewayRequest({ method: 'GET', pathAndQuery: '/v1/same', headers: requests[1].headers }, { secret: SECRET, host: 'api.other.example', seen: new RequestIdMemory() });
    assert.equal(elsewhere, null);
  });

  test("forwarded requests bypass Cloudflare's cache (cache: no-store)", async () => {
    // workerd marks a no-store subrequest with these two headers; the client sent neither.
    const answers = [];
    for (const bearer of [token.token, token.token]) {
      const res = await fetch(`${worker.base}/v1/cacheable`, { headers: { Authorization: `Bearer ${bearer}` } });
      assert.equal(res.status, 207);
      answers.push(await res.json());
      const request = seen.at(-1);
      assert.equal(request.headers['cache-control'], 'no-cache');
      assert.equal(request.headers.pragma, 'no-cache');
    }
    assert.equal(seen.filter((r) => r.url === '/v1/cacheable').length, 2, 'each request reached the origin');
  });

  test('headers that claim identity, address, method or URL are stripped however they are spelled', async () => {
    const smuggled = {
      X_Auth_User_Id: 'usr_spoofed',
      'x_auth-token_id': 'tok_spoofed',
      Forwarded: 'for=10.0.0.1;host=evil.example',
      'X-Forwarded-For': '10.0.0.1',
      'X-Forwarded-Host': 'evil.example',
      'X_Forwarded_Proto': 'gopher',
      'X-Real-IP': '10.0.0.2',
      'True-Client-IP': '10.0.0.3',
      'X-HTTP-Method-Override': 'DELETE',
      'X-Method-Override': 'DELETE',
      'X-HTTP-Method': 'DELETE',
      'X-Original-URL': '/admin',
      'X-Rewrite-URL': '/admin',
      // workerd consumes Connection before the Worker runs (so the Worker cannot see what it
      // names); what matters is that it never reaches the origin, and neither does a
      // stripped header it names.
      Connection: 'keep-alive, X-Real-IP',
      'X-Kept': 'yes',
    };
    const res = await rawRequest(`${worker.base}/v1/smuggle`, { headers: { Authorization: `Bearer ${token.token}`, ...smuggled } });
    assert.equal(res.status, 207, res.body);
    const request = seen.at(-1);
    assert.equal(request.url, '/v1/smuggle');
    const names = Object.keys(request.headers);
    assert.ok(!names.some((n) => n.includes('_')), names.join(' '));
    const gatewaySets = ['x-auth-user-id', 'x-auth-token-id', 'x-forwarded-host', 'x-forwarded-for', 'x-kept', 'connection'];
    for (const name of Object.keys(smuggled)) {
      const normalised = name.toLowerCase().replaceAll('_', '-');
      if (!gatewaySets.includes(normalised)) assert.ok(!names.includes(normalised), `${name} reached the origin`);
    }
    const sent = JSON.stringify(request.headers);
    for (const value of ['spoofed', '10.0.0.', 'evil.example', 'gopher', 'DELETE', '/admin', 'X-Real-IP']) {
      assert.ok(!sent.includes(value), `${value} reached the origin`);
    }
    assert.equal(request.headers['x-kept'], 'yes');
    assert.equal(request.headers['x-auth-user-id'], verifyAtOrigin(request).userId);
    assert.equal(request.headers['x-auth-token-id'], token.id);
    assert.equal(request.headers['x-forwarded-host'], host);
    assert.equal(request.headers['x-forwarded-for'], '127.0.0.1');
  });

  test('methods outside the allowlist are 405 with Allow and never reach the origin', async () => {
    const before = seen.length;
    for (const method of ['PROPFIND', 'TRACE', 'MKCOL']) {
      const res = await rawRequest(`${worker.base}/v1/things`, { method, headers: { Authorization: `Bearer ${token.token}` } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY');
      assert.equal(JSON.parse(res.body).error, 'method_not_allowed');
    }
    assert.equal(seen.length, before);
  });

  test('allowlisted methods are forwarded and signed exactly as received, QUERY with its body', async () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY']) {
      const body = ['GET', 'HEAD'].includes(method) ? undefined : `{"method":"${method}"}`;
      const res = await rawRequest(`${worker.base}/v1/methods`, {
        method, headers: { Authorization: `Bearer ${token.token}`, 'Content-Type': 'application/json' }, body,
      });
      assert.equal(res.status, 207, method);
      const request = seen.at(-1);
      assert.equal(request.method, method);
      assert.equal(request.body.toString(), body ?? '', method);
      assert.ok(verifyAtOrigin(request), method);
      assert.equal(verifyAtOrigin({ ...request, method: method === 'GET' ? 'HEAD' : 'GET' }), null, method);
    }
  });

  test('an invalid token never reaches the origin', async () => {
    const before = seen.length;
    const res = await fetch(`${worker.base}/v1/things`, { headers: { Authorization: `Bearer ${vectors[8].token}` } });
    assert.equal(res.status, 401);
    assert.equal(seen.length, before);
  });
});
