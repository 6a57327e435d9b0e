// The date range lives in the address (?from=YYYY-MM-DD&to=YYYY-MM-DD), so a reload, Back and
// a bookmark keep it. Whatever the address holds is checked here first: a value that is not a
// real date, or a range the API would refuse, is dropped for the API's default range, never
// sent round in a loop of errors.

import { MAX_RANGE_DAYS } from './messages.js';

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The day as a UTC timestamp, or null when it is not a real calendar date ("2026-02-30"). */
function dayOf(value) {
  const match = ISO_DATE.exec(value || '');
  if (!match) return null;
  const [, year, month, day] = match.map(Number);
  const time = Date.UTC(year, month - 1, day);
  const date = new Date(time);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? time : null;
}

/** What is wrong with a range, as a message for the patient, or null when the API will take it. */
export function rangeProblem({ from, to }) {
  if ((from && dayOf(from) === null) || (to && dayOf(to) === null)) return { key: 'range.incomplete' };
  if (from && to) {
    if (dayOf(from) > dayOf(to)) return { key: 'range.reversed' };
    if ((dayOf(to) - dayOf(from)) / DAY_MS > MAX_RANGE_DAYS) return { key: 'range.tooLong', params: { days: MAX_RANGE_DAYS } };
  }
  return null;
}

/** The range the address asks for, or null (the API's default) when it asks for none or a bad one. */
export function rangeFromAddress() {
  const query = new URLSearchParams(window.location.search);
  const range = { from: query.get('from') || '', to: query.get('to') || '' };
  if (!range.from && !range.to) return null;
  if (rangeProblem(range)) {
    showRangeInAddress(null); // a bad address is mended, so a reload does not meet it again
    return null;
  }
  return range;
}

/**
 * Writes the range into the address: `push` for a range the patient chose (Back returns to the
 * one before), a replace otherwise. null leaves the address without a range.
 */
export function showRangeInAddress(range, { push = false } = {}) {
  const url = new URL(window.location.href);
  url.searchParams.delete('from');
  url.searchParams.delete('to');
  if (range?.from) url.searchParams.set('from', range.from);
  if (range?.to) url.searchParams.set('to', range.to);
  if (url.href === window.location.href) return;
  if (push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}
