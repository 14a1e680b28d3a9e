// The contract test (`make test-contract`, part of `make test`): schemathesis generates requests
// from docs/openapi.yaml and sends them to the real Worker under workerd, signed in, and checks
// every answer against the document with schemathesis's checks (tests/contract/schemathesis.toml
// says which): no 5xx, documented statuses, headers, content types and bodies, invalid data and
// missing credentials or headers refused, undeclared methods 405.
//
// Sign-out, development sign-in and the admin API's revoke-all run last, on their own: each ends
// the session every other operation runs with (a sign-in replaces a session presented with it;
// revoke-all, which schemathesis can aim at the session's own user with an id it read from
// /console/api/me, ends all of that user's sessions and tokens).
//
// The admin API runs with its secret. Secret-scanning reports are signed by tests/contract/hooks.py
// through a signing endpoint served here with the tests' own scanner (tests/e2e/scanner.mjs),
// whose keys the Worker fetches from LEAK_KEYS_URL.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';

import { CSRF, ConsoleClient, ROOT, TEST_SECRETS, startWorker } from '../e2e/harness.mjs';
import { startScanner } from '../e2e/scanner.mjs';

const SCHEMATHESIS = join(ROOT, '.venv', 'contract', 'bin', 'schemathesis');
// One client address sends everything here: lift the per-address limits (tests/e2e/limits.test.mjs
// covers them), so that answers are about the requests, not their number.
const LIFTED = 1_000_000;

/** Signs what hooks.py sends it, with the scanner's key: `{key_identifier, signature_hex}`. */
async function startSigner(scanner) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const signed = { key_identifier: scanner.keyId, signature_hex: scanner.sign(body).toString('hex') };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(signed));
    });
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  return { url: `http://127.0.0.1:${server.address().port}/sign`, stop: () => new Promise((r) => { server.close(r); }) };
}

function schemathesis(worker, session, token, signer, filter) {
  const args = [
    '--config-file', join(ROOT, 'tests/contract/schemathesis.toml'),
    'run', join(ROOT, 'docs/openapi.yaml'), '--url', worker.base,
    '--max-redirects', '0', '--workers', '1', '--request-timeout', '10',
    '--max-examples', process.env.CONTRACT_MAX_EXAMPLES ?? '50',
    '--header', `Origin: ${worker.base}`, '--header', `X-Requested-With: ${CSRF['X-Requested-With']}`,
    '--suppress-health-check', 'too_slow', '--seed', process.env.CONTRACT_SEED ?? '1',
    ...(process.env.CONTRACT_REPORT_DIR ? ['--report', 'har', '--report-dir', process.env.CONTRACT_REPORT_DIR] : []),
    ...filter,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        PATGATE_SESSION: session,
        PATGATE_TOKEN: token,
        PATGATE_ADMIN_SECRET: TEST_SECRETS.ADMIN_API_SECRET,
        PATGATE_SIGNER: signer.url,
        SCHEMATHESIS_HOOKS: 'hooks',
        PYTHONPATH: join(ROOT, 'tests/contract'),
        NO_COLOR: '1',
      },
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

const scanner = await startScanner();
const signer = await startSigner(scanner);
const worker = await startWorker({
  limits: { SIGN_IN_LIMITER: LIFTED, CONSOLE_LIMITER: LIFTED, FAILED_TOKEN_LIMITER: LIFTED, REVOKE_LIMITER: LIFTED },
  vars: { LEAK_KEYS_URL: scanner.url },
});
let status;
try {
  // The token belongs to another user than the session, which schemathesis may use to delete
  // every token it can find.
  const owner = await ConsoleClient.signIn(worker.base, 'contract-token-owner@example.com');
  const { token } = await owner.createToken('contract', null);
  const user = await ConsoleClient.signIn(worker.base, 'contract@example.com');
  const session = user.cookie.slice(user.cookie.indexOf('=') + 1);
  const endsTheSession = ['/console/auth/logout', '/console/auth/dev-login', '/auth/v1/admin/users/{user_id}/revoke-all'];
  status = await schemathesis(worker, session, token, signer, endsTheSession.flatMap((path) => ['--exclude-path', path]));
  if (status === 0) status = await schemathesis(worker, session, token, signer, endsTheSession.flatMap((path) => ['--include-path', path]));
} finally {
  await worker.stop();
  await signer.stop();
  await scanner.stop();
}
process.exit(status ?? 1);
