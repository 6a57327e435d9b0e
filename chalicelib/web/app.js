// Patient-facing Scheduling page of the client portal.
//
// The entry module, the one index.html loads: it loads the patient's visits, turns failures
// into words, runs the visit actions and wires the page together. Every other concern has
// a module of its own beside it, so the page can grow one room at a time.
//
// Plain DOM code, no framework, no build step: native ES modules, each served as
// /web/<name> under the page's script-src 'self'. Everything the API returns is untrusted:
// it only ever reaches the page through textContent / setAttribute, never through innerHTML.
// The API contract is ../shared/portal-api.md (the contract document beside this repository).

import { api, ApiError, NetworkError, responsePath, RetryLaterError, SessionExpiredError } from './api.js';
import { setUpCalendar } from './calendar.js';
import { hasSeveralClinics, mustChooseClinic, setUpClinics, showClinicChoice } from './clinics.js';
import { openCancelDialog, setUpCancelDialog } from './dialogs.js';
import { $, clearMessage, showMessage } from './dom.js';
import { toggleHistory } from './history.js';
import { endSession, expireSession, resetPortal, setUpLogin, showLogin, showView } from './login.js';
import { MESSAGES } from './messages.js';
import { focusVisit, renderTimezoneNote, renderVisits } from './render.js';
import { loadPreferences, setUpPreferences } from './preferences.js';
import { loadClinic, loadTokens, saveClinic } from './session.js';
import { state } from './state.js';

// ---------------------------------------------------------------------------
// Loading the portal
// ---------------------------------------------------------------------------

async function loadMe() {
  const generation = state.generation;
  const me = await api('GET', '/portal/me');
  if (generation !== state.generation) return;
  state.me = me;
  const clinicName = String(state.me?.clinic?.name ?? 'Client portal');
  $('#clinic-name').textContent = clinicName;
  document.title = `Scheduling – ${clinicName}`;
  // A person of several clinics who has not chosen one yet has no patient name here.
  $('#signed-in-as').textContent = state.me?.patient ? `Signed in as ${String(state.me.patient.name ?? '')}` : '';
  $('#switch-clinic-button').hidden = !hasSeveralClinics(state.me) || !state.me?.clinic;
  $('#account').hidden = false;
  state.timezone = state.me?.clinic?.timezone || state.timezone;
  renderTimezoneNote();
}

/** GET /portal/sessions; without a range the API picks its default and tells us which. */
async function loadVisits(range) {
  const query = new URLSearchParams();
  if (range?.from) query.set('from', range.from);
  if (range?.to) query.set('to', range.to);
  const path = `/portal/sessions${query.toString() ? `?${query}` : ''}`;

  const generation = state.generation;
  const showButton = $('#show-visits');
  showButton.disabled = true;
  document.querySelectorAll('.visits').forEach((s) => s.setAttribute('aria-busy', 'true'));
  $('#visits-summary').textContent = MESSAGES.loading;
  try {
    const data = await api('GET', path);
    if (generation !== state.generation) return;
    state.visits = Array.isArray(data?.sessions) ? data.sessions : [];
    state.range = { from: data?.from, to: data?.to };
    state.timezone = state.me?.clinic?.timezone || data?.timezone || state.timezone;
    $('#range-from').value = data?.from || '';
    $('#range-to').value = data?.to || '';
    renderTimezoneNote();
    renderVisits();
  } catch (error) {
    // Leave the previous list on screen; the summary must not keep saying "Loading".
    if (generation === state.generation) $('#visits-summary').textContent = '';
    throw error;
  } finally {
    showButton.disabled = false;
    document.querySelectorAll('.visits').forEach((s) => s.removeAttribute('aria-busy'));
  }
}

async function startPortal({ focusTitle }) {
  showView('portal');
  const generation = state.generation;
  const chosen = loadClinic();
  try {
    if (chosen) {
      await Promise.all([loadMe(), loadVisits(null), loadPreferences()]);
    } else {
      // Which clinics first: a person of several chooses one before anything else is loaded.
      await loadMe();
      if (generation !== state.generation) return;
      if (mustChooseClinic(state.me)) {
        showClinicChoice();
        return;
      }
      await Promise.all([loadVisits(null), loadPreferences()]);
    }
    if (focusTitle && generation === state.generation) $('#portal-title').focus();
  } catch (error) {
    if (generation !== state.generation) return;
    if (chosen && error instanceof ApiError && error.status === 404) {
      // The chosen clinic is no longer one of theirs: choose again.
      saveClinic(null);
      resetPortal();
      await startPortal({ focusTitle });
      if (state.me && mustChooseClinic(state.me)) showClinicChoice(MESSAGES.clinicGone);
      return;
    }
    handlePortalError(error);
  }
}

/** "Switch clinic": forget this clinic's page and choose again. */
function switchClinic() {
  saveClinic(null);
  resetPortal();
  startPortal({ focusTitle: true });
}

// ---------------------------------------------------------------------------
// Errors shown on the logged-in page
// ---------------------------------------------------------------------------

function clinicPhoneSentence() {
  const phone = state.me?.clinic?.phone;
  return phone ? `Please call the clinic at ${phone}.` : 'Please call the clinic.';
}

/**
 * Turns any failure into words for the patient. `context.action` is the visit action
 * that failed (if any): a 403 only means "cancellation is off" for a cancel.
 */
function handlePortalError(error, context = {}) {
  if (error instanceof SessionExpiredError) {
    expireSession();
    return;
  }
  const region = $('#portal-message');
  if (error instanceof NetworkError) {
    showMessage(region, MESSAGES.network);
  } else if (error instanceof RetryLaterError) {
    showMessage(region, MESSAGES.busy);
  } else if (error instanceof ApiError && error.status === 429 && context.action) {
    // The visit's answer was changed too often online: the clinic takes it from here.
    showMessage(region, `${MESSAGES.tooManyChanges} ${clinicPhoneSentence()}`);
  } else if (error instanceof ApiError && error.status === 409) {
    showMessage(region, `This visit can no longer be changed online. ${clinicPhoneSentence()}`);
    reloadAfterStaleAction(context.visitId);
  } else if (error instanceof ApiError && error.status === 403 && context.action === 'cancel') {
    const phone = state.me?.clinic?.phone;
    showMessage(region, `The clinic takes cancellations by phone. ${phone ? `Please call ${phone}.` : 'Please call the clinic.'}`);
    // The clinic turned cancellation off since the list was loaded: drop the stale Cancel buttons.
    reloadAfterStaleAction(context.visitId);
  } else if (error instanceof ApiError && error.status === 403 && !state.me) {
    // A staff login on the patient portal: /portal/* is not theirs.
    endSession(MESSAGES.notPatient);
  } else if (error instanceof ApiError) {
    showMessage(region, error.message);
    // A visit that is gone (404) means the list on screen is stale too.
    if (error.status === 404 && context.action) reloadAfterStaleAction(context.visitId);
  } else {
    console.error(error); // A bug in this page; say something rather than nothing.
    showMessage(region, 'Something went wrong. Please reload the page and try again.');
  }
}

/** The list on screen no longer matches the clinic's: show the visits as they are now. */
function reloadAfterStaleAction(visitId) {
  loadVisits(state.range)
    .then(() => {
      // The rows were rebuilt, so focus fell to <body>: put it back near where it was.
      if (document.activeElement === document.body) focusVisit(visitId, ['confirm', 'cancel', 'change']);
    })
    .catch((e) => handlePortalError(e));
}

// ---------------------------------------------------------------------------
// Visit actions: confirm and change here, cancel through its dialog (dialogs.js)
// ---------------------------------------------------------------------------

function replaceVisit(updated) {
  state.visits = state.visits.map((v) => (String(v.id) === String(updated.id) ? updated : v));
  renderVisits();
}

function rowButtons(row) {
  return [...row.querySelectorAll('button[data-action]')];
}

/**
 * Runs one visit request with the row's buttons disabled, so it cannot be sent twice.
 * `beforeOutcome` runs once the answer is in, before the page shows it (the cancel
 * dialog closes there, so the outcome is not announced behind a modal).
 */
async function runVisitAction(row, action, send, beforeOutcome = () => {}) {
  const visitId = row.dataset.visitId;
  const generation = state.generation;
  clearMessage($('#portal-message'));
  rowButtons(row).forEach((b) => { b.disabled = true; });
  try {
    let visit;
    try {
      visit = await send(visitId);
    } finally {
      beforeOutcome();
    }
    if (generation !== state.generation) return null;
    replaceVisit(visit);
    return visit;
  } catch (error) {
    if (generation === state.generation) handlePortalError(error, { action, visitId });
    return null;
  } finally {
    // The row may have been rebuilt meanwhile; re-enabling the old buttons is harmless.
    rowButtons(row).forEach((b) => { b.disabled = false; });
  }
}

async function confirmVisit(row) {
  const visit = await runVisitAction(row, 'confirm', (id) => api('PUT', responsePath(id), { response: 'confirmed' }));
  if (visit) focusVisit(visit.id, ['change']);
  else if (row.isConnected) focusVisit(row.dataset.visitId, ['confirm']);
}

async function changeVisit(row) {
  const visit = await runVisitAction(row, 'change', (id) => api('DELETE', responsePath(id)));
  if (visit) focusVisit(visit.id, ['confirm', 'cancel']);
  else if (row.isConnected) focusVisit(row.dataset.visitId, ['change']);
}

function onVisitActionClick(event) {
  const toggle = event.target.closest('button[data-history]');
  if (toggle) {
    const visit = state.visits.find((v) => String(v.id) === toggle.dataset.history);
    if (visit) toggleHistory(toggle, visit, toggle.closest('tr')?.classList.contains('is-past'));
    return;
  }
  const button = event.target.closest('button[data-action]');
  if (!button || button.disabled) return;
  const row = button.closest('tr[data-visit-id]');
  if (!row) return;
  if (button.dataset.action === 'confirm') confirmVisit(row);
  else if (button.dataset.action === 'cancel') openCancelDialog(row);
  else if (button.dataset.action === 'change') changeVisit(row);
}

// ---------------------------------------------------------------------------
// Date range
// ---------------------------------------------------------------------------

async function onRangeSubmit(event) {
  event.preventDefault();
  clearMessage($('#portal-message'));
  // The API validates the range (order, length) and says what is wrong in words.
  const range = { from: $('#range-from').value, to: $('#range-to').value };
  try {
    if (!state.me) await loadMe(); // The first load may have failed (offline).
    await loadVisits(range);
  } catch (error) {
    handlePortalError(error);
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

function init() {
  // The other modules never import this one: what they need of it is handed in here.
  setUpLogin({ startPortal });
  $('#range-form').addEventListener('submit', onRangeSubmit);
  $('#portal-view').addEventListener('click', onVisitActionClick);
  setUpCancelDialog({ runVisitAction });
  setUpCalendar({ onError: (error) => handlePortalError(error) });
  setUpPreferences({ onError: (error) => handlePortalError(error) });
  setUpClinics({ onChosen: () => startPortal({ focusTitle: true }), onSwitch: switchClinic });

  // A reload keeps the patient logged in: the tokens are in sessionStorage.
  if (loadTokens()) startPortal({ focusTitle: false });
  else showLogin();
}

init();
