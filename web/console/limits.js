// The limits of the console API (README, "Console API"), stated once for every form, label and
// message. The server enforces them; the console checks them only so that a mistake is explained
// before anything is sent.

export const TOKEN_NAME_MAX_LENGTH = 100;

export const EXPIRY_DAYS = Object.freeze({ min: 1, max: 3650 });

export const EXPIRY_DAYS_LABEL = `Days until expiry (${EXPIRY_DAYS.min}–${EXPIRY_DAYS.max})`;

export const EXPIRY_DAYS_PROBLEM = `Enter a whole number of days from ${EXPIRY_DAYS.min} to ${EXPIRY_DAYS.max}.`;

export function isValidExpiryDays(days) {
  return Number.isInteger(days) && days >= EXPIRY_DAYS.min && days <= EXPIRY_DAYS.max;
}
