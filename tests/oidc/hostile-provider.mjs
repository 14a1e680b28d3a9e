// An OpenID provider of the tests' own, on loopback, that does whatever a test scripts: serve
// any keys, sign any ID token with any key and algorithm (or none), answer the token
// endpoint late or with an error. Its discovery document and token endpoint are honest
// enough for patgate to reach the ID token; what it signs is up to the test.
import { createHash, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';

export const b64url = (data) => Buffer.from(data).toString('base64url');

/** A fresh signing key: `rsa` (RS256, 2048 bits) or `ec` (ES256, P-256), named `kid`. */
export function makeKey(kind, kid) {
  const { privateKey, publicKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    alg: kind === 'rsa' ? 'RS256' : 'ES256',
    privateKey,
    publicKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' },
  };
}

/**
 * A compact JWS of `claims` with `header`, signed as the header's `alg` says: RS256/ES256
 * with `key`, HS256 with `secret`, `none` not at all.
 */
export function signJws(header, claims, { key, secret } = {}) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let signature;
  switch (header.alg) {
    case 'RS256': signature = sign('sha256', Buffer.from(input), key.privateKey); break;
    case 'ES256': signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }); break;
    case 'HS256': signature = createHmac('sha256', secret).update(input).digest(); break;
    default: signature = Buffer.alloc(0);
  }
  return `${input}.${b64url(signature)}`;
}

/**
 * Starts the provider. `clientId` and `clientSecret` are what patgate must authenticate with.
 * Returns { issuer, jwks (the published keys, settable), fetches (of the keys), tokenRequests,
 * onToken (settable: ({ form }) => ({ status, body, delayMs })), stop }.
 */
export async function startHostileProvider({ clientId, clientSecret }) {
  const provider = {
    jwks: [],
    jwksFetches: 0,
    tokenRequests: [],
    onToken: () => ({ status: 500, body: { error: 'server_error' } }),
  };
  const expectedAuthorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  const json = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, provider.issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      json(res, 200, {
        issuer: provider.issuer,
        authorization_endpoint: `${provider.issuer}/authorize`,
        token_endpoint: `${provider.issuer}/token`,
        jwks_uri: `${provider.issuer}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        authorization_response_iss_parameter_supported: true,
      });
    } else if (url.pathname === '/jwks') {
      provider.jwksFetches += 1;
      json(res, 200, { keys: provider.jwks });
    } else if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = Object.fromEntries(new URLSearchParams(body));
      provider.tokenRequests.push(form);
      // patgate must authenticate as its client and prove the PKCE verifier, as with any
      // real provider; the test checks the challenge against the authorization request.
      if (req.headers.authorization !== expectedAuthorization) {
        json(res, 401, { error: 'invalid_client' });
        return;
      }
      const answer = await provider.onToken({ form });
      if (answer.delayMs) await new Promise((resolve) => { setTimeout(resolve, answer.delayMs); });
      if (!res.destroyed) json(res, answer.status, answer.body);
    } else {
      json(res, 404, { error: 'not_found' });
    }
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  provider.issuer = `http://127.0.0.1:${server.address().port}`;
  provider.stop = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  return provider;
}

/** The PKCE S256 challenge of a verifier. */
export const challengeOf = (verifier) => createHash('sha256').update(verifier).digest('base64url');
