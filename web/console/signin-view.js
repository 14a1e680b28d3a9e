// Sign-in: with the platform's identity provider (a link to GET /console/auth/login, which
// leaves the console), and, only where the deployment enables it, the local-development form.

import { attempt } from './actions.js';
import { api } from './api.js';
import { clearError, formError, h, renderPage, uniqueId } from './dom.js';

/**
 * What a failed sign-in's code means (README, "Console API"): the server sends the browser back
 * here with `?sign_in_error=<code>`, never with any text of its own or the provider's.
 */
const FAILURES = {
  sign_in_expired: () => 'Your sign-in took too long, or was started in another browser. Sign in again.',
  invalid_response: () => 'The answer to this sign-in did not match the sign-in this browser started, so it was refused. Sign in again.',
  provider_denied: (provider, code) => `${provider} did not sign you in${code ? ` (${code})` : ''}.`,
  provider_unreachable: (provider) => `${provider} could not be reached. Try again in a moment.`,
  provider_error: (provider) => `${provider} answered in a way patgate cannot use. If this goes on, tell your administrator.`,
  code_rejected: (provider) => `${provider} did not accept this sign-in. Sign in again.`,
  id_token_rejected: (provider) => `${provider}'s answer could not be verified, so you were not signed in. If this goes on, tell your administrator.`,
  email_not_verified: (provider) => `Your account at ${provider} has no verified email address. Verify it there, then sign in again.`,
  temporarily_unavailable: () => 'patgate is temporarily unavailable. Try again in a moment.',
  invalid_return_to: () => 'That sign-in link pointed outside the console, so it was not followed. Sign in here instead.',
};

/** The ways this deployment offers to sign in; they do not change while the page is open. */
let methods = null;

/**
 * Takes a failed sign-in's code out of the address (so a reload does not show it again) and
 * returns it, or null.
 */
export function takeSignInFailure() {
  const params = new URLSearchParams(location.search);
  const code = params.get('sign_in_error');
  if (!code) return null;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  return { code, providerError: params.get('provider_error') };
}

function describeFailure({ code, providerError }, providerName) {
  const describe = FAILURES[code] ?? (() => 'Sign-in failed. Try again.');
  return describe(providerName ?? 'The identity provider', providerError);
}

/** Why the user is here: a status notice, or a warning (with a button that runs `retry`). */
function notice(message, { warning = false, retry } = {}) {
  if (!message) return null;
  if (!warning && !retry) return h('p', { class: 'notice', role: 'status' }, message);
  return h('div', { class: 'warning', role: 'alert' },
    h('p', {}, message),
    retry ? h('button', { type: 'button', class: 'secondary', onclick: retry.run }, retry.label) : null);
}

/** Development sign-in: any email, no password (only where the deployment enables it). */
function developmentForm(onSignedIn) {
  const emailId = uniqueId('email');
  const error = formError();
  const email = h('input', { id: emailId, type: 'email', name: 'email', required: true, autocomplete: 'email', placeholder: 'you@example.com' });
  return h('form', {
    class: 'development',
    onsubmit: async (event) => {
      event.preventDefault();
      error.clear();
      const result = await attempt(() => api.devLogin(email.value), {
        onError: (text) => { error.show(text); email.focus(); },
      });
      if (result.ok) onSignedIn(result.value.user);
    },
  },
  h('h2', {}, 'Local development'),
  h('label', { for: emailId }, 'Email'),
  email,
  error.element,
  h('button', { type: 'submit', class: 'secondary' }, 'Sign in (local development)'),
  h('p', { class: 'muted small' }, 'Any email, no password: this sign-in exists only in local development.'));
}

/**
 * Shows sign-in, with `message` (if any) saying why the user is here; with `retry`
 * ({ label, run }) the message is a warning that offers to retry what failed. `failure` is a
 * failed sign-in from `takeSignInFailure`. `returnTo` is the console page to come back to.
 * `onSignedIn(user)` takes over once development sign-in has started a session.
 */
export async function renderSignIn({ message, retry, failure, returnTo = '/console/', onSignedIn }) {
  clearError();
  if (!methods) {
    const loaded = await attempt(() => api.signInMethods(), { onError: () => {} });
    if (loaded.ok) methods = loaded.value;
  }
  const provider = methods?.provider;
  const login = provider ? `${provider.login_url}?${new URLSearchParams({ return_to: returnTo })}` : null;
  const card = h('div', { class: 'card narrow' },
    h('h1', {}, 'Sign in'),
    failure ? notice(describeFailure(failure, provider?.name), { warning: true }) : notice(message, { retry }),
    h('p', {}, 'Sign in to manage the personal access tokens you use in CI pipelines, scripts and the reis CLI.'),
    login ? h('a', { class: 'button primary', href: login }, `Sign in with ${provider.name}`) : null,
    methods && !provider && !methods.development
      ? notice('Sign-in is not configured on this server. Tell your administrator.', { warning: true })
      : null,
    methods ? null : notice('patgate could not be reached to sign in. Reload the page to try again.', { warning: true }),
    methods?.development ? developmentForm(onSignedIn) : null);
  if (renderPage('#/signin', card)) card.querySelector('a.button, input')?.focus();
}
