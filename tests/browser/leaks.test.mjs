// Leaked tokens in the console (issue 15): the banner at the next sign-in after a secret
// scanner's report, the marked activity, and regenerating a token from its row.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ConsoleClient, startWorker, verify } from '../e2e/harness.mjs';
import { reportBody, startScanner } from '../e2e/scanner.mjs';
import { assertAccessible, devSignIn, launchBrowser, newPage as openPage, shot } from './support.mjs';

const FOUND_AT = 'https://github.com/octo/app/blob/1a2b3c/.github/workflows/deploy.yml';

describe('leaked tokens in the console', () => {
  let worker;
  let scanner;
  let browser;
  before(async () => {
    scanner = await startScanner();
    worker = await startWorker({ vars: { LEAK_KEYS_URL: scanner.url } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
    await scanner?.stop();
  });

  const newPage = (options) => openPage(browser, worker.base, options);

  const signIn = (page, email) => devSignIn(page, worker.base, email);

  test('a reported token: a banner at the next sign-in says which, where, that it is revoked, and what to do', async () => {
    // The token leaks while its owner is away: created, then reported by the scanner.
    const owner = await ConsoleClient.signIn(worker.base, 'leaky@example.com');
    const leaked = await owner.createToken('Deploy pipeline', 30);
    const report = await scanner.report(worker.base, reportBody([leaked.token], { url: FOUND_AT, source: 'commit' }));
    assert.equal(report.status, 200);
    assert.equal((await report.json())[0].label, 'true_positive');
    assert.equal((await verify(worker.base, leaked.token)).status, 401);

    const { context, page, problems } = await newPage();
    await signIn(page, 'leaky@example.com');
    const banner = page.getByRole('region', { name: 'Token “Deploy pipeline” leaked, and was revoked' });
    await banner.waitFor();
    const text = await banner.textContent();
    for (const part of ['GitHub secret scanning', `${leaked.hint}…`, 'in public (commit)', FOUND_AT, 'it no longer works', 'What to do next', 'Generate a new token']) {
      assert.ok(text.includes(part), part);
    }
    assert.equal(await banner.getByRole('link', { name: FOUND_AT }).getAttribute('rel'), 'noopener noreferrer');
    await assertAccessible(page, 'leak banner');
    await shot(page, '20-leak-banner');

    // The activity marks the revocation.
    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    const marked = page.locator('ol.events li.exposed');
    assert.equal(await marked.count(), 1);
    const event = await marked.textContent();
    assert.ok(event.includes('Leaked') && event.includes('Revoked leaked token “Deploy pipeline”'), event);
    assert.ok(event.includes(`revoked automatically: found in public commit at ${FOUND_AT}`), event);
    await assert.doesNotReject(banner.waitFor(), 'the banner stays above every page');
    await assertAccessible(page, 'activity with a leaked token');
    await shot(page, '21-activity-leaked');

    // Back on the tokens: a replacement, named as the leaked one; then the banner is dismissed
    // for good.
    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
    await banner.getByRole('button', { name: 'Generate a replacement' }).click();
    const create = page.getByRole('dialog', { name: 'New personal access token' });
    assert.equal(await create.getByLabel('Name').inputValue(), 'Deploy pipeline');
    await create.getByRole('button', { name: 'Generate token' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new token' });
    const replacement = await shown.getByLabel('Token “Deploy pipeline”').inputValue();
    assert.equal((await verify(worker.base, replacement)).status, 200);
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByText('Created “Deploy pipeline”.').waitFor();
    await banner.getByRole('button', { name: 'Dismiss the notice about Deploy pipeline' }).click();
    await banner.waitFor({ state: 'detached' });
    assert.equal(await page.locator('#notices').isHidden(), true);
    await page.reload();
    await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
    assert.equal(await page.locator('#notices [role="region"]').count(), 0, 'dismissed for good');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('regenerate from the row: a new secret shown once, the old one refused', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page, 'regenerate@example.com');
    await page.getByRole('button', { name: 'Generate new token' }).click();
    const create = page.getByRole('dialog', { name: 'New personal access token' });
    await create.getByLabel('Name').fill('Nightly');
    await create.getByRole('button', { name: 'Generate token' }).click();
    const first = page.getByRole('dialog', { name: 'Your new token' });
    const old = await first.getByLabel('Token “Nightly”').inputValue();
    await first.getByRole('button', { name: 'I have copied it' }).click();

    await page.getByRole('button', { name: 'Regenerate Nightly' }).click();
    const dialog = page.getByRole('dialog', { name: 'Regenerate “Nightly”' });
    await dialog.getByText(`The current secret (${old.slice(0, 8)}…) stops working within seconds`).waitFor();
    await dialog.getByLabel('Expiration').selectOption('90');
    await assertAccessible(page, 'regenerate dialog');
    await shot(page, '22-regenerate');
    await dialog.getByRole('button', { name: 'Regenerate token' }).click();
    const shown = page.getByRole('dialog', { name: 'Your regenerated token' });
    const regenerated = await shown.getByLabel('Token “Nightly”').inputValue();
    assert.match(regenerated, /^pat_[0-9A-Za-z]{64}$/);
    assert.notEqual(regenerated, old);
    await shown.getByText('You will not be able to see it again').waitFor();
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    // Focus returns to the row's Regenerate button.
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Regenerate Nightly');
    await page.getByText('Regenerated “Nightly”. Its old secret no longer works.').waitFor();
    const row = page.locator('tr', { hasText: 'Nightly' });
    assert.equal(await row.locator('code').textContent(), `${regenerated.slice(0, 8)}…`);
    assert.equal((await verify(worker.base, old)).status, 401);
    assert.equal((await verify(worker.base, regenerated)).status, 200);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
