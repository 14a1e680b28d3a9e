// A real OpenID provider on loopback for local development (`make dev`) and the tests: npm
// `oidc-provider`, a certified implementation, with one confidential client for patgate.
//
// TEST ONLY. Its signing key is committed (test-only-signing-key.json), and its sign-in page
// accepts any email without a password. Never point a deployed patgate at it.
//
//   node tests/oidc/provider.mjs --port 8788 --redirect-uri http://localhost:8787/console/auth/callback
//
// The client secret comes from OIDC_CLIENT_SECRET (as `make dev` sets it from .dev.vars).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'patgate-local';
const SIGNING_KEY = JSON.parse(readFileSync(new URL('./test-only-signing-key.json', import.meta.url), 'utf8'));
// No form-action: browsers apply it to the redirects that follow the form, back to patgate.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/** The subject for an email: opaque and stable, as a real provider's `sub` is. */
function subjectOf(email) {
  return `sub-${createHash('sha256').update(email).digest('hex').slice(0, 20)}`;
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(uid, clientId, error) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Local test provider</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;font:inherit}input{width:100%;padding:.5rem;margin:.25rem 0 1rem;box-sizing:border-box}
button{padding:.5rem 1rem;margin:.5rem 0}.test{background:#fff3cd;color:#5c4400;padding:.5rem;border-radius:4px}
.error{color:#a00}</style></head>
<body><main>
<h1>Local test provider</h1>
<p class="test">Test only: any email signs in, without a password.</p>
<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
<form method="post" action="/interaction/${escapeHtml(uid)}">
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required autofocus>
<button type="submit">Continue</button>
<button type="submit" formaction="/interaction/${escapeHtml(uid)}/cancel" formnovalidate>Cancel</button>
</form></main></body></html>`;
}

async function formOf(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

/**
 * Starts the provider on `host`:`port` (0: a free port). Returns { issuer, stop }.
 * `redirectUris` are the client's registered redirect URIs.
 */
export async function startLocalProvider({ host = '127.0.0.1', port = 0, redirectUris, clientSecret }) {
  if (!clientSecret) throw new Error('the local provider needs a client secret (OIDC_CLIENT_SECRET)');
  let handle = (req, res) => { res.writeHead(503).end(); };
  const server = createServer((req, res) => handle(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const issuer = `http://${host}:${server.address().port}`;
  const emails = new Map();
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Put the email in the ID token (patgate reads it there), not only behind userinfo.
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const email = emails.get(sub);
      if (!email) return undefined;
      return { accountId: sub, claims: () => ({ sub, email, email_verified: true }) };
    },
    jwks: { keys: [SIGNING_KEY] },
    cookies: { keys: ['test-only-cookie-key-of-the-local-provider'] },
  });
  const oidc = provider.callback();

  handle = async (req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/cancel)?$/.exec(new URL(req.url, issuer).pathname);
    if (!match) {
      oidc(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const clientId = details.params.client_id;
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP });
        res.end(signInPage(details.uid, clientId));
        return;
      }
      if (match[2]) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' });
        return;
      }
      const email = (await formOf(req)).get('email')?.trim() ?? '';
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
        res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP });
        res.end(signInPage(details.uid, clientId, 'Enter an email address.'));
        return;
      }
      const accountId = subjectOf(email.toLowerCase());
      emails.set(accountId, email);
      // patgate is a first-party client: consent is granted with the sign-in.
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope('openid email');
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } });
    } catch (error) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`sign-in failed: ${error.message}`);
    }
  };

  return {
    issuer,
    subjectOf,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8788' },
      host: { type: 'string', default: '127.0.0.1' },
      'redirect-uri': { type: 'string', multiple: true, default: ['http://localhost:8787/console/auth/callback'] },
    },
  });
  const { issuer } = await startLocalProvider({
    host: values.host,
    port: Number(values.port),
    redirectUris: values['redirect-uri'],
    clientSecret: process.env.OIDC_CLIENT_SECRET,
  });
  console.log(`local OpenID provider (test only): ${issuer}`);
}
