// What the browser tests share: Debian's chromium through playwright-core, axe-core, and
// screenshots in test-artifacts/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT } from '../e2e/harness.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = join(ROOT, 'test-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
};

export const launchBrowser = () => chromium.launch(LAUNCH);

/** Runs axe-core in the page; fails on any serious or critical violation. */
export async function assertAccessible(page, label) {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const serious = results.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], label);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * A page in a fresh context of `browser` for the console at `base`, and the problems it
 * reports: page errors, unexpected dialogs, and console errors other than refused requests
 * (expected API refusals, such as 401 before sign-in, are logged as resource errors).
 */
export async function newPage(browser, base, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 850 }, ...options });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('dialog', (dialog) => { problems.push(`unexpected browser dialog: ${dialog.message()}`); dialog.dismiss(); });
  return { context, page, problems };
}

/** Signs in at `base` with development sign-in, and waits for the token list. */
export async function devSignIn(page, base, email) {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Sign in (local development)' }).click();
  await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
}
