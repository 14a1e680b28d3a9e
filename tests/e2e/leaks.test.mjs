// Leaked tokens die on their own (issue 15), end to end under workerd: a secret scanner's
// signed report (the tests' own scanner publishes its keys on loopback, as GitHub does),
// self-service revocation, the admin API's revoke-all, and none of their tokens' plaintext in
// the local state.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, verify as verifySignature } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  ConsoleClient, ROOT, TEST_SECRETS, assertNoPlaintextInState, kvKeys, startWorker, verify,
} from './harness.mjs';
import { otherSignature, reencodings, reportBody, startScanner } from './scanner.mjs';

const golden = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/golden-tokens.json'), 'utf8')).vectors;
// Well-formed tokens (their checksums hold) that no ledger issued.
const unknownTokens = golden.filter((v) => v.token).map((v) => v.token);
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

describe('leaked tokens', () => {
  let worker;
  let scanner;
  let ada;
  // Every token the suite reported, handed in, had revoked by the admin API or regenerated
  // (old and new secrets), for the scan of the local state at the end; and the hashes the
  // ledgers must keep of those they revoked or hold.
  const seen = [];
  const kept = [];
  before(async () => {
    scanner = await startScanner();
    worker = await startWorker({ vars: { LEAK_KEYS_URL: scanner.url } });
    ada = await ConsoleClient.signIn(worker.base, 'ada@example.com');
  });
  after(async () => {
    await worker?.stop();
    await scanner?.stop();
  });

  const audit = async (user) => (await (await user.request('GET', '/console/api/audit')).json()).events;
  const notices = async (user) => (await (await user.request('GET', '/console/api/notices')).json()).notices;

  test('a signed report revokes a live token, labels every match, tells the owner, and a replay changes nothing', async () => {
    const leaked = await ada.createToken('GitHub Actions');
    const laptop = await ada.createToken('laptop');
    seen.push(leaked.token, unknownTokens[0]);
    kept.push(sha256(leaked.token));
    const matches = [leaked.token, unknownTokens[0], 'pat_garbage', 'ghp_not_ours', leaked.token];
    const body = reportBody(matches);
    const res = await scanner.report(worker.base, body);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const labels = await res.json();
    assert.deepEqual(labels, matches.map((token, index) => ({
      token_hash: sha256(token),
      token_type: 'patgate_personal_access_token',
      label: index === 0 || index === 4 ? 'true_positive' : 'false_positive',
    })));
    assert.equal((await verify(worker.base, leaked.token)).status, 401);
    assert.equal((await verify(worker.base, laptop.token)).status, 200);

    const events = await audit(ada);
    assert.equal(events[0].action, 'revoked_leaked');
    assert.equal(events[0].token_id, leaked.id);
    assert.equal(events[0].detail,
      'revoked automatically: found in public commit at https://github.com/octo/app/blob/1a2b3c/.github/workflows/ci.yml');
    const [notice] = await notices(ada);
    assert.deepEqual(notice, {
      token_id: leaked.id,
      token_name: 'GitHub Actions',
      token_hint: leaked.hint,
      cause: 'secret_scanning',
      source: 'commit',
      url: 'https://github.com/octo/app/blob/1a2b3c/.github/workflows/ci.yml',
      revoked_at: notice.revoked_at,
    });

    // The same body with the same signature, again: the same labels, and nothing new.
    const replay = await scanner.report(worker.base, body, { signature: scanner.sign(body) });
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), labels);
    assert.equal((await audit(ada)).length, events.length);
    assert.equal((await notices(ada)).length, 1);

    // Dismissed, the notice is gone; the token stays revoked.
    assert.equal((await ada.request('DELETE', `/console/api/notices/${leaked.id}`)).status, 204);
    assert.deepEqual(await notices(ada), []);
    assert.equal((await ada.request('DELETE', `/console/api/notices/${leaked.id}`)).status, 404);
    assert.equal((await verify(worker.base, leaked.token)).status, 401);
  });

  test('refused unless the signature verifies over the raw body: nothing is revoked', async () => {
    const token = await ada.createToken('deploy');
    seen.push(token.token);
    const body = reportBody([token.token]);
    const der = scanner.sign(body);
    // A valid signature of the very body by the scanner's key, in the raw r‖s form (IEEE P1363)
    // WebCrypto verifies, which the header must not carry: only DER is GitHub's format.
    const raw = scanner.signP1363(body);
    const [published] = (await (await fetch(scanner.url)).json()).public_keys;
    assert.equal(raw.length, 64);
    assert.ok(verifySignature('sha256', Buffer.from(body), { key: published.key, dsaEncoding: 'ieee-p1363' }, raw));
    const refusals = {
      'tampered body': scanner.report(worker.base, body.replace('commit', 'comment'), { signature: der }),
      're-serialized JSON': scanner.report(worker.base, JSON.stringify(JSON.parse(body), null, 2), { signature: der }),
      'no signature': scanner.report(worker.base, body, { signature: null }),
      'no key id': scanner.report(worker.base, body, { keyId: null }),
      'a key id the scanner does not publish': scanner.report(worker.base, body, { keyId: 'another-key', signature: der }),
      "a forger's key under the scanner's key id": scanner.report(worker.base, body, { signature: scanner.forge(body) }),
      'a valid raw r‖s signature instead of DER': scanner.report(worker.base, body, { signature: raw }),
      ...Object.fromEntries(Object.entries(reencodings(der)).map(([name, signature]) => [
        `DER re-encoded (${name})`, scanner.report(worker.base, body, { signature }),
      ])),
    };
    for (const [name, pending] of Object.entries(refusals)) {
      const res = await pending;
      assert.equal(res.status, 401, name);
      assert.equal((await res.json()).error, 'invalid_signature', name);
    }
    assert.equal((await verify(worker.base, token.token)).status, 200, 'nothing revoked');

    // ECDSA's own malleability, (r, n − s): a valid signature of the same report. It is the
    // same report, so it does what the report does, and a second time nothing.
    const first = await scanner.report(worker.base, body, { signature: otherSignature(der) });
    assert.equal(first.status, 200);
    const [label] = await first.json();
    assert.equal(label.label, 'true_positive');
    assert.equal((await verify(worker.base, token.token)).status, 401);
    const events = (await audit(ada)).length;
    const again = await scanner.report(worker.base, body, { signature: der });
    assert.deepEqual(await again.json(), [label]);
    assert.equal((await audit(ada)).length, events);
  });

  test('a report of 1,000 matches is answered in full; a body over 1 MiB is 413', async () => {
    const token = await ada.createToken('one of many');
    seen.push(token.token);
    kept.push(sha256(token.token));
    const matches = [...unknownTokens, ...Array.from({ length: 1000 - unknownTokens.length - 1 }, (_, i) => `pat_noise${i}`), token.token];
    const body = reportBody(matches);
    const res = await scanner.report(worker.base, body);
    assert.equal(res.status, 200);
    const labels = await res.json();
    assert.equal(labels.length, 1000);
    assert.equal(labels.filter((l) => l.label === 'true_positive').length, 1);
    assert.equal(labels[999].label, 'true_positive');
    assert.equal((await verify(worker.base, token.token)).status, 401);

    const huge = reportBody(Array.from({ length: 9000 }, (_, i) => `pat_noise${i}`));
    assert.ok(huge.length > 1024 * 1024);
    const tooLarge = await scanner.report(worker.base, huge);
    assert.equal(tooLarge.status, 413);
    assert.equal((await tooLarge.json()).error, 'payload_too_large');
  });

  test('self-service revocation answers 202 for live, unknown and malformed tokens alike', async () => {
    const live = await ada.createToken('found on a laptop');
    seen.push(live.token, unknownTokens[1]);
    kept.push(sha256(live.token));
    const revoke = (tokens) => fetch(`${worker.base}/auth/v1/revoke`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tokens }),
    });
    const answers = [];
    for (const tokens of [[unknownTokens[1]], ['pat_short', 'not even close'], [live.token], [live.token]]) {
      const res = await revoke(tokens);
      answers.push({ status: res.status, body: await res.text() });
    }
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0].status, 202);
    assert.equal((await verify(worker.base, live.token)).status, 401);
    const holderEvents = (await audit(ada)).filter((e) => e.detail === 'revoked by a holder');
    assert.deepEqual(holderEvents.map((e) => e.token_id), [live.id]);
    assert.equal(holderEvents[0].action, 'revoked_by_holder');
    assert.equal((await notices(ada)).find((n) => n.token_id === live.id).cause, 'holder');

    const tooMany = await revoke(Array.from({ length: 1001 }, () => 'pat_x'));
    assert.equal(tooMany.status, 400);
    assert.match((await tooMany.json()).message, /at most 1000/);
    const notJson = await fetch(`${worker.base}/auth/v1/revoke`, { method: 'POST', body: live.token });
    assert.equal(notJson.status, 400);
    assert.equal((await fetch(`${worker.base}/auth/v1/revoke`)).status, 405);
  });

  test('the admin API revokes every token and ends every session, for its secret only', async () => {
    const bob = await ConsoleClient.signIn(worker.base, 'bob@example.com');
    const tokens = [await bob.createToken('CI'), await bob.createToken('deploy')];
    seen.push(...tokens.map((t) => t.token));
    const admin = (authorization, user = bob.user.id, body = { requested_by: 'offboarding-bot', reason: 'account disabled' }) => fetch(
      `${worker.base}/auth/v1/admin/users/${user}/revoke-all`,
      { method: 'POST', headers: authorization ? { Authorization: authorization } : {}, body: JSON.stringify(body) },
    );
    const refused = await admin('Bearer wrong-secret-0123456789abcdef0123456789');
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate'), /^Bearer realm="patgate-admin"/);
    assert.equal((await admin(undefined)).status, 401);
    const pat = await admin(`Bearer ${tokens[0].token}`);
    assert.equal(pat.status, 403);
    assert.equal((await pat.json()).error, 'insufficient_scope');
    for (const { token } of tokens) assert.equal((await verify(worker.base, token)).status, 200);

    const bearer = `Bearer ${TEST_SECRETS.ADMIN_API_SECRET}`;
    assert.equal((await admin(bearer, 'usr_nope')).status, 404);
    assert.equal((await admin(bearer, bob.user.id, {})).status, 400);
    const res = await admin(bearer);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { revoked: 2, sessions_ended: 1 });
    for (const { token } of tokens) assert.equal((await verify(worker.base, token)).status, 401);
    assert.equal((await bob.request('GET', '/console/api/me')).status, 401, 'the session ended too');
    const again = await ConsoleClient.signIn(worker.base, 'bob@example.com');
    const [event] = (await audit(again)).filter((e) => e.action === 'revoked_all_by_platform');
    assert.equal(event.detail, '2 tokens and 1 session; requested by offboarding-bot: account disabled');
    assert.ok(!worker.output().includes(TEST_SECRETS.ADMIN_API_SECRET));
  });

  test('a report of 150 live tokens of two owners revokes them all, and a replay labels them the same', async () => {
    const owners = await Promise.all(['carol@example.com', 'dave@example.com'].map((email) => ConsoleClient.signIn(worker.base, email)));
    const perOwner = await Promise.all(owners.map(async (owner) => {
      const created = [];
      for (let i = 0; i < 75; i += 1) created.push(await owner.createToken(`runner ${i}`));
      return created;
    }));
    const tokens = perOwner.flat().map((t) => t.token);
    seen.push(...tokens);
    kept.push(...tokens.map(sha256));
    const body = reportBody(tokens);
    const res = await scanner.report(worker.base, body);
    assert.equal(res.status, 200);
    const labels = await res.json();
    assert.deepEqual(labels, tokens.map((token) => ({
      token_hash: sha256(token), token_type: 'patgate_personal_access_token', label: 'true_positive',
    })));
    for (const token of [tokens[0], tokens[74], tokens[75], tokens[149]]) {
      assert.equal((await verify(worker.base, token)).status, 401);
    }
    for (const owner of owners) assert.equal((await notices(owner)).length, 75);

    // Each owner's ledger deleted its tokens' records and left their exposure markers, by which
    // the replay finds the owners again.
    const keys = new Set(await kvKeys(worker));
    for (const hash of tokens.map(sha256)) {
      assert.ok(keys.has(`exposed:${hash}`), `marker of ${hash}`);
      assert.ok(!keys.has(hash), `record of ${hash}`);
    }
    const events = await Promise.all(owners.map(async (owner) => (await audit(owner)).length));
    const replay = await scanner.report(worker.base, body);
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), labels);
    assert.deepEqual(await Promise.all(owners.map(async (owner) => (await audit(owner)).length)), events);
  });

  test('no plaintext of a reported, handed-in, revoked or regenerated token is in the local state', async () => {
    const token = await ada.createToken('to regenerate');
    const res = await ada.request('POST', `/console/api/tokens/${token.id}/regenerate`, { expires_in_days: 30 });
    assert.equal(res.status, 200);
    const regenerated = await res.json();
    seen.push(token.token, regenerated.token);
    kept.push(sha256(regenerated.token));
    assert.ok(seen.length > 150);
    await assertNoPlaintextInState(worker.stateDir, seen, kept);
  });
});
