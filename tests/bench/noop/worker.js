// Reference Workers in plain JS for `make bench`:
//   GET /            does nothing but answer: the runtime's floor.
//   GET /auth/v1/verify  a minimal JS token check (Bearer parse, SHA-256 with crypto.subtle, one
//                    KV read, JSON parse, expiry check): what patgate's hot path does, minus the
//                    checksum and the strictness, so the two can be compared on equal storage.
const encoder = new TextEncoder();

async function verify(request, env) {
  const match = /^Bearer (pat_[0-9A-Za-z]{64})$/i.exec(request.headers.get('Authorization') ?? '');
  if (!match) return Response.json({ error: 'invalid_token' }, { status: 401 });
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(match[1])));
  const key = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  const stored = await env.TOKENS.get(key);
  if (stored === null) return Response.json({ error: 'invalid_token' }, { status: 401 });
  const record = JSON.parse(stored);
  if (record.expires_at !== null && Date.now() / 1000 >= record.expires_at) {
    return Response.json({ error: 'invalid_token' }, { status: 401 });
  }
  return Response.json({ user: { id: record.user_id, email: record.email }, token: { id: record.token_id, name: record.name } });
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === '/auth/v1/verify') return verify(request, env);
    return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
  },
};
