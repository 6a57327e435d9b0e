// The "Cancel this visit?" dialog: an optional reason, the cancellation itself, and focus
// and Escape kept sensible while the request is in flight.

import { api, responsePath } from './api.js';
import { $, clearMessage, showMessage } from './dom.js';
import { formatClock, formatDate, formatSlot, zoneName } from './format.js';
import { t } from './i18n.js';
import { focusVisit } from './render.js';
import { state } from './state.js';

// The row whose Cancel opened the dialog, and whether its request is in flight.
const cancelDialogState = { row: null, sending: false };

export function openCancelDialog(row) {
  const visit = state.visits.find((v) => String(v.id) === row.dataset.visitId);
  if (!visit) return;
  cancelDialogState.row = row;
  const where = [visit.provider, visit.location].filter(Boolean).map(String).join(', ');
  // The zone said here too: the dialog is read on its own, away from the note above the list.
  const zone = zoneName(state.timezone);
  const slot = zone
    ? t('slot.withZone', { date: formatDate(visit.date), time: formatClock(visit.start_time), zone })
    : formatSlot(visit.date, visit.start_time);
  $('#cancel-dialog-visit').textContent = where ? t('slot.where', { slot, where }) : slot;
  $('#cancel-reason').value = '';
  clearMessage($('#portal-message'));
  $('#cancel-dialog').showModal(); // Modal: traps focus, Escape closes.
}

export function closeCancelDialog() {
  const dialog = $('#cancel-dialog');
  if (dialog.open) dialog.close();
}

async function sendCancellation(event, runVisitAction) {
  event.preventDefault();
  const row = cancelDialogState.row;
  if (!row || cancelDialogState.sending) return;
  const reason = $('#cancel-reason').value.trim();
  const body = reason ? { response: 'cancelled', reason } : { response: 'cancelled' };

  const dialogButtons = [$('#cancel-send'), $('#cancel-keep')];
  cancelDialogState.sending = true;
  dialogButtons.forEach((b) => { b.disabled = true; });
  let notice = null;
  const send = async (id) => {
    const result = await api('PUT', responsePath(id), body);
    notice = result?.notice;
    return result;
  };
  const visit = await runVisitAction(row, 'cancel', send, () => {
    cancelDialogState.sending = false;
    dialogButtons.forEach((b) => { b.disabled = false; });
    closeCancelDialog();
  });

  if (visit) {
    if (notice) showMessage($('#portal-message'), cancelNotice(String(notice)), 'notice');
    focusVisit(visit.id, ['change']);
  } else {
    focusVisit(row.dataset.visitId, ['cancel', 'confirm']);
  }
}

// The contract's default cancel notice. A clinic's own notice is its own words (shown as they
// are, like a provider's name); the default is the page's, so it reads in the patient's language.
const DEFAULT_CANCEL_NOTICE = 'Your cancellation request has been sent to the clinic. '
  + 'It is still your responsibility to call the clinic to cancel this appointment.';

function cancelNotice(notice) {
  return notice.trim() === DEFAULT_CANCEL_NOTICE ? { key: 'cancel.noticeDefault' } : notice;
}

/**
 * `runVisitAction` is app.js's (it also reports failures and reloads a stale list); it is
 * handed in so that this module does not import app.js back.
 */
export function setUpCancelDialog({ runVisitAction }) {
  const dialog = $('#cancel-dialog');
  $('#cancel-form').addEventListener('submit', (event) => sendCancellation(event, runVisitAction));
  $('#cancel-keep').addEventListener('click', closeCancelDialog);
  // Escape while the request is in flight would hide its outcome; wait for it instead.
  dialog.addEventListener('cancel', (event) => {
    if (cancelDialogState.sending) event.preventDefault();
  });
  dialog.addEventListener('close', () => {
    const row = cancelDialogState.row;
    cancelDialogState.row = null;
    // Back to the Cancel button that opened it (if the request did not replace the row).
    if (row?.isConnected && !cancelDialogState.sending) {
      const cancelButton = row.querySelector('button[data-action="cancel"]');
      if (cancelButton && document.activeElement === document.body) cancelButton.focus();
    }
  });
}
