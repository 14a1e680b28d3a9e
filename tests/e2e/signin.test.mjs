// Signing in with OpenID Connect, end to end under workerd: the whole flow against the real
// local provider (oidc-provider), every attack against a hostile provider of the tests' own,
// and WebCrypto against RFC 7515's published signatures. Long because it is the issue's whole
// list of attacks, each in its own test.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { b64url, challengeOf, makeKey, signJws, startHostileProvider } from '../oidc/hostile-provider.mjs';
import { CLIENT_ID } from '../oidc/provider.mjs';
import { CSRF, ROOT, TEST_SECRETS, startWorker, startWorkerWithProvider, verify } from './harness.mjs';

const SESSION = '__Host-patgate_session=';
const TRANSACTION = '__Host-patgate_signin=';

/** A browser as far as these tests need one: cookies per host, redirects followed by hand. */
class CookieBrowser {
  constructor() { this.jars = new Map(); }

  jar(url) {
    const { host } = new URL(url);
    if (!this.jars.has(host)) this.jars.set(host, new Map());
    return this.jars.get(host);
  }

  cookieHeader(url) {
    return [...this.jar(url)].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async fetch(url, init = {}) {
    const cookie = this.cookieHeader(url);
    const headers = { ...init.headers, ...(cookie ? { Cookie: cookie } : {}) };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const setCookie of res.headers.getSetCookie()) {
      const [pair] = setCookie.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1)];
      if (value === '' || /max-age=0/i.test(setCookie)) this.jar(url).delete(name);
      else this.jar(url).set(name, value);
    }
    return res;
  }
}

/** The user id patgate derives for (issuer, subject), computed independently (README). */
function providerUserId(issuer, subject) {
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(Buffer.byteLength(issuer)));
  const digest = createHash('sha256').update('patgate/user-id/oidc/v1\0').update(length)
    .update(issuer).update(subject).digest('hex');
  return `usr_${digest.slice(0, 24)}`;
}

function query(location) {
  return Object.fromEntries(new URL(location, 'http://x').searchParams);
}

describe('sign-in with the local OpenID provider', () => {
  let local;
  let worker;
  let provider;
  before(async () => {
    local = await startWorkerWithProvider({ devLogin: false });
    ({ worker, provider } = local);
  });
  after(() => local?.stop());

  /**
   * Starts a sign-in in `browser` and signs in at the provider as `email` (or cancels there).
   * Returns the callback URL the provider sent the browser back to, not yet visited.
   */
  async function atProvider(browser, email, { returnTo, cancel = false } = {}) {
    const login = `${worker.base}/console/auth/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`;
    let res = await browser.fetch(login);
    assert.equal(res.status, 302);
    let url = res.headers.get('location');
    assert.ok(url.startsWith(`${provider.issuer}/auth?`), url);
    for (let hops = 0; !url.startsWith(`${worker.base}/console/auth/callback`); hops += 1) {
      assert.ok(hops < 10, 'too many redirects');
      if (/^\/interaction\/[\w-]+$/.test(new URL(url).pathname)) {
        const page = await browser.fetch(url);
        assert.match(await page.text(), /Test only: any email signs in/);
        res = await browser.fetch(cancel ? `${url}/cancel` : url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ email }),
        });
      } else {
        res = await browser.fetch(url);
      }
      assert.ok(res.status >= 300 && res.status < 400, `${url}: ${res.status} ${await res.text()}`);
      url = new URL(res.headers.get('location'), url).href;
    }
    return url;
  }

  test('a first sign-in goes through the provider and lands on the console, which works', async () => {
    const browser = new CookieBrowser();
    const callback = await atProvider(browser, 'Grace@Example.com', { returnTo: '/console/#/activity' });
    const params = query(callback);
    assert.ok(params.code && params.state);
    assert.equal(params.iss, provider.issuer);

    const landed = await browser.fetch(callback);
    assert.equal(landed.status, 302);
    assert.equal(landed.headers.get('location'), '/console/#/activity');
    const cookies = landed.headers.getSetCookie();
    assert.ok(cookies.some((c) => c.startsWith(SESSION) && c.includes('SameSite=Strict')));
    assert.ok(cookies.some((c) => c.startsWith(`${TRANSACTION};`) && /max-age=0/i.test(c)));

    const me = await browser.fetch(`${worker.base}/console/api/me`);
    assert.equal(me.status, 200);
    const { user } = await me.json();
    assert.equal(user.email, 'grace@example.com');
    assert.equal(user.id, providerUserId(provider.issuer, provider.subjectOf('grace@example.com')));

    const created = await browser.fetch(`${worker.base}/console/api/tokens`, {
      method: 'POST',
      headers: { ...CSRF, Origin: worker.base, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'From OIDC', expires_in_days: 7 }),
    });
    assert.equal(created.status, 201);
    const { token } = await created.json();
    const verified = await verify(worker.base, token);
    assert.equal(verified.status, 200);
    assert.equal((await verified.json()).user.id, user.id);
  });

  test('a replayed code is refused by the provider, and a used transaction is gone', async () => {
    const browser = new CookieBrowser();
    const callback = await atProvider(browser, 'replay@example.com');
    const transactionCookie = browser.cookieHeader(callback);
    assert.match(transactionCookie, /^__Host-patgate_signin=v1\./);
    assert.equal((await browser.fetch(callback)).status, 302);

    // The same browser again: its transaction cookie was cleared.
    const again = await fetch(callback, { redirect: 'manual', headers: { Cookie: browser.cookieHeader(callback) } });
    assert.equal(again.headers.get('location'), '/console/?sign_in_error=sign_in_expired#/signin');
    // Whoever copied the cookie too: the provider refuses the code a second time.
    const replayed = await fetch(callback, { redirect: 'manual', headers: { Cookie: transactionCookie } });
    assert.equal(replayed.headers.get('location'), '/console/?sign_in_error=code_rejected#/signin');
    for (const res of [again, replayed]) {
      assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith(SESSION)));
    }
    await worker.waitForOutput(/the token endpoint refused the code: 400 invalid_grant/);
  });

  test('cancelling at the provider lands on the sign-in page with its error', async () => {
    const browser = new CookieBrowser();
    const callback = await atProvider(browser, 'cancel@example.com', { cancel: true });
    assert.equal(query(callback).error, 'access_denied');
    const res = await browser.fetch(callback);
    assert.equal(
      res.headers.get('location'),
      '/console/?sign_in_error=provider_denied&provider_error=access_denied#/signin',
    );
    assert.equal((await browser.fetch(`${worker.base}/console/api/me`)).status, 401);
  });
});

/** A hostile provider and a Worker that trusts it, with helpers to play one sign-in. */
async function hostileSetup(keys) {
  const hostile = await startHostileProvider({ clientId: CLIENT_ID, clientSecret: TEST_SECRETS.OIDC_CLIENT_SECRET });
  hostile.jwks = keys;
  // Every attack is a sign-in: the sign-in limit (30 a minute per address) is lifted here.
  const worker = await startWorker({ devLogin: false, limits: { SIGN_IN_LIMITER: 10_000 }, vars: { OIDC_ISSUER: hostile.issuer } });

  /** Starts a sign-in as a browser would: its transaction cookie and authorization request. */
  async function login(search = '') {
    const res = await fetch(`${worker.base}/console/auth/login${search}`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = res.headers.get('location');
    const [cookie] = res.headers.getSetCookie().map((c) => c.split(';')[0]);
    return { cookie, location, params: query(location) };
  }

  /** Claims an honest provider would sign for this sign-in, changed as asked. */
  function claims(params, changes = {}) {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: hostile.issuer, sub: 'hostile-subject-1', aud: CLIENT_ID, exp: now + 300, iat: now,
      nonce: params.nonce, email: 'mallory@example.com', email_verified: true, ...changes,
    };
  }

  /** The token endpoint's next answer: `idToken` (after checking PKCE), late or failing if asked. */
  function answer(params, idToken, { status = 200, delayMs = 0 } = {}) {
    hostile.onToken = ({ form }) => {
      assert.equal(challengeOf(form.code_verifier), params.code_challenge, 'PKCE verifier');
      assert.equal(form.grant_type, 'authorization_code');
      assert.equal(form.redirect_uri, `${worker.base}/console/auth/callback`);
      const body = status === 200 ? { access_token: 'at', token_type: 'Bearer', id_token: idToken } : { error: 'invalid_grant' };
      return { status, body, delayMs };
    };
  }

  /** Delivers the provider's redirect back with `cookie`. */
  async function callback(params, cookie, changes = {}) {
    const search = new URLSearchParams({ code: 'the-code', state: params.state, iss: hostile.issuer });
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) search.delete(name);
      else search.set(name, value);
    }
    return fetch(`${worker.base}/console/auth/callback?${search}`, {
      redirect: 'manual',
      headers: cookie ? { Cookie: cookie } : {},
    });
  }

  /** Asserts that `res` ends on the sign-in page with `code`, and that no session began. */
  function refused(res, code) {
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location'), new RegExp(`^/console/\\?sign_in_error=${code}(&|#)`));
    const cookies = res.headers.getSetCookie();
    assert.ok(!cookies.some((c) => c.startsWith(SESSION)), 'no session cookie');
    assert.ok(cookies.some((c) => c.startsWith(`${TRANSACTION};`)), 'the transaction is cleared');
  }

  async function accepted(res) {
    assert.equal(res.status, 302, await res.text());
    const session = res.headers.getSetCookie().find((c) => c.startsWith(SESSION));
    assert.ok(session, 'a session cookie');
    const me = await fetch(`${worker.base}/console/api/me`, { headers: { Cookie: session.split(';')[0] } });
    assert.equal(me.status, 200);
    return (await me.json()).user;
  }

  return {
    hostile, worker, login, claims, answer, callback, refused, accepted,
    async stop() { await worker.stop(); await hostile.stop(); },
  };
}

describe('attacks, with a hostile provider', () => {
  let s;
  let rsa;
  let ec;
  before(async () => {
    rsa = makeKey('rsa', 'rsa-1');
    ec = makeKey('ec', 'ec-1');
    s = await hostileSetup([rsa.jwk, ec.jwk]);
  });
  after(() => s?.stop());

  /** A sign-in started, and an ID token for it signed as `header` with `key`. */
  async function attempt({ header = { alg: 'RS256', kid: 'rsa-1' }, key = rsa, secret, changes } = {}) {
    const started = await s.login();
    s.answer(started.params, signJws(header, s.claims(started.params, changes), { key, secret }));
    return started;
  }

  test('the hostile provider signs in when it plays fair (RS256 and ES256): the control', async () => {
    const started = await attempt();
    const user = await s.accepted(await s.callback(started.params, started.cookie));
    assert.equal(user.email, 'mallory@example.com');
    assert.equal(user.id, providerUserId(s.hostile.issuer, 'hostile-subject-1'));
    const es = await attempt({ header: { alg: 'ES256', kid: 'ec-1' }, key: ec });
    assert.equal((await s.accepted(await s.callback(es.params, es.cookie))).id, user.id);
  });

  test('a missing or mismatched state', async () => {
    const { params, cookie } = await attempt();
    s.refused(await s.callback(params, cookie, { state: undefined }), 'invalid_response');
    s.refused(await s.callback(params, cookie, { state: `${params.state.slice(1)}A` }), 'invalid_response');
    const other = await s.login();
    s.refused(await s.callback(params, other.cookie), 'invalid_response');
  });

  test('no transaction cookie: a callback opened in another browser (login CSRF)', async () => {
    const { params } = await attempt();
    s.refused(await s.callback(params, undefined), 'sign_in_expired');
    s.refused(await s.callback(params, 'theme=dark'), 'sign_in_expired');
  });

  test('an expired, forged or replayed transaction', async () => {
    const { params, cookie } = await attempt();
    // Re-sign the transaction with an expiry in the past, with the real COOKIE_SECRET, in the
    // documented format (README): only the clock stands in its way.
    const value = cookie.slice(TRANSACTION.length);
    const payload = JSON.parse(Buffer.from(value.split('.')[1], 'base64url'));
    const signed = `v1.${b64url(JSON.stringify({ ...payload, expires_at: Math.floor(Date.now() / 1000) - 1 }))}`;
    const mac = createHmac('sha256', TEST_SECRETS.COOKIE_SECRET)
      .update('patgate/signin-transaction\0').update(signed).digest('base64url');
    s.refused(await s.callback(params, `${TRANSACTION}${signed}.${mac}`), 'sign_in_expired');
    const forged = `${TRANSACTION}${signed}.${createHmac('sha256', 'another secret').update(signed).digest('base64url')}`;
    s.refused(await s.callback(params, forged), 'invalid_response');
    // The genuine cookie still works once; the browser then no longer has it.
    const first = await s.callback(params, cookie);
    await s.accepted(first);
    const left = first.headers.getSetCookie().find((c) => c.startsWith(TRANSACTION));
    assert.match(left, /^__Host-patgate_signin=; .*Max-Age=0/);
    s.refused(await s.callback(params, undefined), 'sign_in_expired');
  });

  test('a wrong nonce, alg none, and HS256 keyed with the RSA public key', async () => {
    let started = await attempt({ changes: { nonce: 'not-this-sign-ins-nonce' } });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    started = await attempt({ header: { alg: 'none' } });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    started = await attempt({ header: { alg: 'HS256', kid: 'rsa-1' }, secret: publicPem });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    started = await attempt({ header: { alg: 'RS256', kid: 'rsa-1' }, key: makeKey('rsa', 'rsa-1') });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    await s.worker.waitForOutput(/ID token refused: the ID token's nonce is not the sign-in's/);
    await s.worker.waitForOutput(/ID token refused: the JWS alg is not RS256 or ES256/);
    await s.worker.waitForOutput(/ID token refused: the JWS signature does not verify/);
  });

  test('a wrong iss, a wrong aud, an expired token, a future iat, an unverified email', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [changes, code, why] of [
      [{ iss: 'https://evil.example' }, 'id_token_rejected', /iss is not the configured issuer/],
      [{ aud: 'another-client' }, 'id_token_rejected', /aud does not contain the client id/],
      [{ aud: [CLIENT_ID, 'another-client'] }, 'id_token_rejected', /azp is not the client id/],
      [{ exp: now - 120, iat: now - 400 }, 'id_token_rejected', /has expired/],
      [{ iat: now + 3600 }, 'id_token_rejected', /iat is in the future/],
      [{ email_verified: false }, 'email_not_verified', /email_verified is not true/],
      [{ email: undefined }, 'email_not_verified', /has no email/],
    ]) {
      const started = await attempt({ changes });
      const mark = s.worker.output().length;
      s.refused(await s.callback(started.params, started.cookie), code);
      await s.worker.waitForOutput(why, mark);
    }
    const started = await attempt();
    s.refused(await s.callback(started.params, started.cookie, { iss: 'https://evil.example' }), 'invalid_response');
    s.refused(await s.callback(started.params, started.cookie, { iss: undefined }), 'invalid_response');
  });

  test("the provider's error parameter is shown only when it is an OAuth error code", async () => {
    const { params, cookie } = await attempt();
    const denied = await s.callback(params, cookie, { code: undefined, error: 'access_denied' });
    s.refused(denied, 'provider_denied');
    assert.equal(query(denied.headers.get('location')).provider_error, 'access_denied');
    const odd = await s.callback(params, cookie, { code: undefined, error: 'Call +1 555 0100 now' });
    s.refused(odd, 'provider_denied');
    assert.equal(query(odd.headers.get('location')).provider_error, undefined);
  });

  test('a token endpoint that fails, or answers too late', async () => {
    let started = await s.login();
    s.answer(started.params, null, { status: 400 });
    s.refused(await s.callback(started.params, started.cookie), 'code_rejected');
    started = await s.login();
    s.answer(started.params, null, { status: 500 });
    s.refused(await s.callback(started.params, started.cookie), 'code_rejected');
    started = await s.login();
    s.answer(started.params, signJws({ alg: 'RS256', kid: 'rsa-1' }, s.claims(started.params), { key: rsa }), { delayMs: 8000 });
    const began = Date.now();
    s.refused(await s.callback(started.params, started.cookie), 'provider_unreachable');
    assert.ok(Date.now() - began < 7500, 'the Worker gave up after its timeout');
    const log = s.worker.output();
    assert.ok(!log.includes('the-code'), 'the code is never logged');
  });

  test('return_to pointing elsewhere is refused before any sign-in starts', async () => {
    for (const target of ['https://evil.example/console/', '//evil.example/', '/auth/v1/verify', '/console/../auth/v1/verify']) {
      const res = await fetch(`${s.worker.base}/console/auth/login?return_to=${encodeURIComponent(target)}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/console/?sign_in_error=invalid_return_to#/signin');
      assert.deepEqual(res.headers.getSetCookie(), [], target);
    }
  });

  test('an unknown kid makes the Worker fetch the keys once more, then refuse', async () => {
    const unknown = makeKey('rsa', 'rsa-unknown');
    const before = s.hostile.jwksFetches;
    let started = await attempt({ header: { alg: 'RS256', kid: 'rsa-unknown' }, key: unknown });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    assert.equal(s.hostile.jwksFetches, before + 1);
    started = await attempt({ header: { alg: 'RS256', kid: 'rsa-unknown' }, key: unknown });
    s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
    assert.equal(s.hostile.jwksFetches, before + 1, 'at most one refetch a minute');
  });

  test('every answer of the failed sign-ins above kept the code and tokens out of the log', () => {
    const log = s.worker.output();
    assert.ok(!/eyJ[\w-]+\.eyJ/.test(log), 'no JWS in the log');
    assert.ok(!log.includes('the-code'));
  });
});

describe('key rotation at the provider', () => {
  let s;
  after(() => s?.stop());

  test('a new key is accepted after one refetch of the keys, without a redeploy', async () => {
    const old = makeKey('rsa', 'old');
    const next = makeKey('ec', 'next');
    s = await hostileSetup([old.jwk]);
    let started = await s.login();
    s.answer(started.params, signJws({ alg: 'RS256', kid: 'old' }, s.claims(started.params), { key: old }));
    await s.accepted(await s.callback(started.params, started.cookie));
    assert.equal(s.hostile.jwksFetches, 1);

    s.hostile.jwks = [next.jwk];
    started = await s.login();
    s.answer(started.params, signJws({ alg: 'ES256', kid: 'next' }, s.claims(started.params), { key: next }));
    await s.accepted(await s.callback(started.params, started.cookie));
    assert.equal(s.hostile.jwksFetches, 2);
  });
});

describe("WebCrypto against RFC 7515's published signatures (A.2 RS256, A.3 ES256)", () => {
  const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/rfc7515-jws.json'), 'utf8'));
  let s;
  before(async () => { s = await hostileSetup(vectors.cases.map((c) => c.jwk)); });
  after(() => s?.stop());

  for (const vector of vectors.cases) {
    test(`${vector.appendix}: the published signature verifies, and one changed bit does not`, async () => {
      // The RFC's claims are no ID token (iss "joe", no sub, aud or iat): a verified signature
      // shows as a refusal of the claims, a bad one as a refusal of the signature.
      const why = async (idToken) => {
        const started = await s.login();
        s.answer(started.params, idToken);
        const mark = s.worker.output().length;
        s.refused(await s.callback(started.params, started.cookie), 'id_token_rejected');
        return (await s.worker.waitForOutput(/ID token refused: ([^\n\x1b]*)/, mark))[1];
      };
      assert.equal(await why(vector.jws), "the ID token's claims are malformed");
      const [input, signature] = [vector.jws.slice(0, vector.jws.lastIndexOf('.')), vector.jws.split('.')[2]];
      const bytes = Buffer.from(signature, 'base64url');
      bytes[bytes.length - 1] ^= 1;
      assert.equal(await why(`${input}.${bytes.toString('base64url')}`), 'the JWS signature does not verify');
    });
  }
});
