// The audit log: sign-ins and changes to tokens, newest first. Tokens revoked because they
// leaked are marked.

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
  regenerated: 'Regenerated token',
  revoked_leaked: 'Revoked leaked token',
  revoked_by_holder: 'Revoked by someone who had token',
  revoked_all_by_platform: 'All tokens revoked by the platform',
  signed_in: 'Signed in',
  signed_out: 'Signed out',
};

/** Events about a token that was exposed: marked, so that they stand out in the list. */
const EXPOSED = new Set(['revoked_leaked', 'revoked_by_holder']);

export async function renderActivity() {
  const loaded = await attempt(() => api.audit());
  if (!loaded.ok) return;
  const { events } = loaded.value;
  clearError();
  const list = events.length === 0
    ? h('p', { class: 'muted' }, 'No activity yet.')
    : h('ol', { class: 'events' }, events.map((event) => h('li', { class: EXPOSED.has(event.action) ? 'exposed' : null },
      h('time', { datetime: event.at, title: formatDateTime(event.at) }, relative(event.at)),
      h('span', {},
        EXPOSED.has(event.action) ? h('span', { class: 'badge' }, 'Leaked') : null,
        ACTION_TEXT[event.action] ?? event.action,
        event.token_name ? h('strong', {}, ` “${event.token_name}”`) : null,
        event.detail ? h('span', { class: 'muted' }, ` (${event.detail})`) : null))));
  renderPage('#/activity', h('h1', {}, 'Activity'), h('p', { class: 'muted' }, 'Sign-ins and changes to your tokens, newest first.'), list);
}
