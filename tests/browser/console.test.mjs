// The console in a real browser: Debian's chromium driven by playwright-core.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startWorker, verify } from '../e2e/harness.mjs';
import { assertAccessible, devSignIn, launchBrowser, newPage as openPage, shot } from './support.mjs';

describe('web console', () => {
  let worker;
  let browser;
  before(async () => {
    worker = await startWorker();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
  });

  const newPage = (options) => openPage(browser, worker.base, options);

  const signIn = (page, email) => devSignIn(page, worker.base, email);

  test('sign in, create, copy, use, rename, re-date, delete: the token is refused', async () => {
    const { context, page, problems } = await newPage();
    await page.goto(`${worker.base}/console`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await assertAccessible(page, 'sign-in');
    await shot(page, '01-sign-in');

    await signIn(page, 'browser@example.com');
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    await assertAccessible(page, 'empty state');
    await shot(page, '02-empty');

    await page.getByRole('button', { name: 'Generate new token' }).click();
    const createDialog = page.getByRole('dialog', { name: 'New personal access token' });
    await createDialog.getByLabel('Name').fill('GitHub Actions');
    await createDialog.getByLabel('Expiration').selectOption('7');
    await assertAccessible(page, 'create dialog');
    await createDialog.getByRole('button', { name: 'Generate token' }).click();

    const shown = page.getByRole('dialog', { name: 'Your new token' });
    await shown.waitFor();
    const token = await shown.getByLabel('Token “GitHub Actions”').inputValue();
    assert.match(token, /^pat_[0-9A-Za-z]{64}$/);
    await assert.doesNotReject(shown.getByText('You will not be able to see it again').waitFor());
    const snippets = await shown.locator('pre').allTextContents();
    assert.deepEqual(snippets, [
      `pbpaste | reis auth login --api ${worker.base} --with-token`,
      `xclip -o -selection clipboard | reis auth login --api ${worker.base} --with-token`,
      `reis auth login --api ${worker.base} --with-token < token.txt`,
      `# Store the token as the repository secret REIS_API_TOKEN, then:\nenv:\n  REIS_API_URL: ${worker.base}\n  REIS_API_TOKEN: \${{ secrets.REIS_API_TOKEN }}`,
      'Authorization: Bearer $REIS_API_TOKEN',
    ]);
    // A snippet with the token in it would leave the token in shell history or CI logs.
    for (const snippet of snippets) assert.ok(!snippet.includes(token.slice(0, 12)), `no token in: ${snippet}`);
    await shown.getByRole('button', { name: 'Copy token' }).click();
    await shown.getByText('Copied').first().waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await assertAccessible(page, 'token shown once');
    await shot(page, '03-token-shown-once');
    await shown.getByRole('button', { name: 'I have copied it' }).click();

    const verified = await verify(worker.base, token);
    assert.equal(verified.status, 200);
    const row = page.locator('tr', { hasText: 'GitHub Actions' });
    await row.getByText(/Expires in 7 days/).waitFor();
    assert.equal(await row.locator('code').textContent(), `${token.slice(0, 8)}…`);
    await page.reload();
    await page.locator('tr', { hasText: 'GitHub Actions' }).getByText(/ago|just now/).waitFor();
    assert.ok(!(await page.locator('main').textContent()).includes('null'), 'no stray "null" on the page');
    await assertAccessible(page, 'token list');
    await shot(page, '04-list');

    await page.getByRole('button', { name: 'Edit GitHub Actions' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit “GitHub Actions”' });
    await edit.getByLabel('Name').fill('Deploy');
    await edit.getByLabel(/Keep the current expiry/).uncheck();
    await edit.getByLabel('Expiration').selectOption('never');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('tr', { hasText: 'Deploy' }).getByText('Never').waitFor();
    const after = await (await verify(worker.base, token)).json();
    assert.equal(after.token.name, 'Deploy');
    assert.equal(after.token.expires_at, null);

    await page.getByRole('button', { name: 'Delete Deploy' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete token' });
    await confirm.getByText('“Deploy”').waitFor();
    await confirm.getByText('stops working within seconds').waitFor();
    await assertAccessible(page, 'delete confirmation');
    await shot(page, '05-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await page.getByText('Deleted “Deploy”. It no longer works.').waitFor();
    assert.equal((await verify(worker.base, token)).status, 401);

    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    const activity = await page.locator('ol.events').textContent();
    for (const text of ['Deleted token “Deploy”', 'Changed expiry of “Deploy”', 'Renamed token “Deploy”', 'Created token “GitHub Actions”', 'Signed in']) {
      assert.ok(activity.includes(text), text);
    }
    await assertAccessible(page, 'activity');
    await shot(page, '06-activity');

    await page.locator('#user-menu summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  /** The focused element, by its accessible name or id (buttons, main). */
  const focused = (page) => page.evaluate(() => {
    const element = document.activeElement;
    return element.getAttribute('aria-label') || element.id || element.textContent;
  });

  /**
   * Asserts where focus is after a dialog closed: at once, and again once the console has removed
   * the dialog. A role locator stops matching a dialog the moment it closes, when the browser has
   * put focus back itself; the console's own focus return runs on the close event, a moment later.
   */
  async function assertFocusAfterDialog(page, expected) {
    assert.equal(await focused(page), expected, 'as the dialog closes');
    await page.locator('dialog').waitFor({ state: 'detached' });
    assert.equal(await focused(page), expected, 'once the dialog is gone');
  }

  test('a sign-out the server does not confirm is not reported as one', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page, 'leaving@example.com');
    const unconfirmed = 'Sign-out could not be confirmed, so your session may still be active. Try signing out again.';

    await page.route('**/console/auth/logout', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"temporarily_unavailable","message":"the token service is temporarily unavailable; retry shortly"}' }));
    await page.locator('#user-menu summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByRole('alert').getByText(unconfirmed).waitFor();
    assert.equal(await page.getByText('You have signed out.').count(), 0);
    // And it is true: the session still works.
    assert.equal(await page.evaluate(() => fetch('/console/api/me').then((res) => res.status)), 200);
    await assertAccessible(page, 'sign-out unconfirmed');
    await shot(page, '09-sign-out-unconfirmed');

    await page.route('**/console/auth/logout', (route) => route.abort('connectionrefused'));
    const retry = await page.getByRole('button', { name: 'Sign out again' }).elementHandle();
    await retry.click();
    await page.waitForFunction((button) => !button.isConnected, retry); // the page was rendered again
    await page.getByText(unconfirmed).waitFor();
    assert.equal(await page.getByText('You have signed out.').count(), 0);

    await page.unrouteAll();
    await page.getByRole('button', { name: 'Sign out again' }).click();
    await page.getByText('You have signed out.').waitFor();
    assert.equal(await page.getByText(unconfirmed).count(), 0);
    assert.equal(await page.evaluate(() => fetch('/console/api/me').then((res) => res.status)), 401);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('keyboard: dialogs take focus and give it back', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page, 'keyboard@example.com');
    const generate = page.getByRole('button', { name: 'Generate new token' });
    await generate.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New personal access token' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id.startsWith('name')), true);
    await page.keyboard.type('Local dev');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Generate new token');
    await assertFocusAfterDialog(page, 'Generate new token');

    // Generating re-renders the list under the dialog that shows the token.
    await page.keyboard.press('Enter');
    await page.keyboard.type('Local dev');
    await page.keyboard.press('Enter');
    const shown = page.getByRole('dialog', { name: 'Your new token' });
    await shown.waitFor();
    await page.keyboard.press('Escape');
    await shown.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Generate new token');
    await assertFocusAfterDialog(page, 'Generate new token');

    // Saving re-renders the list: focus goes to the same row's new Edit button.
    await page.getByRole('button', { name: 'Edit Local dev' }).focus();
    await page.keyboard.press('Enter');
    const edit = page.getByRole('dialog', { name: 'Edit “Local dev”' });
    await edit.waitFor();
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'detached' });
    await assertFocusAfterDialog(page, 'Edit Local dev');
    await page.keyboard.press('Enter');
    await edit.getByLabel('Name').fill('Laptop');
    await page.keyboard.press('Enter');
    await page.getByText('Saved “Laptop”.').waitFor();
    await assertFocusAfterDialog(page, 'Edit Laptop');

    // A deleted token's row is gone: focus goes to main, which begins with the notice.
    await page.getByRole('button', { name: 'Delete Laptop' }).focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: 'Delete token' });
    await confirm.waitFor();
    assert.equal(await focused(page), 'Cancel');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    await assertFocusAfterDialog(page, 'Delete Laptop');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByText('Deleted “Laptop”. It no longer works.').waitFor();
    await assertFocusAfterDialog(page, 'main');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('errors are shown, expired sessions return to sign-in, names render as text', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'errors@example.com');

    await page.getByRole('button', { name: 'Generate new token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New personal access token' });
    await dialog.getByLabel('Name').fill('<img src=x onerror=alert(1)>');
    await dialog.getByLabel('Expiration').selectOption('custom');
    await dialog.getByLabel('Days until expiry (1–3650)').fill('4000');
    await dialog.getByRole('button', { name: 'Generate token' }).click();
    await dialog.getByText('Enter a whole number of days from 1 to 3650.').waitFor();
    await dialog.getByLabel('Days until expiry (1–3650)').fill('3');

    await page.route('**/console/api/tokens', (route) => (route.request().method() === 'POST'
      ? route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"temporarily_unavailable","message":"the token service is temporarily unavailable; retry shortly"}' })
      : route.fallback()));
    await dialog.getByRole('button', { name: 'Generate token' }).click();
    await dialog.getByText('the token service is temporarily unavailable; retry shortly').waitFor();
    await page.unroute('**/console/api/tokens');
    await dialog.getByRole('button', { name: 'Generate token' }).click();
    await page.getByRole('dialog', { name: 'Your new token' }).getByRole('button', { name: 'I have copied it' }).click();
    const cell = page.locator('.token-name');
    assert.equal(await cell.textContent(), '<img src=x onerror=alert(1)>');
    assert.equal(await page.locator('table img').count(), 0);
    await page.locator('tr').getByText('Expires in 3 days').waitFor();

    await context.clearCookies();
    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  test('a late answer never replaces the page the user went on to', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page, 'late@example.com');
    await page.getByRole('button', { name: 'Generate new token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New personal access token' });
    await dialog.getByLabel('Name').fill('Slow');
    await dialog.getByRole('button', { name: 'Generate token' }).click();
    await page.getByRole('dialog', { name: 'Your new token' }).getByRole('button', { name: 'I have copied it' }).click();

    // Hold back the list that follows a save, and go to Activity meanwhile.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await page.route('**/console/api/tokens', async (route) => {
      if (route.request().method() === 'GET') await held;
      await route.fallback();
    });
    await page.getByRole('button', { name: 'Edit Slow' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit “Slow”' });
    await edit.getByLabel('Name').fill('Slower');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'detached' });
    await page.goto(`${worker.base}/console/#/activity`);
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    const lateList = page.waitForResponse((r) => r.url().endsWith('/console/api/tokens') && r.request().method() === 'GET');
    release();
    await lateList;
    await page.unroute('**/console/api/tokens');
    // Give the late answer the moment it needs to be rendered, were it going to be.
    await page.evaluate(() => new Promise((resolve) => { setTimeout(resolve, 200); }));
    assert.equal(await page.getByRole('heading', { name: 'Activity' }).count(), 1);
    assert.equal(await page.getByRole('heading', { name: 'Personal access tokens' }).count(), 0);

    // An unknown page shows the token list under its own address.
    await page.goto(`${worker.base}/console/#/nowhere`);
    await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
    assert.equal(new URL(page.url()).hash, '#/tokens');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('revoke all: the confirmation names the count, and every token is refused', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page, 'revoke-all@example.com');
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Revoke all tokens…' }).count(), 0, 'nothing to revoke');
    const tokens = [];
    for (const name of ['Laptop', 'CI']) {
      await page.getByRole('button', { name: 'Generate new token' }).click();
      const dialog = page.getByRole('dialog', { name: 'New personal access token' });
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByRole('button', { name: 'Generate token' }).click();
      const shown = page.getByRole('dialog', { name: 'Your new token' });
      tokens.push(await shown.getByLabel(`Token “${name}”`).inputValue());
      await shown.getByRole('button', { name: 'I have copied it' }).click();
      await page.locator('tr', { hasText: name }).waitFor();
    }
    for (const token of tokens) assert.equal((await verify(worker.base, token)).status, 200);

    await page.getByRole('button', { name: 'Revoke all tokens…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke all tokens' });
    await confirm.locator('strong', { hasText: 'all 2 tokens' }).waitFor();
    await confirm.getByText('stops working within seconds').waitFor();
    await assertAccessible(page, 'revoke-all confirmation');
    await shot(page, '07-revoke-all-confirm');
    // Cancelling changes nothing.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await assertFocusAfterDialog(page, 'Revoke all tokens…');
    for (const token of tokens) assert.equal((await verify(worker.base, token)).status, 200);

    await page.getByRole('button', { name: 'Revoke all tokens…' }).click();
    await confirm.getByRole('button', { name: 'Revoke all 2 tokens' }).click();
    await page.getByText('Revoked 2 tokens. They no longer work.').waitFor();
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    for (const token of tokens) assert.equal((await verify(worker.base, token)).status, 401);

    await page.locator('#user-menu summary').click();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('ol.events').getByText('Revoked all tokens').waitFor();
    assert.ok((await page.locator('ol.events').textContent()).includes('Revoked all tokens (2 tokens)'));
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('phone width in the dark theme', async () => {
    const { context, page, problems } = await newPage({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
    await signIn(page, 'phone@example.com');
    await page.getByRole('button', { name: 'Generate new token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New personal access token' });
    await dialog.getByLabel('Name').fill('Phone');
    await dialog.getByRole('button', { name: 'Generate token' }).click();
    await page.getByRole('dialog', { name: 'Your new token' }).waitFor();
    await shot(page, '07-phone-dark-token');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page scrolls sideways: ${width}px`);
    await assertAccessible(page, 'phone dark list');
    await shot(page, '08-phone-dark-list');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
