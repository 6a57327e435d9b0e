// The visit tables, rebuilt from the page state, and keyboard focus put back after a rebuild.
// API data goes in through el() only (textContent / setAttribute), never innerHTML.

import { calendarLink, offersCalendarFile } from './calendar.js';
import { $, el } from './dom.js';
import { clinicNow, formatClock, formatDate, isPast, statusLabel, zoneName } from './format.js';
import { historyButton, historyRow, isHistoryOpen } from './history.js';
import { setText, t } from './i18n.js';
import { state } from './state.js';

let cellIdCounter = 0;

/** Visible text is exactly the action's name; the visit's date and time come in as its description. */
function actionButton(action, text, className, describedBy) {
  return el('button', {
    className: `button ${className}`,
    text,
    attrs: { type: 'button', 'data-action': action, 'aria-describedby': describedBy },
  });
}

/** Which buttons a visit gets: only what the API allows, and only in the state that uses them. */
function actionsFor(visit) {
  const allowed = Array.isArray(visit.actions) ? visit.actions : [];
  if (visit.status === 'awaiting_response') return ['confirm', 'cancel'].filter((a) => allowed.includes(a));
  if (visit.status === 'patient_confirmed' || visit.status === 'pending_cancel') {
    return allowed.includes('change') ? ['change'] : [];
  }
  return [];
}

const ACTION_BUTTONS = {
  confirm: { key: 'action.confirm', className: 'button--confirm' },
  cancel: { key: 'action.cancel', className: 'button--danger' },
  change: { key: 'action.change', className: 'button--link' },
};

function buildStatusCell(visit, describedBy, past) {
  const cell = el('td', { className: 'status-cell', attrs: { 'data-label': t('column.status') } });
  // One wrapper, so the status and its buttons stay together in the narrow card layout.
  const body = el('div', { className: 'status-body' });
  body.append(el('span', { className: 'status-text', text: statusLabel(visit.status) }));
  const actions = actionsFor(visit);
  if (actions.length) {
    const group = el('span', { className: 'status-actions' });
    for (const action of actions) {
      const { key, className } = ACTION_BUTTONS[action];
      group.append(actionButton(action, t(key), className, describedBy));
    }
    body.append(' ', group);
  }
  // On a line of its own: the same place in every row, whatever the visit's actions.
  const more = el('span', { className: 'status-more' });
  more.append(historyButton(visit, describedBy));
  if (offersCalendarFile(visit, past)) more.append(' ', calendarLink(visit, describedBy));
  body.append(more);
  cell.append(body);
  return cell;
}

function buildRow(visit, past) {
  const row = el('tr', {
    className: past ? 'is-past' : '',
    attrs: { 'data-visit-id': String(visit.id), 'data-date': String(visit.date), 'data-status': String(visit.status) },
  });
  const dateId = `visit-cell-${++cellIdCounter}`;
  const timeId = `visit-cell-${++cellIdCounter}`;

  // data-label: the column's name where the narrow layout shows each row as a card.
  const dateCell = el('td', { attrs: { 'data-label': t('column.date'), id: dateId } });
  dateCell.append(el('time', { text: formatDate(visit.date), attrs: { datetime: String(visit.date) } }));
  const timeCell = el('td', { attrs: { 'data-label': t('column.time'), id: timeId } });
  timeCell.append(el('time', { text: formatClock(visit.start_time), attrs: { datetime: String(visit.start_time ?? '') } }));

  row.append(
    dateCell,
    timeCell,
    el('td', { text: String(visit.provider ?? ''), attrs: { 'data-label': t('column.provider') } }),
    el('td', { text: String(visit.location ?? ''), attrs: { 'data-label': t('column.location') } }),
    buildStatusCell(visit, `${dateId} ${timeId}`, past),
  );
  return row;
}

function renderSection(section, visits, past) {
  const table = section.querySelector('table');
  // An open history stays open under its visit when the table is rebuilt (and is loaded afresh).
  const rows = visits.flatMap((visit) => [buildRow(visit, past), ...(isHistoryOpen(visit.id) ? [historyRow(visit, past)] : [])]);
  table.tBodies[0].replaceChildren(...rows);
  table.classList.toggle('is-empty', rows.length === 0);
  section.querySelector('.empty-note').hidden = rows.length > 0;
}

export function renderVisits() {
  const now = clinicNow(state.timezone);
  const upcoming = state.visits.filter((v) => !isPast(v, now));
  // Most recent first: the last visit is the one a patient looks for.
  const past = state.visits.filter((v) => isPast(v, now)).reverse();

  const none = state.visits.length === 0;
  $('#upcoming-section').hidden = none;
  $('#past-section').hidden = none;
  renderSection($('#upcoming-section'), upcoming, false);
  renderSection($('#past-section'), past, true);

  if (none) setText($('#visits-summary'), 'visits.none');
  else {
    setText($('#visits-summary'), 'visits.summary', {
      upcoming: { key: 'visits.upcomingCount', params: { count: upcoming.length } },
      past: { key: 'visits.pastCount', params: { count: past.length } },
    });
  }
}

/** Which zone the times are in: the clinic's, by the locale's name for it and its IANA id. */
export function renderTimezoneNote() {
  const tz = state.timezone;
  if (tz) setText($('#timezone-note'), 'timezone.note', { zone: zoneName(tz), id: String(tz) });
  else setText($('#timezone-note'), null);
}

/**
 * Keeps keyboard focus on the same visit after its row was rebuilt. Without scrolling: the
 * row was rebuilt where the patient acted, and a message just shown must stay in view.
 */
export function focusVisit(visitId, preferredActions) {
  const noScroll = { preventScroll: true };
  const row = [...document.querySelectorAll('tr[data-visit-id]')].find((r) => r.dataset.visitId === String(visitId));
  if (!row) {
    $('#portal-title').focus(noScroll);
    return;
  }
  for (const action of preferredActions) {
    const button = row.querySelector(`button[data-action="${action}"]`);
    if (button) {
      button.focus(noScroll);
      return;
    }
  }
  row.tabIndex = -1;
  row.focus(noScroll);
}
