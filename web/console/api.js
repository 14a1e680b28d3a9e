// The documented console API (README, "Console API"), and nothing else.
//
// The contract, the same for every function of `api`:
// - on success it resolves to a value, never null or undefined: the JSON object the endpoint
//   documents, or `true` for an endpoint that answers 204 No Content;
// - on any failure it rejects with an ApiError: `status` 0 when the server could not be reached,
//   else the HTTP status, with the server's `code` and `message` when it sent them. An answer
//   that is not the documented one (a 200 where 204 is documented, a body that is not JSON) is
//   a failure too, so "resolved" always means "the server did what was asked".
//
// Views do not call these directly but through `attempt` (actions.js), which turns the rejection
// into an explicit `{ ok: false, error }` result and shows the message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** What an endpoint answers on success: a JSON object, or 204 and no body. */
const JSON_BODY = 'json';
const NO_CONTENT = 'no content';

async function call(method, path, body, expected = JSON_BODY) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    // The custom header and the JSON type are the API's CSRF defences.
    headers['Content-Type'] = 'application/json';
    headers['X-Requested-With'] = 'patgate-console';
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Could not reach patgate. Check your connection and try again.');
  }
  if (expected === NO_CONTENT && response.status === 204) return true;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON: described below by its status.
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? 'http_error', data?.message ?? `The request failed (HTTP ${response.status}).`);
  }
  if (expected === NO_CONTENT || data === null || typeof data !== 'object') {
    throw new ApiError(response.status, 'unexpected_response', `patgate gave an unexpected answer (HTTP ${response.status}). Try again.`);
  }
  return data;
}

export const api = {
  signInMethods: () => call('GET', '/console/auth/methods'),
  devLogin: (email) => call('POST', '/console/auth/dev-login', { email }),
  logout: () => call('POST', '/console/auth/logout', undefined, NO_CONTENT),
  me: () => call('GET', '/console/api/me'),
  listTokens: () => call('GET', '/console/api/tokens'),
  createToken: (name, expiresInDays) => call('POST', '/console/api/tokens', { name, expires_in_days: expiresInDays }),
  updateToken: (id, changes) => call('PATCH', `/console/api/tokens/${encodeURIComponent(id)}`, changes),
  deleteToken: (id) => call('DELETE', `/console/api/tokens/${encodeURIComponent(id)}`, undefined, NO_CONTENT),
  revokeAllTokens: () => call('POST', '/console/api/tokens/revoke-all'),
  regenerateToken: (id, expiresInDays) => call('POST', `/console/api/tokens/${encodeURIComponent(id)}/regenerate`, { expires_in_days: expiresInDays }),
  audit: () => call('GET', '/console/api/audit'),
  notices: () => call('GET', '/console/api/notices'),
  dismissNotice: (id) => call('DELETE', `/console/api/notices/${encodeURIComponent(id)}`, undefined, NO_CONTENT),
};
