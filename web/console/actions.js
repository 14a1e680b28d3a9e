// Running API calls from the UI: the one place that decides what a failed call shows.

import { ApiError } from './api.js';
import { showError } from './dom.js';

const SESSION_ENDED = 'Your session has ended. Sign in again to continue.';

let endSession = () => {};

/** Says what to do when a call finds the session ended (app.js returns to sign-in). */
export function onSessionEnded(handler) {
  endSession = handler;
}

/** What to tell the user about a failed call. */
function describeFailure(error) {
  return error instanceof ApiError ? error.message : 'Something went wrong. Try again.';
}

/**
 * Runs an API call (api.js). Never throws: resolves to `{ ok: true, value }`, or to
 * `{ ok: false, error }` once the failure has been dealt with. An ended session (401) returns to
 * sign-in; any other failure is shown by `onError`, else in the page's alert.
 */
export async function attempt(call, { onError = showError } = {}) {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) endSession(SESSION_ENDED);
    else onError(describeFailure(error));
    return { ok: false, error };
  }
}
