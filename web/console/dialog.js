// Modal dialogs: they take focus when they open and give it back when they close.

import { attempt } from './actions.js';
import { focusByKey, formError, h, uniqueId } from './dom.js';

/**
 * Opens a modal dialog. When it closes, focus goes to the element that carries the focus key
 * `returnFocusTo` at that moment (see dom.js), not to the element that opened the dialog: the
 * view may have re-rendered meanwhile and replaced it. If the element is gone (its token was
 * deleted), focus goes to `main`.
 *
 * The close event comes a moment after the dialog closes. In between, focus is where the browser
 * put it: back on the element that had it when the dialog opened. render() keeps that element
 * live across re-renders before the dialog opens (dom.js), so focus is right at once, not only
 * after the close event.
 */
export function openDialog(titleText, content, { returnFocusTo } = {}) {
  const titleId = uniqueId('dialog-title');
  const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, titleText), content);
  dialog.addEventListener('close', () => {
    dialog.remove();
    focusByKey(returnFocusTo);
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input, select, button');
  if (first) first.focus();
  return dialog;
}

/**
 * Runs an API call from a dialog. On success it closes the dialog and calls `done` with the
 * call's value; on failure the dialog stays open and `error` (dom.js `formError`) says why.
 */
export async function submitFromDialog(dialog, error, call, done) {
  const result = await attempt(call, { onError: error.show });
  if (result.ok) {
    dialog.close();
    done(result.value);
  }
}

/**
 * Opens a dialog around a form: `fields`, an error line, Cancel and a submit button.
 * `onSubmit(dialog, error)` runs on submit, with the error line cleared; the browser's own
 * validation is off, so that every problem is explained in the error line.
 */
export function openFormDialog(titleText, { fields, submitLabel, onSubmit, returnFocusTo }) {
  const error = formError();
  let dialog;
  const form = h('form', {
    novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      error.clear();
      onSubmit(dialog, error);
    },
  },
  fields,
  error.element,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    h('button', { type: 'submit', class: 'primary' }, submitLabel)));
  dialog = openDialog(titleText, form, { returnFocusTo });
  return dialog;
}

/**
 * Opens a confirmation for something that cannot be undone: `message` (nodes), an error line,
 * Cancel (focused first, so Enter does no harm) and a danger button labelled `confirmLabel`
 * that runs `call` as `submitFromDialog` does.
 */
export function openConfirmDialog(titleText, { message, confirmLabel, call, done, returnFocusTo }) {
  const error = formError();
  let dialog;
  const content = h('div', {},
    message,
    error.element,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', autofocus: true, onclick: () => dialog.close() }, 'Cancel'),
      h('button', { type: 'button', class: 'danger', onclick: () => submitFromDialog(dialog, error, call, done) }, confirmLabel)));
  dialog = openDialog(titleText, content, { returnFocusTo });
  return dialog;
}
