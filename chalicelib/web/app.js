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

import { api, ApiError, responsePath, SessionExpiredError } from './api.js';
import { setUpCalendar } from './calendar.js';
import { hasSeveralClinics, mustChooseClinic, setUpClinics, showClinicChoice } from './clinics.js';
import { openCancelDialog, setUpCancelDialog } from './dialogs.js';
import { $, clearMessage, showMessage } from './dom.js';
import { toggleHistory } from './history.js';
import { language, onLanguageChange, preferredLanguage, setLanguage, setText, t } from './i18n.js';
import { endSession, expireSession, resetPortal, setUpLogin, showLogin, showView } from './login.js';
import { errorMessage } from './messages.js';
import { rangeFromAddress, rangeProblem, showRangeInAddress } from './range.js';
import { focusVisit, renderTimezoneNote, renderVisits } from './render.js';
import { loadPreferences, saveLanguage, setUpPreferences } from './preferences.js';
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
  const clinicName = state.me?.clinic?.name;
  if (clinicName) {
    setText($('#clinic-name'), String(clinicName)); // the clinic's name is data, not words
    $('#clinic-name').title = String(clinicName); // the whole name, where a phone cuts it short
  }
  setTitle();
  // A person of several clinics who has not chosen one yet has no patient name here.
  if (state.me?.patient) setText($('#signed-in-as'), 'header.signedInAs', { name: String(state.me.patient.name ?? '') });
  else setText($('#signed-in-as'), null);
  $('#switch-clinic-button').hidden = !hasSeveralClinics(state.me) || !state.me?.clinic;
  // Shown with the view it belongs to (showView), never over the login form on its way out.
  $('#account').hidden = !$('#login-view').hidden;
  // The zone's note is drawn with the list (loadVisits), so it never pushes a list already shown.
  state.timezone = state.me?.clinic?.timezone || state.timezone;
}

/** The tab's title: the page and, once known, the clinic. */
function setTitle() {
  const clinicName = state.me?.clinic?.name;
  document.title = clinicName ? t('page.title', { clinic: String(clinicName) }) : t('page.titleLoggedOut');
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
  setText($('#visits-summary'), 'visits.loading');
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
    if (generation === state.generation) setText($('#visits-summary'), null);
    throw error;
  } finally {
    showButton.disabled = false;
    document.querySelectorAll('.visits').forEach((s) => s.removeAttribute('aria-busy'));
    // The sections below the list wait for its first answer: shown together, nothing moves.
    if (generation === state.generation) $('#portal-view').classList.remove('is-loading');
  }
}

/** The range in the address (see range.js); one the API still refuses gives way to its default. */
async function loadAddressRange() {
  const range = rangeFromAddress();
  try {
    await loadVisits(range);
  } catch (error) {
    if (!range || !(error instanceof ApiError) || error.status !== 400) throw error;
    showRangeInAddress(null);
    await loadVisits(null);
  }
}

async function startPortal({ focusTitle }) {
  const generation = state.generation;
  const chosen = loadClinic();
  $('#portal-view').classList.add('is-loading');
  try {
    if (!chosen) {
      // Which clinics first: a person of several chooses one before anything else is loaded.
      await loadMe();
      if (generation !== state.generation) return;
      if (mustChooseClinic(state.me)) {
        showClinicChoice();
        return;
      }
    }
    // The saved language decides from here on. The portal shows once it is known, so it is worded
    // once: nothing on screen changes language (and width) under the patient's eyes.
    const preferences = loadPreferences();
    await preferences.catch(() => {});
    if (generation !== state.generation) return;
    showView('portal');
    await Promise.all([chosen ? loadMe() : null, preferences, loadAddressRange()]);
    if (focusTitle && generation === state.generation) $('#portal-title').focus();
  } catch (error) {
    if (generation !== state.generation) return;
    if (chosen && error instanceof ApiError && error.status === 404) {
      // The chosen clinic is no longer one of theirs: choose again.
      saveClinic(null);
      resetPortal();
      await startPortal({ focusTitle });
      if (state.me && mustChooseClinic(state.me)) showClinicChoice({ key: 'clinics.gone' });
      return;
    }
    // Failed before any view showed (offline, the API busy): the portal's view says what happened.
    if ($('#login-view').hidden && $('#clinic-view').hidden) showView('portal');
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

/**
 * Turns any failure into words for the patient. `context.action` is the visit action
 * that failed (if any): a 403 only means "cancellation is off" for a cancel.
 */
function handlePortalError(error, context = {}) {
  if (error instanceof SessionExpiredError) {
    expireSession();
    return;
  }
  const message = errorMessage(error, { ...context, phone: state.me?.clinic?.phone, patient: Boolean(state.me) });
  if (error instanceof ApiError && error.status === 403 && !state.me && context.action !== 'cancel') {
    // A staff login on the patient portal: /portal/* is not theirs.
    endSession(message);
    return;
  }
  showMessage($('#portal-message'), message);
  // A visit closed meanwhile (409), cancellation turned off (403 on a cancel) or a visit gone (404):
  // the list on screen is stale, so show the visits as they are now.
  const stale = error instanceof ApiError && context.action
    && (error.status === 409 || error.status === 404 || (error.status === 403 && context.action === 'cancel'));
  if (stale) reloadAfterStaleAction(context.visitId);
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
  const range = { from: $('#range-from').value, to: $('#range-to').value };
  // Said here, in the patient's words; the API checks the same rules (and answers a bare 400).
  const problem = rangeProblem(range);
  if (problem) {
    showMessage($('#portal-message'), problem);
    return;
  }
  try {
    if (!state.me) await loadMe(); // The first load may have failed (offline).
    await loadVisits(range);
    showRangeInAddress(state.range, { push: true });
  } catch (error) {
    handlePortalError(error);
  }
}

/** Back and forward move between ranges the patient chose: show the one in the address. */
async function onAddressChange() {
  if (!loadTokens() || $('#portal-view').hidden) return;
  clearMessage($('#portal-message'));
  try {
    await loadAddressRange();
  } catch (error) {
    handlePortalError(error);
  }
}

// ---------------------------------------------------------------------------
// Language
// ---------------------------------------------------------------------------

function showLanguageChoice() {
  for (const option of document.querySelectorAll('[data-language]')) {
    option.setAttribute('aria-pressed', String(option.dataset.language === language()));
  }
}

/** The switch: the page changes at once; a logged-in patient's choice is saved for the emails too. */
async function onLanguageSwitch(event) {
  const option = event.target.closest('[data-language]');
  if (!option || option.dataset.language === language()) return;
  setLanguage(option.dataset.language);
  if (state.me && loadTokens()) {
    try {
      await saveLanguage(option.dataset.language);
    } catch (error) {
      handlePortalError(error);
    }
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

function init() {
  // Words first, before either view shows: this tab's choice, else the browser's languages.
  onLanguageChange(() => {
    showLanguageChoice();
    setTitle();
    if (state.timezone) renderTimezoneNote();
    if (state.range) renderVisits();
  });
  setLanguage(preferredLanguage());
  $('.language-switch').addEventListener('click', onLanguageSwitch);
  window.addEventListener('popstate', onAddressChange);

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
