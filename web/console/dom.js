// Building the page, the page-wide alert, and keyboard focus.
// User-supplied text is only ever set with textContent (through `h`), never as HTML.

const main = document.getElementById('main');
const alertBox = document.getElementById('alert');

/** Creates an element. Strings among the children become text nodes. */
export function h(tag, attributes = {}, ...children) {
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
/** An id for linking labels and descriptions, unique on the page. */
export const uniqueId = (prefix) => `${prefix}-${(uniqueCounter += 1)}`;

export function showError(message) {
  alertBox.textContent = message;
  alertBox.hidden = false;
}

export function clearError() {
  alertBox.textContent = '';
  alertBox.hidden = true;
}

export const isShowingError = () => !alertBox.hidden;

export function focusMain() {
  main.focus({ preventScroll: false });
}

// Views re-render by replacing elements, so a reference to a control goes stale as soon as
// anything re-renders. A control that focus has to come back to (a dialog's opener) carries a
// focus key instead (`'data-focus-key': …` among its attributes): a name that the next render
// gives to its replacement, such as "the page's primary action" or "the edit button of tok_…".

/** Focuses the live element with this focus key, or `main` when there is none (any more). */
export function focusByKey(key) {
  const target = key ? document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) : null;
  if (target) target.focus();
  else focusMain();
}

/**
 * Replaces the content of `main`. Focus on a control inside it moves to that control's
 * replacement (same focus key), else to `main`, and so does focus that was nowhere: keyboard
 * users never fall back to the top of the page. Focus elsewhere, such as in an open dialog, is
 * left alone.
 */
export function render(...nodes) {
  const focused = document.activeElement;
  const focusWillBeLost = focused && focused !== main && main.contains(focused);
  const key = focusWillBeLost ? focused.dataset.focusKey : undefined;
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
  if (focusWillBeLost || !document.activeElement || document.activeElement === document.body) focusByKey(key);
}

/** The page the address names; the console opens on the token list. */
export function currentPage() {
  return location.hash || '#/tokens';
}

/**
 * Renders `nodes` as `page`, unless the user has moved to another page while it loaded: a late
 * answer (a list refreshed after an edit, say) never replaces the page the user went on to.
 * Returns whether it rendered.
 */
export function renderPage(page, ...nodes) {
  if (currentPage() !== page) return false;
  render(...nodes);
  return true;
}

/** An inline error line for a form. */
export function formError() {
  const element = h('p', { class: 'field-error', role: 'alert', hidden: true });
  return {
    element,
    show(text) { element.textContent = text; element.hidden = false; },
    clear() { element.hidden = true; },
  };
}

/** A button that copies `text`, and says whether that worked. */
export function copyButton(text, label, accessibleName = label) {
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
