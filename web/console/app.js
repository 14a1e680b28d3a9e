// The patgate console: sign in, then manage personal access tokens.
// This module starts the console, routes between the views (#/signin, #/tokens, #/activity) and
// owns what every view shares: the signed-in user, the user menu in the top bar, and the banner
// about leaked tokens (notices-view.js).

import { onSessionEnded } from './actions.js';
import { renderActivity } from './activity-view.js';
import { api, ApiError } from './api.js';
import { currentPage, focusMain, isShowingError, showError } from './dom.js';
import { clearNotices, renderNotices } from './notices-view.js';
import { renderSignIn, takeSignInFailure } from './signin-view.js';
import { renderTokens } from './tokens-view.js';

const userMenu = document.getElementById('user-menu');
const userEmail = document.getElementById('user-email');

const SIGN_OUT_UNCONFIRMED = 'Sign-out could not be confirmed, so your session may still be active. Try signing out again.';

let currentUser = null;
/** A failed sign-in that sent the browser back here: shown once, on the sign-in page. */
let signInFailure = takeSignInFailure();

/** Shows sign-in; after it, the browser comes back to `page`. */
function showSignIn({ message, retry, page = '#/tokens' } = {}) {
  const failure = signInFailure;
  signInFailure = null;
  renderSignIn({ message, retry, failure, returnTo: `/console/${page}`, onSignedIn });
}

/** Forgets the user and shows sign-in, with `message` saying why (and `retry`, see signin-view.js). */
function signedOut(message, retry) {
  currentUser = null;
  clearNotices();
  userMenu.hidden = true;
  userMenu.open = false;
  const page = currentPage();
  if (page !== '#/signin') history.replaceState(null, '', '#/signin');
  showSignIn({ message, retry, page: page === '#/signin' ? undefined : page });
}

/**
 * Only the server's 204 says that the session is gone. Any other answer, or none, leaves it
 * possibly alive (the cookie too), and the user must not be told otherwise.
 */
async function signOut() {
  const confirmed = await api.logout().then(() => true, () => false);
  if (confirmed) signedOut('You have signed out.');
  else signedOut(SIGN_OUT_UNCONFIRMED, { label: 'Sign out again', run: signOut });
}

function onSignedIn(user) {
  currentUser = user;
  navigate('#/tokens');
}

/** Shows the page at `hash`, rendering it once whether or not the hash changes. */
function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash; // The hashchange listener routes.
}

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
  const hash = currentPage();
  if (hash === '#/signin') {
    if (await ensureUser()) {
      location.hash = '#/tokens';
      return;
    }
    showSignIn();
    return;
  }
  const user = await ensureUser();
  if (!user) {
    // Not signed in: sign-in, unless the account could not be loaded (the alert says why).
    if (!isShowingError()) signedOut();
    return;
  }
  if (hash !== '#/tokens' && hash !== '#/activity') {
    // An unknown page: show the token list, under its own address.
    history.replaceState(null, '', '#/tokens');
  }
  userEmail.textContent = user.email;
  userMenu.hidden = false;
  userMenu.open = false;
  // Tokens revoked because they leaked: the banner above every page, until dismissed.
  renderNotices();
  if (currentPage() === '#/activity') await renderActivity();
  else await renderTokens();
  for (const link of userMenu.querySelectorAll('a')) {
    if (link.getAttribute('href') === hash) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

onSessionEnded(signedOut);

document.getElementById('sign-out').addEventListener('click', signOut);

window.addEventListener('hashchange', () => { route().then(focusMain); });
route();
