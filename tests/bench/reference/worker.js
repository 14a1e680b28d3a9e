// `make bench`'s reference: patgate's hot path written by hand in plain JavaScript, doing the
// same checks so that the two can be compared on equal terms:
//   - the Bearer header and the token's shape (a regex) and checksum (CRC-32, base62);
//   - SHA-256 of the token with WebCrypto, one KV read, the JSON record, its expiry;
//   - GET /auth/v1/verify answers the identity; any other path is forwarded to ORIGIN_URL,
//     signed like patgate (HMAC-SHA256 over the patgate-v2 canonical string, WebCrypto), with
//     the client's body streamed, credentials stripped, caching off and redirects not followed.
const encoder = new TextEncoder();
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TOKEN = /^Bearer (pat_[0-9A-Za-z]{64})$/i;
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function checksumMatches(token) {
  let crc = 0xffffffff;
  for (let i = 4; i < 62; i += 1) crc = CRC_TABLE[(crc ^ token.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  let value = (crc ^ 0xffffffff) >>> 0;
  for (let i = 67; i >= 62; i -= 1) {
    if (token[i] !== ALPHABET[value % 62]) return false;
    value = Math.floor(value / 62);
  }
  return true;
}

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
// Patgate's answers, byte for byte: the same body and the same headers cost the same to send.
const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
const refused = () => new Response('{"error":"invalid_token","message":"the access token is invalid, expired or revoked"}', {
  status: 401,
  headers: { ...JSON_HEADERS, 'WWW-Authenticate': 'Bearer realm="patgate", error="invalid_token"' },
});
const timestamp = (seconds) => (seconds === null ? null : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'));

async function authenticate(request, env) {
  const match = TOKEN.exec(request.headers.get('Authorization') ?? '');
  if (!match || !checksumMatches(match[1])) return null;
  const key = hex(await crypto.subtle.digest('SHA-256', encoder.encode(match[1])));
  const stored = await env.TOKENS.get(key);
  if (stored === null) return null;
  const record = JSON.parse(stored);
  if (record.v !== 1 || (record.expires_at !== null && Date.now() / 1000 >= record.expires_at)) return null;
  return record;
}

let signingKey;
async function sign(env, canonical) {
  signingKey ??= await crypto.subtle.importKey('raw', encoder.encode(env.ORIGIN_SHARED_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', signingKey, encoder.encode(canonical)));
}

async function forward(request, env, record) {
  const url = new URL(request.url);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const requestId = crypto.randomUUID().replaceAll('-', '');
  const pathAndQuery = url.pathname + url.search;
  const canonical = ['patgate-v2', timestamp, requestId, request.method, url.host, pathAndQuery, record.user_id, record.token_id].join('\n');
  const headers = new Headers(request.headers);
  for (const name of ['Authorization', 'Cookie', 'Host']) headers.delete(name);
  headers.set('X-Forwarded-Host', url.host);
  headers.set('X-Auth-User-Id', record.user_id);
  headers.set('X-Auth-Token-Id', record.token_id);
  headers.set('X-Auth-Timestamp', timestamp);
  headers.set('X-Auth-Request-Id', requestId);
  headers.set('X-Auth-Signature', await sign(env, canonical));
  return fetch(env.ORIGIN_URL + pathAndQuery, { method: request.method, headers, body: request.body, redirect: 'manual', cache: 'no-store' });
}

export default {
  async fetch(request, env) {
    const record = await authenticate(request, env);
    if (record === null) return refused();
    if (new URL(request.url).pathname === '/auth/v1/verify') {
      const token = { created_at: timestamp(record.created_at), expires_at: timestamp(record.expires_at), id: record.token_id, name: record.name };
      return new Response(JSON.stringify({ token, user: { email: record.email, id: record.user_id } }), { headers: JSON_HEADERS });
    }
    return forward(request, env, record);
  },
};
