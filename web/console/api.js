// The documented console API (README, "Console API"), and nothing else.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
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
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON: described below by its status.
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? 'http_error', data?.message ?? `The request failed (HTTP ${response.status}).`);
  }
  return data;
}

export const api = {
  devLogin: (email) => call('POST', '/console/auth/dev-login', { email }),
  logout: () => call('POST', '/console/auth/logout'),
  me: () => call('GET', '/console/api/me'),
  listTokens: () => call('GET', '/console/api/tokens'),
  createToken: (name, expiresInDays) => call('POST', '/console/api/tokens', { name, expires_in_days: expiresInDays }),
  updateToken: (id, changes) => call('PATCH', `/console/api/tokens/${encodeURIComponent(id)}`, changes),
  deleteToken: (id) => call('DELETE', `/console/api/tokens/${encodeURIComponent(id)}`),
  audit: () => call('GET', '/console/api/audit'),
};
