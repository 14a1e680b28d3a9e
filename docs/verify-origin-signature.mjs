// How an origin API verifies that a request came through patgate (Node.js, no dependencies).
// README.md explains the canonical string; tests/e2e/gateway.test.mjs runs this exact file.
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAX_SKEW_SECONDS = 300;

/**
 * @param {object} request  method (e.g. 'GET'), pathAndQuery (e.g. '/v1/things?x=1'),
 *                          headers (lowercase names, as Node's http module gives them)
 * @param {string} secret   ORIGIN_SHARED_SECRET
 * @returns {{userId: string, tokenId: string} | null}  the caller, or null to refuse (401)
 */
export function verifyGatewayRequest({ method, pathAndQuery, headers }, secret, nowSeconds = Date.now() / 1000) {
  const timestamp = headers['x-auth-timestamp'];
  const userId = headers['x-auth-user-id'];
  const tokenId = headers['x-auth-token-id'];
  const signature = headers['x-auth-signature'];
  if (![timestamp, userId, tokenId, signature].every((v) => typeof v === 'string')) return null;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return null;
  const canonical = ['patgate-v1', timestamp, method.toUpperCase(), pathAndQuery, userId, tokenId].join('\n');
  const expected = createHmac('sha256', secret).update(canonical).digest();
  const presented = Buffer.from(signature, 'hex');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
  return { userId, tokenId };
}
