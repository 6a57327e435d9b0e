// Calendars: "Add to calendar" on each upcoming visit (its .ics file) and the private calendar
// feed (an address a calendar app subscribes to: get one, copy it, stop sharing it).
//
// A link cannot carry the login's bearer token, so the file is fetched with the token and
// saved from a Blob URL. The feed's address comes back only once, when it is made (the server
// keeps a hash of it): the page shows it until the patient leaves, and can always replace it.

import { api, ApiError, apiUrl, calendarFilePath, SessionExpiredError } from './api.js';
import { $, clearMessage, el, showMessage } from './dom.js';
import { setText, t } from './i18n.js';
import { errorMessage } from './messages.js';
import { state } from './state.js';

const FEED_PATH = '/portal/calendar-feed';

// app.js's error handler (session expiry, network trouble, messages), handed in by setUpCalendar.
let reportError = () => {};

// ---------------------------------------------------------------------------
// Add to calendar
// ---------------------------------------------------------------------------

/** Upcoming visits that still take place get a file; past, completed and cancelled ones do not. */
export function offersCalendarFile(visit, past) {
  return !past && visit.status !== 'cancelled' && visit.status !== 'completed';
}

/**
 * The visit's "Add to calendar" link. Its href is the file's address (what it is), but a click
 * fetches it with the token (how it can be had). `describedBy` names the visit's date and time.
 */
export function calendarLink(visit, describedBy) {
  return el('a', {
    className: 'calendar-link',
    text: t('action.addToCalendar'),
    attrs: {
      href: apiUrl(calendarFilePath(String(visit.id))),
      download: `appointment-${String(visit.date)}.ics`,
      'data-calendar-visit': String(visit.id),
      'aria-describedby': describedBy,
    },
  });
}

async function saveCalendarFile(link) {
  if (link.getAttribute('aria-disabled') === 'true') return; // already on its way
  const generation = state.generation;
  link.setAttribute('aria-disabled', 'true');
  try {
    const file = await api('GET', calendarFilePath(link.dataset.calendarVisit), undefined, { as: 'blob' });
    if (generation !== state.generation) return;
    const address = URL.createObjectURL(file);
    const save = el('a', { attrs: { href: address, download: link.getAttribute('download') } });
    document.body.append(save);
    save.click();
    save.remove();
    // The download has its own copy by then; a minute is ample for the slowest browser.
    setTimeout(() => URL.revokeObjectURL(address), 60 * 1000);
  } catch (error) {
    if (generation === state.generation) reportError(error);
  } finally {
    link.removeAttribute('aria-disabled');
  }
}

function onCalendarLinkClick(event) {
  const link = event.target.closest('a[data-calendar-visit]');
  if (!link) return;
  event.preventDefault();
  saveCalendarFile(link);
}

// ---------------------------------------------------------------------------
// The calendar feed
// ---------------------------------------------------------------------------

function feedButtons() {
  return [$('#feed-create'), $('#feed-copy'), $('#feed-stop')];
}

function showAddress(url) {
  $('#feed-url').value = url;
  $('#feed-address').hidden = false;
  $('#feed-copy').hidden = false;
  setText($('#feed-create'), 'feed.getNew');
}

function hideAddress() {
  $('#feed-url').value = '';
  $('#feed-address').hidden = true;
  $('#feed-copy').hidden = true;
  setText($('#feed-create'), 'feed.getFirst');
}

/** Feed failures in words, next to the feed; an ended session goes back to app.js. */
function reportFeedError(error) {
  if (error instanceof SessionExpiredError || (error instanceof ApiError && error.status === 403)) {
    reportError(error);
  } else {
    showMessage($('#feed-message'), errorMessage(error, { patient: Boolean(state.me) }));
  }
}

async function runFeedRequest(send) {
  const generation = state.generation;
  clearMessage($('#feed-message'));
  feedButtons().forEach((b) => { b.disabled = true; });
  try {
    const result = await send();
    return generation === state.generation ? { result } : null;
  } catch (error) {
    if (generation === state.generation) reportFeedError(error);
    return null;
  } finally {
    feedButtons().forEach((b) => { b.disabled = false; });
  }
}

async function createFeed() {
  const outcome = await runFeedRequest(() => api('POST', FEED_PATH));
  const url = outcome?.result?.url;
  if (typeof url !== 'string') return;
  showAddress(url);
  showMessage($('#feed-message'), { key: 'feed.ready' }, 'notice');
  const field = $('#feed-url');
  field.focus();
  field.select();
}

function selectAddress() {
  const field = $('#feed-url');
  field.focus();
  field.select();
}

async function copyAddress() {
  const url = $('#feed-url').value;
  if (!url) return;
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard here');
    await navigator.clipboard.writeText(url);
    showMessage($('#feed-message'), { key: 'feed.copied' }, 'notice');
  } catch {
    // No clipboard (an insecure page, a refused permission): the selected field is the fallback.
    selectAddress();
    showMessage($('#feed-message'), { key: 'feed.copyByHand' }, 'notice');
  }
}

async function stopSharing() {
  const outcome = await runFeedRequest(() => api('DELETE', FEED_PATH));
  if (!outcome) return;
  hideAddress();
  showMessage($('#feed-message'), { key: 'feed.stopped' }, 'notice');
  $('#feed-create').focus();
}

/** Forgets the address and messages (on log out: the next patient must not see them). */
export function resetCalendar() {
  hideAddress();
  clearMessage($('#feed-message'));
  feedButtons().forEach((b) => { b.disabled = false; });
}

/** `onError` is app.js's handler: it ends an expired session and words other failures. */
export function setUpCalendar({ onError }) {
  reportError = onError;
  $('#portal-view').addEventListener('click', onCalendarLinkClick);
  $('#feed-create').addEventListener('click', createFeed);
  $('#feed-copy').addEventListener('click', copyAddress);
  $('#feed-stop').addEventListener('click', stopSharing);
  // A click in the field selects the whole address, ready to copy by hand.
  $('#feed-url').addEventListener('focus', (event) => event.target.select());
}
