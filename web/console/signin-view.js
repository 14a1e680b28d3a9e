// Sign-in (local development sign-in; a real deployment signs in with the platform's account).

import { attempt } from './actions.js';
import { api } from './api.js';
import { clearError, formError, h, render, uniqueId } from './dom.js';

/** Why the user is here: a status notice, or a warning with a button that runs `retry`. */
function notice(message, retry) {
  if (!message) return null;
  if (!retry) return h('p', { class: 'notice', role: 'status' }, message);
  return h('div', { class: 'warning', role: 'alert' },
    h('p', {}, message),
    h('button', { type: 'button', class: 'secondary', onclick: retry.run }, retry.label));
}

/**
 * Shows the sign-in form, with `message` (if any) saying why the user is here; with `retry`
 * ({ label, run }) the message is a warning that offers to retry what failed.
 * `onSignedIn(user)` takes over once the server has started a session.
 */
export function renderSignIn({ message, retry, onSignedIn }) {
  clearError();
  const emailId = uniqueId('email');
  const error = formError();
  const email = h('input', { id: emailId, type: 'email', name: 'email', required: true, autocomplete: 'email', placeholder: 'you@example.com' });
  const form = h('form', {
    class: 'card narrow',
    onsubmit: async (event) => {
      event.preventDefault();
      error.clear();
      const result = await attempt(() => api.devLogin(email.value), {
        onError: (text) => { error.show(text); email.focus(); },
      });
      if (result.ok) onSignedIn(result.value.user);
    },
  },
  h('h1', {}, 'Sign in'),
  notice(message, retry),
  h('p', {}, 'Sign in to manage the personal access tokens you use in CI pipelines, scripts and the reis CLI.'),
  h('label', { for: emailId }, 'Email'),
  email,
  error.element,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in (local development)'),
  h('p', { class: 'muted small' }, 'Local development sign-in. In production you sign in with your platform account.'));
  render(form);
  email.focus();
}
