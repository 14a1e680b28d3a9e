// The banner about tokens revoked because they leaked (GET /console/api/notices): which token,
// where it was found, that it no longer works, and what to do next. It stands above every page
// until the user dismisses it.

import { attempt } from './actions.js';
import { api } from './api.js';
import { focusMain, h } from './dom.js';
import { formatDateTime } from './format.js';
import { openGenerateDialog } from './tokens-view.js';

const region = document.getElementById('notices');

/** Where the token was, as a link when it is a web address to follow safely. */
function place(notice) {
  if (!notice.url) return null;
  const url = notice.url.startsWith('https://')
    ? h('a', { href: notice.url, rel: 'noopener noreferrer', target: '_blank' }, notice.url)
    : h('span', {}, notice.url);
  return [' at ', url];
}

function what(notice) {
  const token = [h('strong', {}, `“${notice.token_name}”`), ` (${notice.token_hint}…)`];
  const when = formatDateTime(notice.revoked_at);
  if (notice.cause === 'secret_scanning') {
    return {
      title: `Token “${notice.token_name}” leaked, and was revoked`,
      text: [
        'GitHub secret scanning found your token ', ...token, ` in public (${notice.source})`, ...(place(notice) ?? []),
        `. patgate revoked it automatically on ${when}: it no longer works.`,
      ],
    };
  }
  return {
    title: `Token “${notice.token_name}” was revoked by someone who had it`,
    text: [
      'Someone holding your token ', ...token, ` had it revoked on ${when}: it no longer works. `,
      'Whoever did had the token, so treat it as leaked.',
    ],
  };
}

function noticeCard(notice) {
  const { title, text } = what(notice);
  const headingId = `notice-${notice.token_id}`;
  return h('div', { class: 'warning', role: 'region', 'aria-labelledby': headingId, 'data-notice': notice.token_id },
    h('h2', { id: headingId }, title),
    h('p', {}, text),
    h('p', {}, h('strong', {}, 'What to do next:')),
    h('ul', {},
      h('li', {}, 'Generate a new token and put it wherever this one was used (CI secrets, scripts, reis).'),
      h('li', {}, 'Remove the token from where it was found, history included: it is useless now, but it should not stay public.'),
      h('li', {}, 'Check your activity for anything you do not recognise.')),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: () => openGenerateDialog({ name: notice.token_name }),
      }, 'Generate a replacement'),
      h('button', {
        type: 'button',
        class: 'primary',
        'aria-label': `Dismiss the notice about ${notice.token_name}`,
        onclick: () => dismiss(notice),
      }, 'Dismiss')));
}

function show(notices) {
  region.replaceChildren(...notices.map(noticeCard));
  region.hidden = notices.length === 0;
}

async function dismiss(notice) {
  const done = await attempt(() => api.dismissNotice(notice.token_id));
  if (!done.ok) return;
  region.querySelector(`[data-notice="${CSS.escape(notice.token_id)}"]`)?.remove();
  region.hidden = region.childElementCount === 0;
  focusMain();
}

/** Loads the notices of the signed-in user and shows them (or nothing). */
export async function renderNotices() {
  const loaded = await attempt(() => api.notices());
  if (loaded.ok) show(loaded.value.notices);
}

/** Removes the banner (at sign-out). */
export function clearNotices() {
  show([]);
}
