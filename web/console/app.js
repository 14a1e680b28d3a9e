// The patgate console: sign in, then manage personal access tokens.
// User-supplied text is only ever set with textContent (through `h`), never as HTML.

import { api, ApiError } from './api.js';
import { describeExpiry, formatDate, formatDateTime, relative } from './format.js';

const main = document.getElementById('main');
const alertBox = document.getElementById('alert');
const userMenu = document.getElementById('user-menu');
const userEmail = document.getElementById('user-email');

const EXPIRY_CHOICES = [
  ['7', '7 days'], ['30', '30 days'], ['60', '60 days'], ['90', '90 days'], ['custom', 'Custom…'], ['never', 'No expiration'],
];
const ACTION_TEXT = {
  created: 'Created token',
  renamed: 'Renamed token',
  expiry_changed: 'Changed expiry of',
  deleted: 'Deleted token',
  signed_in: 'Signed in',
  signed_out: 'Signed out',
};

let currentUser = null;

/** Creates an element. Strings among the children become text nodes. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

let uniqueCounter = 0;
const uniqueId = (prefix) => `${prefix}-${(uniqueCounter += 1)}`;

function showError(message) {
  alertBox.textContent = message;
  alertBox.hidden = false;
}

function clearError() {
  alertBox.textContent = '';
  alertBox.hidden = true;
}

/** Runs an API action; an ended session returns to sign-in, other errors are shown. */
async function attempt(action, { onError } = {}) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signedOut('Your session has ended. Sign in again to continue.');
      return undefined;
    }
    const message = error instanceof ApiError ? error.message : 'Something went wrong. Try again.';
    if (onError) onError(message);
    else showError(message);
    return undefined;
  }
}

function render(...nodes) {
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

function focusMain() {
  main.focus({ preventScroll: false });
}

// ---- sign-in -------------------------------------------------------------------------

function signedOut(message) {
  currentUser = null;
  userMenu.hidden = true;
  userMenu.open = false;
  if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
  renderSignIn(message);
}

function renderSignIn(message) {
  clearError();
  const emailId = uniqueId('email');
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const email = h('input', { id: emailId, type: 'email', name: 'email', required: true, autocomplete: 'email', placeholder: 'you@example.com' });
  const form = h('form', {
    class: 'card narrow',
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      const result = await attempt(() => api.devLogin(email.value), {
        onError: (text) => { error.textContent = text; error.hidden = false; email.focus(); },
      });
      if (result) {
        currentUser = result.user;
        location.hash = '#/tokens';
        route();
      }
    },
  },
  h('h1', {}, 'Sign in'),
  message ? h('p', { class: 'notice', role: 'status' }, message) : null,
  h('p', {}, 'Sign in to manage the personal access tokens you use in CI pipelines, scripts and the reis CLI.'),
  h('label', { for: emailId }, 'Email'),
  email,
  error,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in (local development)'),
  h('p', { class: 'muted small' }, 'Local development sign-in. In production you sign in with your platform account.'));
  render(form);
  email.focus();
}

// ---- dialogs -------------------------------------------------------------------------

/** An inline error line for a form. */
function formError() {
  const element = h('p', { class: 'field-error', role: 'alert', hidden: true });
  return {
    element,
    show(text) { element.textContent = text; element.hidden = false; },
    clear() { element.hidden = true; },
  };
}

/** Runs an API action from a dialog: on success closes it and calls `done`, else shows why. */
async function submitFromDialog(dialog, error, action, done) {
  const result = await attempt(action, { onError: error.show });
  if (result) {
    dialog.close();
    done(result);
  }
}

/** Opens a modal dialog and returns focus to the opener when it closes. */
function openDialog(titleText, content, { opener, onClose } = {}) {
  const titleId = uniqueId('dialog-title');
  const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, titleText), content);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected) opener.focus();
    else focusMain();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input, select, button');
  if (first) first.focus();
  return dialog;
}

function expiryFields(initial = '30') {
  const selectId = uniqueId('expiry');
  const customId = uniqueId('custom-days');
  const select = h('select', { id: selectId, name: 'expiry' },
    EXPIRY_CHOICES.map(([value, label]) => h('option', { value, selected: value === initial }, label)));
  const custom = h('input', { id: customId, type: 'number', min: 1, max: 3650, step: 1, inputmode: 'numeric', name: 'days' });
  const customField = h('div', { class: 'field', hidden: initial !== 'custom' }, h('label', { for: customId }, 'Days until expiry (1–3650)'), custom);
  select.addEventListener('change', () => {
    customField.hidden = select.value !== 'custom';
    if (!customField.hidden) custom.focus();
  });
  const note = h('p', { class: 'muted small', id: uniqueId('expiry-note') });
  const updateNote = () => {
    const days = select.value === 'custom' ? Number(custom.value) : Number(select.value);
    note.textContent = select.value === 'never'
      ? 'The token never expires. Prefer an expiry: a leaked token that expires does less harm.'
      : Number.isInteger(days) && days >= 1 && days <= 3650
        ? `The token will expire on ${formatDate(new Date(Date.now() + days * 86_400_000).toISOString())}.`
        : '';
  };
  select.addEventListener('change', updateNote);
  custom.addEventListener('input', updateNote);
  updateNote();
  const fields = h('div', {},
    h('div', { class: 'field' }, h('label', { for: selectId }, 'Expiration'), select),
    customField,
    note);
  /** null for never, a number of days, or throws a message. */
  const value = () => {
    if (select.value === 'never') return null;
    const days = select.value === 'custom' ? Number(custom.value) : Number(select.value);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error('Enter a whole number of days from 1 to 3650.');
    return days;
  };
  return { fields, value, focusCustom: () => custom.focus() };
}

function copyButton(text, label, accessibleName = label) {
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    'aria-label': accessibleName,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied';
      } catch {
        status.textContent = 'Copy failed: select the text and copy it by hand';
      }
    },
  }, label);
  return h('span', { class: 'copy' }, button, status);
}

// ---- tokens --------------------------------------------------------------------------

function openCreateDialog(opener, onCreated) {
  const nameId = uniqueId('name');
  const listId = uniqueId('name-examples');
  const name = h('input', { id: nameId, name: 'name', required: true, maxlength: 100, list: listId, autocomplete: 'off', placeholder: 'e.g. GitHub Actions', 'aria-describedby': `${nameId}-hint` });
  const examples = h('datalist', { id: listId }, ['GitHub Actions', 'Local dev', 'Deploy script', 'Terraform'].map((v) => h('option', { value: v })));
  const expiry = expiryFields('30');
  const error = formError();
  let dialog;
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      error.clear();
      if (!name.value.trim()) {
        error.show('Enter a name, so you can tell this token apart later.');
        name.focus();
        return;
      }
      let days;
      try {
        days = expiry.value();
      } catch (problem) {
        error.show(problem.message);
        expiry.focusCustom();
        return;
      }
      await submitFromDialog(dialog, error, () => api.createToken(name.value, days), onCreated);
    },
  },
  h('div', { class: 'field' },
    h('label', { for: nameId }, 'Name'),
    name,
    examples,
    h('p', { class: 'muted small', id: `${nameId}-hint` }, 'What is this token for? For example “GitHub Actions” or “Local dev”.')),
  expiry.fields,
  h('p', { class: 'muted small' }, 'The token acts with your permissions. It cannot manage tokens.'),
  error.element,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    h('button', { type: 'submit', class: 'primary' }, 'Generate token')));
  dialog = openDialog('New personal access token', form, { opener });
}

function showNewToken(created, opener) {
  const origin = location.origin;
  const snippets = [
    ['reis CLI', `reis auth login --api ${origin} --token ${created.token}`],
    ['Environment variable', `export REIS_API_URL=${origin}\nexport REIS_API_TOKEN=${created.token}`],
    ['HTTP header', `Authorization: Bearer ${created.token}`],
  ];
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
    snippets.map(([title, text]) => h('div', { class: 'snippet' },
      h('div', { class: 'snippet-head' }, h('span', {}, title), copyButton(text, 'Copy', `Copy ${title}`)),
      h('pre', {}, h('code', {}, text)))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'I have copied it')));
  dialog = openDialog('Your new token', content, { opener });
}

function openEditDialog(token, opener, onSaved) {
  const nameId = uniqueId('edit-name');
  const name = h('input', { id: nameId, required: true, maxlength: 100, value: token.name });
  const keep = h('input', { type: 'checkbox', id: uniqueId('keep'), checked: true });
  const expiry = expiryFields('30');
  const expiryBox = h('div', { hidden: true }, expiry.fields);
  keep.addEventListener('change', () => { expiryBox.hidden = keep.checked; });
  const current = describeExpiry(token.expires_at);
  const error = formError();
  let dialog;
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      error.clear();
      const changes = {};
      if (name.value.trim() !== token.name) changes.name = name.value;
      if (!keep.checked) {
        try {
          changes.expires_in_days = expiry.value();
        } catch (problem) {
          error.show(problem.message);
          return;
        }
      }
      if (Object.keys(changes).length === 0) {
        dialog.close();
        return;
      }
      await submitFromDialog(dialog, error, () => api.updateToken(token.id, changes), onSaved);
    },
  },
  h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), name),
  h('div', { class: 'field checkbox' }, keep, h('label', { for: keep.id }, `Keep the current expiry (${current.text})`)),
  expiryBox,
  h('p', { class: 'muted small' }, 'A new expiry is counted from now. Changes apply at once.'),
  error.element,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    h('button', { type: 'submit', class: 'primary' }, 'Save changes')));
  dialog = openDialog(`Edit “${token.name}”`, form, { opener });
}

function openDeleteDialog(token, opener, onDeleted) {
  const error = formError();
  let dialog;
  const content = h('div', {},
    h('p', {}, 'Delete the token ', h('strong', {}, `“${token.name}”`), ` (${token.hint}…)?`),
    h('p', { class: 'warning' }, 'Any pipeline, script or CLI using this token stops working at once. This cannot be undone.'),
    error.element,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', autofocus: true, onclick: () => dialog.close() }, 'Cancel'),
      h('button', {
        type: 'button',
        class: 'danger',
        onclick: () => submitFromDialog(dialog, error, () => api.deleteToken(token.id).then(() => true), onDeleted),
      }, 'Delete token')));
  dialog = openDialog('Delete token', content, { opener });
}

function lastUsedCell(token) {
  if (!token.last_used_at) return h('span', { class: 'muted' }, 'Never used');
  return h('span', { title: formatDateTime(token.last_used_at) },
    relative(token.last_used_at),
    token.last_used_from ? h('span', { class: 'muted' }, ` · ${token.last_used_from}`) : null);
}

function tokenRow(token, refresh) {
  const expiry = describeExpiry(token.expires_at);
  const editButton = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Edit ${token.name}` }, 'Edit');
  const deleteButton = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete ${token.name}` }, 'Delete');
  editButton.addEventListener('click', () => openEditDialog(token, editButton, () => refresh(`Saved “${token.name}”.`)));
  deleteButton.addEventListener('click', () => openDeleteDialog(token, deleteButton, () => refresh(`Deleted “${token.name}”. It no longer works.`)));
  return h('tr', { 'data-token-id': token.id },
    h('th', { scope: 'row', 'data-label': 'Name' }, h('span', { class: 'token-name' }, token.name)),
    h('td', { 'data-label': 'Token' }, h('code', {}, `${token.hint}…`)),
    h('td', { 'data-label': 'Created', title: formatDateTime(token.created_at) }, formatDate(token.created_at)),
    h('td', { 'data-label': 'Expires', title: expiry.title ?? null }, h('span', { class: `tone-${expiry.tone}` }, expiry.text)),
    h('td', { 'data-label': 'Last used' }, lastUsedCell(token)),
    h('td', { class: 'row-actions' }, editButton, deleteButton));
}

async function renderTokens(status) {
  const data = await attempt(() => api.listTokens());
  if (!data) return;
  clearError();
  const createButton = h('button', { type: 'button', class: 'primary' }, 'Generate new token');
  const refresh = (message) => renderTokens(message);
  createButton.addEventListener('click', () => openCreateDialog(createButton, (created) => {
    renderTokens(`Created “${created.name}”.`).then(() => {
      const opener = main.querySelector('.page-head button.primary');
      showNewToken(created, opener);
    });
  }));
  const intro = h('p', { class: 'muted' },
    'Personal access tokens let CI pipelines, scripts and the reis CLI call the API as you. ',
    'A token has your permissions, except managing tokens.');
  const body = data.tokens.length === 0
    ? h('div', { class: 'empty card' },
      h('h2', {}, 'No tokens yet'),
      h('p', {}, 'Generate a token to use the API from GitHub Actions, a deploy script or your terminal. You will see it once, so keep it somewhere safe, such as your CI system’s secrets.'))
    : h('div', { class: 'table-wrap' },
      h('table', { class: 'tokens' },
        h('caption', { class: 'visually-hidden' }, 'Your personal access tokens, newest first'),
        h('thead', {}, h('tr', {}, ['Name', 'Token', 'Created', 'Expires', 'Last used'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
        h('tbody', {}, data.tokens.map((token) => tokenRow(token, refresh)))));
  render(
    h('div', { class: 'page-head' }, h('h1', {}, 'Personal access tokens'), createButton),
    intro,
    status ? h('p', { class: 'notice', role: 'status' }, status) : null,
    body,
  );
  // The control that had focus may have been re-rendered away: keep keyboard users in place.
  if (!document.activeElement || document.activeElement === document.body) focusMain();
}

// ---- activity ------------------------------------------------------------------------

async function renderActivity() {
  const data = await attempt(() => api.audit());
  if (!data) return;
  clearError();
  const list = data.events.length === 0
    ? h('p', { class: 'muted' }, 'No activity yet.')
    : h('ol', { class: 'events' }, data.events.map((event) => h('li', {},
      h('time', { datetime: event.at, title: formatDateTime(event.at) }, relative(event.at)),
      h('span', {}, ACTION_TEXT[event.action] ?? event.action,
        event.token_name ? h('strong', {}, ` “${event.token_name}”`) : null,
        event.detail ? h('span', { class: 'muted' }, ` (${event.detail})`) : null))));
  render(h('h1', {}, 'Activity'), h('p', { class: 'muted' }, 'Sign-ins and changes to your tokens, newest first.'), list);
}

// ---- routing -------------------------------------------------------------------------

async function ensureUser() {
  if (currentUser) return currentUser;
  try {
    currentUser = (await api.me()).user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    showError(error instanceof ApiError ? error.message : 'Could not load your account.');
    return null;
  }
  return currentUser;
}

async function route() {
  const hash = location.hash || '#/tokens';
  if (hash === '#/signin') {
    if (await ensureUser()) {
      location.hash = '#/tokens';
      return;
    }
    renderSignIn();
    return;
  }
  const user = await ensureUser();
  if (!user) {
    if (alertBox.hidden) signedOut();
    return;
  }
  userEmail.textContent = user.email;
  userMenu.hidden = false;
  userMenu.open = false;
  if (hash === '#/activity') await renderActivity();
  else await renderTokens();
  for (const link of userMenu.querySelectorAll('a')) {
    if (link.getAttribute('href') === hash) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await attempt(() => api.logout());
  signedOut('You have signed out.');
});

window.addEventListener('hashchange', () => { route().then(focusMain); });
route();
