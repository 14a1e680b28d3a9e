// How an origin API verifies that a request came through patgate (Node.js, no dependencies).
// README.md explains the canonical string; tests/e2e/gateway.test.mjs runs this exact file.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_SKEW_SECONDS = 300;
const TIMESTAMP = /^\d{1,12}$/;
const REQUEST_ID = /^[0-9a-f]{32}$/;
// Exactly what the gateway sends. Buffer.from(text, 'hex') would stop at the first bad
// character and accept a good signature followed by anything.
const SIGNATURE = /^[0-9a-f]{64}$/;

/**
 * The request ids this process has accepted, each kept until its timestamp is too old to pass
 * the skew check anyway. An origin that runs several instances shares this in its own store
 * instead (for example Redis: `SET patgate:<id> 1 NX EX 600`, accepted when it answers OK).
 */
export class RequestIdMemory {
  #forgetAt = new Map();

  /** True the first time `requestId` is seen, false for a replay. */
  firstUse(requestId, forgetAtSeconds, nowSeconds) {
    // Ids arrive in about the order they expire: forget from the oldest until one is still due.
    for (const [id, at] of this.#forgetAt) {
      if (at >= nowSeconds) break;
      this.#forgetAt.delete(id);
    }
    if (this.#forgetAt.has(requestId)) return false;
    this.#forgetAt.set(requestId, forgetAtSeconds);
    return true;
  }
}

/**
 * @param {object} request   method (as received, e.g. 'GET'), pathAndQuery (e.g. '/v1/things?x=1'),
 *                           headers (lowercase names, as Node's http module gives them)
 * @param {object} options   secret: ORIGIN_SHARED_SECRET; host: the API host clients address
 *                           (e.g. 'api.bahriya.cloud'); seen: a RequestIdMemory or anything with
 *                           its firstUse; nowSeconds: the clock, for tests
 * @returns {{userId: string, tokenId: string, requestId: string} | null}  the caller, or null
 *                           to refuse (401)
 */
export function verifyGatewayRequest({ method, pathAndQuery, headers }, { secret, host, seen, nowSeconds = Date.now() / 1000 }) {
  const timestamp = headers['x-auth-timestamp'];
  const requestId = headers['x-auth-request-id'];
  const forwardedHost = headers['x-forwarded-host'];
  const userId = headers['x-auth-user-id'];
  const tokenId = headers['x-auth-token-id'];
  const signature = headers['x-auth-signature'];
  const fields = [timestamp, requestId, forwardedHost, userId, tokenId, signature];
  if (!fields.every((v) => typeof v === 'string')) return null;
  if (!TIMESTAMP.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return null;
  if (!REQUEST_ID.test(requestId) || !SIGNATURE.test(signature)) return null;
  if (forwardedHost !== host.toLowerCase()) return null;
  const canonical = ['patgate-v2', timestamp, requestId, method, forwardedHost, pathAndQuery, userId, tokenId].join('\n');
  const expected = createHmac('sha256', secret).update(canonical).digest();
  if (!timingSafeEqual(Buffer.from(signature, 'hex'), expected)) return null;
  // Only a genuine signature gets its id remembered, so forged requests cannot fill the memory.
  if (!seen.firstUse(requestId, Number(timestamp) + MAX_SKEW_SECONDS, nowSeconds)) return null;
  return { userId, tokenId, requestId };
}
