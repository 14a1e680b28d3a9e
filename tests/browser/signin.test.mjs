// Signing in the way a user does: in chromium, through the real local OpenID provider, with
// development sign-in switched off as in production. The provider runs on 127.0.0.1 and the
// console on localhost: two sites, so the cookies meet real cross-site redirects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startWorkerWithProvider, verify } from '../e2e/harness.mjs';
import { assertAccessible, launchBrowser, newPage, shot } from './support.mjs';

describe('signing in with the identity provider', () => {
  let local;
  let provider;
  let worker;
  let browser;
  before(async () => {
    local = await startWorkerWithProvider({ devLogin: false });
    ({ worker, provider } = local);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await local?.stop();
  });

  test('click, sign in at the provider, land on the tokens page, create a token, use it', async () => {
    const { context, page, problems } = await newPage(browser, worker.base);
    await page.goto(`${worker.base}/console/#/activity`);
    const signIn = page.getByRole('link', { name: 'Sign in with Local test provider' });
    await signIn.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in (local development)' }).count(), 0);
    assert.equal(await page.getByLabel('Email').count(), 0, 'no development form in this configuration');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Sign in with Local test provider');
    await assertAccessible(page, 'sign-in with the provider');
    await shot(page, '10-sign-in-with-provider');

    await signIn.click();
    await page.getByRole('heading', { name: 'Local test provider' }).waitFor();
    assert.ok(page.url().startsWith(`${provider.issuer}/interaction/`), page.url());
    await shot(page, '11-provider-sign-in');
    await page.getByLabel('Email').fill('Oidc.User@Example.com');
    await page.getByRole('button', { name: 'Continue' }).click();

    // Back in the console, on the page sign-in was asked from, signed in.
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    assert.equal(new URL(page.url()).hash, '#/activity');
    await page.getByText('Signed in').first().waitFor();
    assert.equal(await page.locator('#user-email').textContent(), 'oidc.user@example.com');
    const cookies = await context.cookies(worker.base);
    assert.deepEqual(cookies.map((c) => c.name), ['__Host-patgate_session'], 'the transaction cookie is gone');

    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    await page.getByRole('button', { name: 'Generate new token' }).click();
    const createDialog = page.getByRole('dialog', { name: 'New personal access token' });
    await createDialog.getByLabel('Name').fill('Signed in with OIDC');
    await createDialog.getByRole('button', { name: 'Generate token' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new token' });
    const token = await shown.getByLabel('Token “Signed in with OIDC”').inputValue();
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await page.locator('tr', { hasText: 'Signed in with OIDC' }).waitFor();
    await shot(page, '12-tokens-after-provider-sign-in');

    const verified = await verify(worker.base, token);
    assert.equal(verified.status, 200);
    const { user } = await verified.json();
    assert.equal(user.email, 'oidc.user@example.com');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a failed sign-in ends on the sign-in page with a clear message, and no session', async () => {
    const { context, page, problems } = await newPage(browser, worker.base);
    // A callback this browser never started (a login CSRF): no transaction cookie.
    await page.goto(`${worker.base}/console/auth/callback?code=stolen&state=forged&iss=${encodeURIComponent(provider.issuer)}`);
    const expired = page.getByRole('alert').filter({ hasText: 'Your sign-in took too long, or was started in another browser.' });
    await expired.waitFor();
    assert.equal(new URL(page.url()).search, '', 'the failure code leaves the address once shown');
    assert.ok(!(await page.content()).includes('stolen'), 'the code is never shown');
    await assertAccessible(page, 'failed sign-in');
    await shot(page, '13-sign-in-failed');

    // Cancelling at the provider.
    await page.getByRole('link', { name: 'Sign in with Local test provider' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('alert').filter({ hasText: 'Local test provider did not sign you in (access_denied).' }).waitFor();
    assert.deepEqual((await context.cookies(worker.base)).map((c) => c.name), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
