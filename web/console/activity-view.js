// The audit log: sign-ins and changes to tokens, newest first.

import { attempt } from './actions.js';
import { api } from './api.js';
import { clearError, h, renderPage } from './dom.js';
import { formatDateTime, relative } from './format.js';

const ACTION_TEXT = {
  created: 'Created token',
  renamed: 'Renamed token',
  expiry_changed: 'Changed expiry of',
  deleted: 'Deleted token',
  revoked_all: 'Revoked all tokens',
  signed_in: 'Signed in',
  signed_out: 'Signed out',
};

export async function renderActivity() {
  const loaded = await attempt(() => api.audit());
  if (!loaded.ok) return;
  const { events } = loaded.value;
  clearError();
  const list = events.length === 0
    ? h('p', { class: 'muted' }, 'No activity yet.')
    : h('ol', { class: 'events' }, events.map((event) => h('li', {},
      h('time', { datetime: event.at, title: formatDateTime(event.at) }, relative(event.at)),
      h('span', {}, ACTION_TEXT[event.action] ?? event.action,
        event.token_name ? h('strong', {}, ` “${event.token_name}”`) : null,
        event.detail ? h('span', { class: 'muted' }, ` (${event.detail})`) : null))));
  renderPage('#/activity', h('h1', {}, 'Activity'), h('p', { class: 'muted' }, 'Sign-ins and changes to your tokens, newest first.'), list);
}
