// A visit's history, under its row: loaded when the patient opens it, told in words, with
// every moment in the clinic's time zone. API data goes in through el() only.

import { api } from './api.js';
import { el } from './dom.js';
import { formatDate, formatMoment } from './format.js';
import { state } from './state.js';

// Whose history is open survives the table being rebuilt (after an answer, a new range).
const openVisits = new Set();
const historyPath = (visitId) => `/portal/sessions/${encodeURIComponent(visitId)}/history`;
const regionId = (visitId) => `history-${String(visitId).replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function isHistoryOpen(visitId) {
  return openVisits.has(String(visitId));
}

export function forgetHistories() {
  openVisits.clear();
}

/** The disclosure button of a visit: "History", expanded or not, described by the visit's date and time. */
export function historyButton(visit, describedBy) {
  const open = isHistoryOpen(visit.id);
  return el('button', {
    className: 'button button--link history-toggle',
    text: 'History',
    attrs: {
      type: 'button',
      'data-history': String(visit.id),
      'aria-expanded': String(open),
      'aria-controls': regionId(visit.id),
      'aria-describedby': describedBy,
    },
  });
}

/** The row under a visit that holds its history; filled by loadHistory(). */
export function historyRow(visit, past) {
  const row = el('tr', { className: `history-row${past ? ' is-past' : ''}`, attrs: { 'data-history-of': String(visit.id) } });
  const cell = el('td', { attrs: { colspan: '5' } });
  const region = el('div', {
    className: 'history',
    attrs: {
      id: regionId(visit.id),
      role: 'region',
      'aria-label': `History of the visit on ${formatDate(visit.date)} at ${String(visit.start_time ?? '')}`,
      'aria-live': 'polite',
      'aria-busy': 'true',
    },
  });
  region.append(el('p', { className: 'history__note', text: 'Loading history…' }));
  cell.append(region);
  row.append(cell);
  loadHistory(visit.id, region);
  return row;
}

/** Opens or closes the history under the button's visit, in place: focus stays on the button. */
export function toggleHistory(button, visit, past) {
  const visitId = String(visit.id);
  const row = button.closest('tr');
  const shown = row?.nextElementSibling?.dataset?.historyOf === visitId ? row.nextElementSibling : null;
  if (openVisits.has(visitId)) {
    openVisits.delete(visitId);
    shown?.remove();
  } else {
    openVisits.add(visitId);
    if (!shown) row?.after(historyRow(visit, past));
  }
  button.setAttribute('aria-expanded', String(openVisits.has(visitId)));
}

async function loadHistory(visitId, region) {
  const generation = state.generation;
  let events;
  try {
    events = (await api('GET', historyPath(visitId)))?.events;
  } catch {
    if (generation !== state.generation) return;
    region.replaceChildren(el('p', { className: 'history__note', text: 'The history could not be loaded. Please try again.' }));
    region.removeAttribute('aria-busy');
    return;
  }
  if (generation !== state.generation) return;
  const list = el('ol', { className: 'history__events' });
  for (const event of Array.isArray(events) ? events : []) {
    const item = el('li', {});
    item.append(el('span', { text: sentence(event) }));
    if (event.by === 'you' && event.reason) {
      item.append(el('span', { className: 'history__reason', text: ` Your reason: “${String(event.reason)}”` }));
    }
    list.append(item);
  }
  region.replaceChildren(list.children.length ? list : el('p', { className: 'history__note', text: 'No changes yet.' }));
  region.removeAttribute('aria-busy');
}

function sentence(event) {
  const when = formatMoment(event.at, state.timezone);
  const you = event.by === 'you';
  switch (event.what) {
    case 'created':
      return `The clinic scheduled this visit on ${when}.`;
    case 'confirmed':
      return you ? `You confirmed on ${when}.` : `The clinic marked this visit confirmed on ${when}.`;
    case 'cancel_requested':
      return you ? `You asked to cancel on ${when}.` : `The clinic recorded a cancellation request on ${when}.`;
    case 'answer_removed':
      return you ? `You changed your answer on ${when}.` : `The clinic cleared your answer on ${when}.`;
    case 'moved':
      return `The clinic moved this visit from ${slot(event, 0)} to ${slot(event, 1)} on ${when}.`;
    case 'cancelled':
      return `The clinic cancelled this visit on ${when}.`;
    case 'completed':
      return `The clinic marked this visit completed on ${when}.`;
    case 'details_changed':
      return `The clinic updated this visit's details on ${when}.`;
    case 'reminder_sent':
      return `A reminder was emailed to you on ${when}.`;
    default:
      return `This visit changed on ${when}.`;
  }
}

/** The visit's date and time before (0) or after (1) a move. */
function slot(event, side) {
  const day = event.changes?.date?.[side];
  const clock = event.changes?.start_time?.[side];
  if (!day) return 'another time';
  return clock ? `${formatDate(day)} at ${clock}` : formatDate(day);
}
