// The token list, and its dialogs: generate, show once, edit, regenerate, delete, revoke all.

import { attempt } from './actions.js';
import { api } from './api.js';
import { openConfirmDialog, openDialog, openFormDialog, submitFromDialog } from './dialog.js';
import { clearError, copyButton, h, renderPage, uniqueId } from './dom.js';
import { describeExpiry, formatDate, formatDateTime, inDays, relative } from './format.js';
import { EXPIRY_DAYS, EXPIRY_DAYS_LABEL, EXPIRY_DAYS_PROBLEM, TOKEN_NAME_MAX_LENGTH, isValidExpiryDays } from './limits.js';

const EXPIRY_CHOICES = [
  ['7', '7 days'], ['30', '30 days'], ['60', '60 days'], ['90', '90 days'], ['custom', 'Custom…'], ['never', 'No expiration'],
];

// Focus keys (dom.js) of the controls that open dialogs: where focus returns when one closes.
const GENERATE_KEY = 'generate-token';
const REVOKE_ALL_KEY = 'revoke-all';
const editKey = (token) => `edit:${token.id}`;
const regenerateKey = (token) => `regenerate:${token.id}`;
const deleteKey = (token) => `delete:${token.id}`;

/** The expiry choice of a form: a few common periods, a custom number of days, or never. */
function expiryFields(initial = '30') {
  const selectId = uniqueId('expiry');
  const customId = uniqueId('custom-days');
  const select = h('select', { id: selectId, name: 'expiry' },
    EXPIRY_CHOICES.map(([value, label]) => h('option', { value, selected: value === initial }, label)));
  const custom = h('input', { id: customId, type: 'number', min: EXPIRY_DAYS.min, max: EXPIRY_DAYS.max, step: 1, inputmode: 'numeric', name: 'days' });
  const customField = h('div', { class: 'field', hidden: initial !== 'custom' }, h('label', { for: customId }, EXPIRY_DAYS_LABEL), custom);
  const chosenDays = () => Number(select.value === 'custom' ? custom.value : select.value);
  select.addEventListener('change', () => {
    customField.hidden = select.value !== 'custom';
    if (!customField.hidden) custom.focus();
  });
  const note = h('p', { class: 'muted small', id: uniqueId('expiry-note') });
  const updateNote = () => {
    const days = chosenDays();
    note.textContent = select.value === 'never'
      ? 'The token never expires. Prefer an expiry: a leaked token that expires does less harm.'
      : isValidExpiryDays(days) ? `The token will expire on ${formatDate(inDays(days))}.` : '';
  };
  select.addEventListener('change', updateNote);
  custom.addEventListener('input', updateNote);
  updateNote();
  const fields = h('div', {},
    h('div', { class: 'field' }, h('label', { for: selectId }, 'Expiration'), select),
    customField,
    note);
  /**
   * null for never, or a number of days; undefined once `error` (dom.js `formError`) says what is
   * wrong, with focus on the custom number of days.
   */
  const check = (error) => {
    if (select.value === 'never') return null;
    const days = chosenDays();
    if (isValidExpiryDays(days)) return days;
    error.show(EXPIRY_DAYS_PROBLEM);
    custom.focus();
    return undefined;
  };
  return { fields, check };
}

function openCreateDialog(onCreated, { name: initialName = '' } = {}) {
  const nameId = uniqueId('name');
  const listId = uniqueId('name-examples');
  const name = h('input', { id: nameId, name: 'name', required: true, maxlength: TOKEN_NAME_MAX_LENGTH, list: listId, autocomplete: 'off', placeholder: 'e.g. GitHub Actions', 'aria-describedby': `${nameId}-hint`, value: initialName || null });
  const examples = h('datalist', { id: listId }, ['GitHub Actions', 'Local dev', 'Deploy script', 'Terraform'].map((v) => h('option', { value: v })));
  const expiry = expiryFields('30');
  openFormDialog('New personal access token', {
    fields: [
      h('div', { class: 'field' },
        h('label', { for: nameId }, 'Name'),
        name,
        examples,
        h('p', { class: 'muted small', id: `${nameId}-hint` }, 'What is this token for? For example “GitHub Actions” or “Local dev”.')),
      expiry.fields,
      h('p', { class: 'muted small' }, 'The token acts with your permissions. It cannot manage tokens.'),
    ],
    submitLabel: 'Generate token',
    returnFocusTo: GENERATE_KEY,
    onSubmit: async (dialog, error) => {
      if (!name.value.trim()) {
        error.show('Enter a name, so you can tell this token apart later.');
        name.focus();
        return;
      }
      const days = expiry.check(error);
      if (days === undefined) return;
      await submitFromDialog(dialog, error, () => api.createToken(name.value, days), onCreated);
    },
  });
}

/**
 * Ways to use a new token. None contains the token itself: a command line with the token in it
 * ends up in the shell's history, so reis reads it from the clipboard or a file instead.
 */
function usageSnippets(origin) {
  const login = `reis auth login --api ${origin} --with-token`;
  return [
    ['reis CLI, from the clipboard (macOS)', `pbpaste | ${login}`],
    ['reis CLI, from the clipboard (Linux)', `xclip -o -selection clipboard | ${login}`],
    ['reis CLI, from a file', `${login} < token.txt`],
    ['GitHub Actions', [
      '# Store the token as the repository secret REIS_API_TOKEN, then:',
      'env:',
      `  REIS_API_URL: ${origin}`,
      '  REIS_API_TOKEN: ${{ secrets.REIS_API_TOKEN }}',
    ].join('\n')],
    ['HTTP header', 'Authorization: Bearer $REIS_API_TOKEN'],
  ];
}

/**
 * The one time the plaintext is shown, with ways to use it. Focus returns to the control with
 * the focus key `returnFocusTo` (see dom.js).
 */
function showNewToken(created, { title = 'Your new token', returnFocusTo = GENERATE_KEY } = {}) {
  const tokenId = uniqueId('new-token');
  let dialog;
  const content = h('div', {},
    h('p', { class: 'warning', role: 'note' },
      h('strong', {}, 'Copy your token now. '),
      'You will not be able to see it again. If you lose it, delete it and generate a new one.'),
    h('label', { for: tokenId }, `Token “${created.name}”`),
    h('div', { class: 'token-box' },
      h('input', { id: tokenId, class: 'mono', readonly: true, value: created.token, spellcheck: 'false', onfocus: (e) => e.target.select() }),
      copyButton(created.token, 'Copy token')),
    h('h3', {}, 'Use it'),
    h('p', { class: 'muted small' }, 'Copy the token, then let reis read it from the clipboard, or save it in a file or your CI system’s secrets. Never paste it into a command line: it would stay in your shell history.'),
    usageSnippets(location.origin).map(([title, text]) => h('div', { class: 'snippet' },
      h('div', { class: 'snippet-head' }, h('span', {}, title), copyButton(text, 'Copy', `Copy ${title}`)),
      h('pre', {}, h('code', {}, text)))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'I have copied it')));
  dialog = openDialog(title, content, { returnFocusTo });
}

/** Creates a token and shows it once: the page's "Generate new token", and the replacement of a revoked one. */
export function openGenerateDialog(options) {
  openCreateDialog(async (created) => {
    await renderTokens(`Created “${created.name}”.`);
    showNewToken(created);
  }, options);
}

/** A new secret for the token, with a new expiry, shown once; the old secret stops working. */
function openRegenerateDialog(token) {
  const expiry = expiryFields('30');
  openFormDialog(`Regenerate “${token.name}”`, {
    fields: [
      h('p', {}, 'The token keeps its name, and gets a new secret and a new expiry.'),
      h('p', { class: 'warning' }, `The current secret (${token.hint}…) stops working within seconds. Put the new one everywhere the old one is used.`),
      expiry.fields,
    ],
    submitLabel: 'Regenerate token',
    returnFocusTo: regenerateKey(token),
    onSubmit: async (dialog, error) => {
      const days = expiry.check(error);
      if (days === undefined) return;
      await submitFromDialog(dialog, error, () => api.regenerateToken(token.id, days), async (regenerated) => {
        await renderTokens(`Regenerated “${regenerated.name}”. Its old secret no longer works.`);
        showNewToken(regenerated, { title: 'Your regenerated token', returnFocusTo: regenerateKey(token) });
      });
    },
  });
}

function openEditDialog(token, onSaved) {
  const nameId = uniqueId('edit-name');
  const name = h('input', { id: nameId, required: true, maxlength: TOKEN_NAME_MAX_LENGTH, value: token.name });
  const keep = h('input', { type: 'checkbox', id: uniqueId('keep'), checked: true });
  const expiry = expiryFields('30');
  const expiryBox = h('div', { hidden: true }, expiry.fields);
  keep.addEventListener('change', () => { expiryBox.hidden = keep.checked; });
  const current = describeExpiry(token.expires_at);
  openFormDialog(`Edit “${token.name}”`, {
    fields: [
      h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), name),
      h('div', { class: 'field checkbox' }, keep, h('label', { for: keep.id }, `Keep the current expiry (${current.text})`)),
      expiryBox,
      h('p', { class: 'muted small' }, 'A new expiry is counted from now. Changes apply at once.'),
    ],
    submitLabel: 'Save changes',
    returnFocusTo: editKey(token),
    onSubmit: async (dialog, error) => {
      const changes = {};
      if (name.value.trim() !== token.name) changes.name = name.value;
      if (!keep.checked) {
        const days = expiry.check(error);
        if (days === undefined) return;
        changes.expires_in_days = days;
      }
      if (Object.keys(changes).length === 0) {
        dialog.close();
        return;
      }
      await submitFromDialog(dialog, error, () => api.updateToken(token.id, changes), onSaved);
    },
  });
}

function openDeleteDialog(token, onDeleted) {
  // Once the token is deleted its row is gone, and focus falls back to `main`, which the
  // re-rendered page starts with the "Deleted …" notice.
  openConfirmDialog('Delete token', {
    message: [
      h('p', {}, 'Delete the token ', h('strong', {}, `“${token.name}”`), ` (${token.hint}…)?`),
      h('p', { class: 'warning' }, 'Any pipeline, script or CLI using this token stops working within seconds. This cannot be undone.'),
    ],
    confirmLabel: 'Delete token',
    call: () => api.deleteToken(token.id),
    done: onDeleted,
    returnFocusTo: deleteKey(token),
  });
}

const tokensText = (count) => (count === 1 ? '1 token' : `${count} tokens`);

/** Revokes every token at once, after a confirmation that says how many there are. */
function openRevokeAllDialog(count, onRevoked) {
  // Once revoked, the list is empty and the button gone: focus falls back to `main`, which the
  // re-rendered page starts with the "Revoked …" notice.
  openConfirmDialog('Revoke all tokens', {
    message: [
      h('p', {}, 'Revoke ', h('strong', {}, `all ${tokensText(count)}`), '?'),
      h('p', { class: 'warning' }, 'Every pipeline, script and CLI using any of them stops working within seconds. This cannot be undone. Use it when a token may have leaked and you cannot tell which.'),
    ],
    confirmLabel: `Revoke all ${tokensText(count)}`,
    call: () => api.revokeAllTokens(),
    done: onRevoked,
    returnFocusTo: REVOKE_ALL_KEY,
  });
}

function revokeAllSection(count) {
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'revoke-all-heading' },
    h('h2', { id: 'revoke-all-heading' }, 'Revoke all tokens'),
    h('p', { class: 'muted' }, 'If a token may have leaked and you cannot tell which, revoke them all and generate new ones.'),
    h('button', {
      type: 'button',
      class: 'danger',
      'data-focus-key': REVOKE_ALL_KEY,
      onclick: () => openRevokeAllDialog(count, ({ revoked }) => renderTokens(`Revoked ${tokensText(revoked)}. They no longer work.`)),
    }, 'Revoke all tokens…'));
}

function lastUsedCell(token) {
  if (!token.last_used_at) return h('span', { class: 'muted' }, 'Never used');
  return h('span', { title: formatDateTime(token.last_used_at) },
    relative(token.last_used_at),
    token.last_used_from ? h('span', { class: 'muted' }, ` · ${token.last_used_from}`) : null);
}

function tokenRow(token) {
  const expiry = describeExpiry(token.expires_at);
  const editButton = h('button', {
    type: 'button',
    class: 'secondary small',
    'aria-label': `Edit ${token.name}`,
    'data-focus-key': editKey(token),
    onclick: () => openEditDialog(token, (saved) => renderTokens(`Saved “${saved.name}”.`)),
  }, 'Edit');
  const regenerateButton = h('button', {
    type: 'button',
    class: 'secondary small',
    'aria-label': `Regenerate ${token.name}`,
    'data-focus-key': regenerateKey(token),
    onclick: () => openRegenerateDialog(token),
  }, 'Regenerate');
  const deleteButton = h('button', {
    type: 'button',
    class: 'danger small',
    'aria-label': `Delete ${token.name}`,
    'data-focus-key': deleteKey(token),
    onclick: () => openDeleteDialog(token, () => renderTokens(`Deleted “${token.name}”. It no longer works.`)),
  }, 'Delete');
  return h('tr', { 'data-token-id': token.id },
    h('th', { scope: 'row', 'data-label': 'Name' }, h('span', { class: 'token-name' }, token.name)),
    h('td', { 'data-label': 'Token' }, h('code', {}, `${token.hint}…`)),
    h('td', { 'data-label': 'Created', title: formatDateTime(token.created_at) }, formatDate(token.created_at)),
    h('td', { 'data-label': 'Expires', title: expiry.title ?? null }, h('span', { class: `tone-${expiry.tone}` }, expiry.text)),
    h('td', { 'data-label': 'Last used' }, lastUsedCell(token)),
    h('td', { class: 'row-actions' }, editButton, regenerateButton, deleteButton));
}

/** Loads and shows the token list; `status` is a notice about what just happened. */
export async function renderTokens(status) {
  const loaded = await attempt(() => api.listTokens());
  if (!loaded.ok) return;
  const { tokens } = loaded.value;
  clearError();
  const createButton = h('button', {
    type: 'button',
    class: 'primary',
    'data-focus-key': GENERATE_KEY,
    onclick: () => openGenerateDialog(),
  }, 'Generate new token');
  const intro = h('p', { class: 'muted' },
    'Personal access tokens let CI pipelines, scripts and the reis CLI call the API as you. ',
    'A token has your permissions, except managing tokens.');
  const body = tokens.length === 0
    ? h('div', { class: 'empty card' },
      h('h2', {}, 'No tokens yet'),
      h('p', {}, 'Generate a token to use the API from GitHub Actions, a deploy script or your terminal. You will see it once, so keep it somewhere safe, such as your CI system’s secrets.'))
    : h('div', { class: 'table-wrap' },
      h('table', { class: 'tokens' },
        h('caption', { class: 'visually-hidden' }, 'Your personal access tokens, newest first'),
        h('thead', {}, h('tr', {}, ['Name', 'Token', 'Created', 'Expires', 'Last used'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
        h('tbody', {}, tokens.map(tokenRow))));
  renderPage(
    '#/tokens',
    h('div', { class: 'page-head' }, h('h1', {}, 'Personal access tokens'), createButton),
    intro,
    status ? h('p', { class: 'notice', role: 'status' }, status) : null,
    body,
    tokens.length === 0 ? null : revokeAllSection(tokens.length),
  );
}
