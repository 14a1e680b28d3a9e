// `make bench`'s floor for a valid token: one KV read of the token's record and nothing else (no
// token check, no hashing, no JSON, no signature), the record answered as it came on
// /auth/v1/verify, and any other path sent on to ORIGIN_URL as it is. Every Worker that
// validates against KV (and forwards) pays at least this much, so it bounds what any design can
// reach.
export default {
  async fetch(request, env) {
    const record = await env.TOKENS.get(request.headers.get('X-Record-Key'));
    const pathAndQuery = request.url.slice(request.url.indexOf('/', 8));
    if (pathAndQuery === '/auth/v1/verify') {
      return new Response(record, { headers: { 'Content-Type': 'application/json' } });
    }
    return fetch(env.ORIGIN_URL + pathAndQuery, { method: request.method, headers: request.headers, body: request.body });
  },
};
