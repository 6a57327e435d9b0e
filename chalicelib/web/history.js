// A visit's history, under its row: loaded when the patient opens it, told in words, with
// every moment in the clinic's time zone. API data goes in through el() only.

import { api } from './api.js';
import { el } from './dom.js';
import { formatMoment, formatSlot } from './format.js';
import { t } from './i18n.js';
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
    text: t('action.history'),
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
      'aria-label': t('history.regionLabel', { slot: formatSlot(visit.date, visit.start_time) }),
      'aria-live': 'polite',
      'aria-busy': 'true',
    },
  });
  region.append(el('p', { className: 'history__note', text: t('history.loading') }));
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
    region.replaceChildren(el('p', { className: 'history__note', text: t('history.failed') }));
    region.removeAttribute('aria-busy');
    return;
  }
  if (generation !== state.generation) return;
  const list = el('ol', { className: 'history__events' });
  for (const event of Array.isArray(events) ? events : []) {
    const item = el('li', {});
    item.append(el('span', { text: sentence(event) }));
    if (event.by === 'you' && event.reason) {
      item.append(' ', el('span', { className: 'history__reason', text: t('history.yourReason', { reason: String(event.reason) }) }));
    }
    list.append(item);
  }
  region.replaceChildren(list.children.length ? list : el('p', { className: 'history__note', text: t('history.empty') }));
  region.removeAttribute('aria-busy');
}

// Each kind of event, said by the patient (you) or by the clinic.
const SENTENCES = {
  created: { you: 'history.created', clinic: 'history.created' },
  confirmed: { you: 'history.confirmed.you', clinic: 'history.confirmed.clinic' },
  cancel_requested: { you: 'history.cancel_requested.you', clinic: 'history.cancel_requested.clinic' },
  answer_removed: { you: 'history.answer_removed.you', clinic: 'history.answer_removed.clinic' },
  moved: { you: 'history.moved', clinic: 'history.moved' },
  cancelled: { you: 'history.cancelled', clinic: 'history.cancelled' },
  completed: { you: 'history.completed', clinic: 'history.completed' },
  details_changed: { you: 'history.details_changed', clinic: 'history.details_changed' },
  reminder_sent: { you: 'history.reminder_sent', clinic: 'history.reminder_sent' },
};

function sentence(event) {
  const when = formatMoment(event.at, state.timezone);
  const keys = Object.hasOwn(SENTENCES, event.what) ? SENTENCES[event.what] : null;
  if (!keys) return t('history.other', { when });
  return t(event.by === 'you' ? keys.you : keys.clinic, { when, from: slot(event, 0), to: slot(event, 1) });
}

/** The visit's date and time before (0) or after (1) a move. */
function slot(event, side) {
  const day = event.changes?.date?.[side];
  const clock = event.changes?.start_time?.[side];
  if (!day) return t('history.anotherTime');
  return formatSlot(day, clock);
}
