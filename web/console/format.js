// Dates for people: absolute in the user's locale, relative where that reads better.

const DAY = 86_400_000;
const units = [
  ['year', 365 * DAY], ['month', 30 * DAY], ['week', 7 * DAY], ['day', DAY],
  ['hour', 3_600_000], ['minute', 60_000],
];

export function formatDate(iso) {
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** The moment `days` days from now, as the API writes dates. */
export function inDays(days, now = Date.now()) {
  return new Date(now + days * DAY).toISOString();
}

export function formatDateTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "3 minutes ago", "in 2 days", "just now". */
export function relative(iso, now = Date.now()) {
  const diff = new Date(iso).getTime() - now;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, ms] of units) {
    if (Math.abs(diff) >= ms) return rtf.format(Math.trunc(diff / ms), unit);
  }
  return 'just now';
}

/** What the expiry column says, and how urgently. */
export function describeExpiry(expiresAt, now = Date.now()) {
  if (expiresAt === null) return { text: 'Never', tone: 'muted' };
  const left = new Date(expiresAt).getTime() - now;
  if (left <= 0) return { text: `Expired ${formatDate(expiresAt)}`, tone: 'danger' };
  const days = Math.ceil(left / DAY);
  if (days <= 7) return { text: `Expires in ${days} ${days === 1 ? 'day' : 'days'}`, tone: 'warning', title: formatDateTime(expiresAt) };
  return { text: formatDate(expiresAt), tone: 'normal', title: formatDateTime(expiresAt) };
}
