// Patient-facing Scheduling page of the client portal.
//
// Plain DOM code, no framework. Everything the API returns is untrusted: it only ever
// reaches the page through textContent / setAttribute, never through innerHTML.
// The API contract is ../shared/portal-api.md (the contract document beside this repository).

// ---------------------------------------------------------------------------
// Configuration and wording
// ---------------------------------------------------------------------------

// Read once: the page may be deployed as static files in front of an API elsewhere.
// Empty api-base: the API is where the page is (on API Gateway that includes the stage, e.g. /api).
const API_BASE = ((document.querySelector('meta[name="api-base"]')?.content || '').trim()
  || window.location.pathname.replace(/\/[^/]*$/, '')).replace(/\/+$/, '');

// Refresh the ID token a minute early so a request never leaves with a token that
// expires in flight.
const REFRESH_MARGIN_MS = 60 * 1000;

const STORAGE_KEYS = {
  idToken: 'portal.id_token',
  refreshToken: 'portal.refresh_token',
  expiresAt: 'portal.expires_at',
};

const STATUS_LABELS = {
  cancelled: 'Cancelled',
  completed: 'Completed',
  patient_confirmed: 'Patient confirmed',
  pending_cancel: 'Pending cancel',
  awaiting_response: 'Awaiting your response',
};

const MESSAGES = {
  badLogin: 'Email or password is incorrect.',
  sessionExpired: 'Your session has expired. Please log in again.',
  network: "Could not reach the clinic's portal. Check your connection and try again.",
  notPatient: 'This account cannot use the client portal. Please contact the clinic.',
  noVisits: 'No visits in this date range.',
  loading: 'Loading visits…',
};

// ---------------------------------------------------------------------------
// Small DOM helpers
// ---------------------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

/** Creates an element with optional class and text (text is always set as textContent). */
function el(tag, { className, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

/**
 * Shows a message in a live region. kind: 'error' | 'notice'. The region sits above the
 * visits, so it is scrolled into view: after acting on a visit far down the list (or on a
 * phone), the cancel notice or "call the clinic" would otherwise appear off screen.
 */
function showMessage(region, text, kind = 'error') {
  region.textContent = text;
  region.dataset.kind = kind;
  region.scrollIntoView({ block: 'nearest' });
}

function clearMessage(region) {
  region.textContent = '';
  delete region.dataset.kind;
}

// ---------------------------------------------------------------------------
// Token storage (sessionStorage: survives a reload, not a closed tab)
// ---------------------------------------------------------------------------

function saveTokens({ id_token, refresh_token, expires_in }) {
  sessionStorage.setItem(STORAGE_KEYS.idToken, id_token);
  // /auth/refresh does not return a new refresh token: keep the one we have.
  if (refresh_token) sessionStorage.setItem(STORAGE_KEYS.refreshToken, refresh_token);
  // No lifetime given: store 0 ("unknown") and rely on the 401 → refresh path alone.
  const expiresAt = Number(expires_in) > 0 ? Date.now() + Number(expires_in) * 1000 : 0;
  sessionStorage.setItem(STORAGE_KEYS.expiresAt, String(expiresAt));
}

function loadTokens() {
  const idToken = sessionStorage.getItem(STORAGE_KEYS.idToken);
  if (!idToken) return null;
  return {
    idToken,
    refreshToken: sessionStorage.getItem(STORAGE_KEYS.refreshToken),
    expiresAt: Number(sessionStorage.getItem(STORAGE_KEYS.expiresAt)) || 0,
  };
}

function clearTokens() {
  for (const key of Object.values(STORAGE_KEYS)) sessionStorage.removeItem(key);
}

// ---------------------------------------------------------------------------
// API client
// ---------------------------------------------------------------------------

/** The API answered with an error status. `message` is the API's Message (or a fallback). */
class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** fetch itself failed: offline, DNS, CORS, server down. */
class NetworkError extends Error {}

/** The refresh token no longer works: the patient has to log in again. */
class SessionExpiredError extends Error {}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null; // An empty or non-JSON body (e.g. a proxy's HTML error page).
  }
}

/** One HTTP round trip, no auth logic. Resolves with the parsed body or throws ApiError/NetworkError. */
async function request(method, path, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;

  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new NetworkError(MESSAGES.network);
  }

  const data = await readJson(response);
  if (!response.ok) {
    const message = typeof data?.Message === 'string' && data.Message
      ? data.Message
      : `Something went wrong (error ${response.status}). Please try again.`;
    throw new ApiError(response.status, message, data?.Code);
  }
  return data;
}

// Several requests may find the token stale at once; they share one refresh call so
// the refresh token is used once.
let refreshInFlight = null;

function refreshTokens() {
  if (!refreshInFlight) {
    refreshInFlight = (async () => {
      const refreshToken = loadTokens()?.refreshToken;
      if (!refreshToken) throw new SessionExpiredError(MESSAGES.sessionExpired);
      try {
        saveTokens(await request('POST', '/auth/refresh', { body: { refresh_token: refreshToken } }));
      } catch (error) {
        // Offline is not an expired session: keep the tokens and let the caller retry.
        if (error instanceof NetworkError) throw error;
        throw new SessionExpiredError(MESSAGES.sessionExpired);
      }
    })().finally(() => { refreshInFlight = null; });
  }
  return refreshInFlight;
}

/** An authenticated API call: refreshes before expiry, and once more after a 401. */
async function api(method, path, body) {
  let tokens = loadTokens();
  if (!tokens) throw new SessionExpiredError(MESSAGES.sessionExpired);
  if (tokens.expiresAt && Date.now() > tokens.expiresAt - REFRESH_MARGIN_MS) {
    await refreshTokens();
    tokens = loadTokens();
  }
  try {
    return await request(method, path, { body, token: tokens.idToken });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  await refreshTokens();
  try {
    return await request(method, path, { body, token: loadTokens().idToken });
  } catch (error) {
    // A fresh token that is still refused: nothing more we can do without a new login.
    if (error instanceof ApiError && error.status === 401) throw new SessionExpiredError(MESSAGES.sessionExpired);
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Dates and times (always the clinic's time zone, never the browser's)
// ---------------------------------------------------------------------------

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2026-12-01" → "Tue, Dec 1, 2026". A calendar date, so it is formatted in UTC to avoid any shift. */
function formatDate(isoDate) {
  const match = ISO_DATE.exec(isoDate || '');
  if (!match) return String(isoDate ?? '');
  const [, year, month, day] = match.map(Number);
  return new Intl.DateTimeFormat('en-US', {
    weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC',
  }).format(new Date(Date.UTC(year, month - 1, day)));
}

/** Now in the clinic's time zone as "YYYY-MM-DDTHH:MM", comparable as a string with a visit's start. */
function clinicNow(timeZone) {
  const options = {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  };
  let formatter;
  try {
    formatter = new Intl.DateTimeFormat('en-CA', { ...options, timeZone });
  } catch {
    formatter = new Intl.DateTimeFormat('en-CA', options); // Unknown zone: the browser's is the best guess.
  }
  const parts = Object.fromEntries(formatter.formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/**
 * Past = its start is before now, or the clinic completed it. A visit the clinic cancelled
 * stays where its date puts it: a cancelled visit next month is not a past visit.
 */
function isPast(visit, now) {
  if (visit.status === 'completed') return true;
  return `${visit.date}T${visit.start_time}` < now;
}

// ---------------------------------------------------------------------------
// Page state
// ---------------------------------------------------------------------------

const state = {
  me: null, // /portal/me
  visits: [], // the Visits currently listed
  range: null, // { from, to } as the API last answered
  timezone: null,
  // Bumped on log out, so answers to requests sent before it are ignored.
  generation: 0,
};

function clinicPhoneSentence() {
  const phone = state.me?.clinic?.phone;
  return phone ? `Please call the clinic at ${phone}.` : 'Please call the clinic.';
}

// ---------------------------------------------------------------------------
// Rendering the visit tables
// ---------------------------------------------------------------------------

let cellIdCounter = 0;

function statusLabel(status) {
  return STATUS_LABELS[status] || String(status ?? '').replace(/_/g, ' ');
}

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
  confirm: { text: 'Confirm', className: 'button--confirm' },
  cancel: { text: 'Cancel', className: 'button--danger' },
  change: { text: 'Change', className: 'button--link' },
};

function buildStatusCell(visit, describedBy) {
  const cell = el('td', { className: 'status-cell', attrs: { 'data-label': 'Status' } });
  // One wrapper, so the status and its buttons stay together in the narrow card layout.
  const body = el('div', { className: 'status-body' });
  body.append(el('span', { className: 'status-text', text: statusLabel(visit.status) }));
  const actions = actionsFor(visit);
  if (actions.length) {
    const group = el('span', { className: 'status-actions' });
    for (const action of actions) {
      const { text, className } = ACTION_BUTTONS[action];
      group.append(actionButton(action, text, className, describedBy));
    }
    body.append(' ', group);
  }
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

  const dateCell = el('td', { attrs: { 'data-label': 'Date', id: dateId } });
  dateCell.append(el('time', { text: formatDate(visit.date), attrs: { datetime: String(visit.date) } }));
  const timeCell = el('td', { attrs: { 'data-label': 'Start time', id: timeId } });
  timeCell.append(el('time', { text: String(visit.start_time ?? ''), attrs: { datetime: String(visit.start_time ?? '') } }));

  row.append(
    dateCell,
    timeCell,
    el('td', { text: String(visit.provider ?? ''), attrs: { 'data-label': 'Provider' } }),
    el('td', { text: String(visit.location ?? ''), attrs: { 'data-label': 'Location' } }),
    buildStatusCell(visit, `${dateId} ${timeId}`),
  );
  return row;
}

function renderSection(section, visits, past) {
  const table = section.querySelector('table');
  const rows = visits.map((visit) => buildRow(visit, past));
  table.tBodies[0].replaceChildren(...rows);
  table.classList.toggle('is-empty', rows.length === 0);
  section.querySelector('.empty-note').hidden = rows.length > 0;
}

function renderVisits() {
  const now = clinicNow(state.timezone);
  const upcoming = state.visits.filter((v) => !isPast(v, now));
  // Most recent first: the last visit is the one a patient looks for.
  const past = state.visits.filter((v) => isPast(v, now)).reverse();

  const none = state.visits.length === 0;
  $('#upcoming-section').hidden = none;
  $('#past-section').hidden = none;
  renderSection($('#upcoming-section'), upcoming, false);
  renderSection($('#past-section'), past, true);

  $('#visits-summary').textContent = none
    ? MESSAGES.noVisits
    : `${plural(upcoming.length, 'upcoming visit')} and ${plural(past.length, 'past visit')} in this date range.`;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function renderTimezoneNote() {
  const tz = state.timezone;
  $('#timezone-note').textContent = tz ? `Dates and times are in the clinic's time zone (${tz}).` : '';
}

/**
 * Keeps keyboard focus on the same visit after its row was rebuilt. Without scrolling: the
 * row was rebuilt where the patient acted, and a message just shown must stay in view.
 */
function focusVisit(visitId, preferredActions) {
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
  $('#signed-in-as').textContent = `Signed in as ${String(state.me?.patient?.name ?? '')}`;
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
  try {
    await Promise.all([loadMe(), loadVisits(null)]);
    if (focusTitle && generation === state.generation) $('#portal-title').focus();
  } catch (error) {
    handlePortalError(error);
  }
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
  const region = $('#portal-message');
  if (error instanceof NetworkError) {
    showMessage(region, MESSAGES.network);
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
// Visit actions: confirm, cancel (with dialog), change
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

const responsePath = (visitId) => `/portal/sessions/${encodeURIComponent(visitId)}/response`;

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

// The row whose Cancel opened the dialog, and whether its request is in flight.
const cancelDialogState = { row: null, sending: false };

function openCancelDialog(row) {
  const visit = state.visits.find((v) => String(v.id) === row.dataset.visitId);
  if (!visit) return;
  cancelDialogState.row = row;
  const where = [visit.provider, visit.location].filter(Boolean).map(String).join(', ');
  $('#cancel-dialog-visit').textContent =
    `${formatDate(visit.date)} at ${String(visit.start_time ?? '')}${where ? ` — ${where}` : ''}`;
  $('#cancel-reason').value = '';
  clearMessage($('#portal-message'));
  $('#cancel-dialog').showModal(); // Modal: traps focus, Escape closes.
}

function closeCancelDialog() {
  const dialog = $('#cancel-dialog');
  if (dialog.open) dialog.close();
}

async function sendCancellation(event) {
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
    if (notice) showMessage($('#portal-message'), String(notice), 'notice');
    focusVisit(visit.id, ['change']);
  } else {
    focusVisit(row.dataset.visitId, ['cancel', 'confirm']);
  }
}

function setUpCancelDialog() {
  const dialog = $('#cancel-dialog');
  $('#cancel-form').addEventListener('submit', sendCancellation);
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

function onVisitActionClick(event) {
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
// Logging in, new password, logging out
// ---------------------------------------------------------------------------

// The NEW_PASSWORD_REQUIRED challenge, kept in memory only.
let pendingChallenge = null;

function showView(name) {
  $('#login-view').hidden = name !== 'login';
  $('#portal-view').hidden = name !== 'portal';
  $('#account').hidden = name !== 'portal' || !state.me;
}

/** Shows the login form, optionally with a message (e.g. session expired). */
function showLogin(message) {
  removeNewPasswordStep();
  $('#login-form').hidden = false;
  $('#login-password').value = '';
  const region = $('#login-message');
  if (message) showMessage(region, message);
  else clearMessage(region);
  showView('login');
  $('#login-email').focus();
}

/** Forgets everything about the logged-in patient. */
function resetPortal() {
  state.generation += 1;
  state.me = null;
  state.visits = [];
  state.range = null;
  state.timezone = null;
  closeCancelDialog();
  clearMessage($('#portal-message'));
  $('#clinic-name').textContent = 'Client portal';
  document.title = 'Scheduling – Client portal';
  $('#signed-in-as').textContent = '';
  $('#range-from').value = '';
  $('#range-to').value = '';
  $('#timezone-note').textContent = '';
  $('#visits-summary').textContent = '';
  $('#upcoming-section').hidden = true;
  $('#past-section').hidden = true;
  document.querySelectorAll('.visits-table tbody').forEach((tbody) => tbody.replaceChildren());
}

function endSession(message) {
  clearTokens();
  resetPortal();
  showLogin(message);
}

const expireSession = () => endSession(MESSAGES.sessionExpired);

function onLoginSuccess(tokens) {
  saveTokens(tokens);
  pendingChallenge = null;
  removeNewPasswordStep();
  clearMessage($('#login-message'));
  $('#login-form').reset();
  startPortal({ focusTitle: true });
}

/** Words for a failed /auth/* call. */
function authErrorMessage(error, { on401 }) {
  if (error instanceof NetworkError) return MESSAGES.network;
  if (error instanceof ApiError && error.status === 401 && on401) return on401;
  if (error instanceof ApiError) return error.message;
  console.error(error);
  return 'Something went wrong. Please try again.';
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const username = $('#login-email').value.trim();
  const password = $('#login-password').value;
  const button = $('#login-button');
  const region = $('#login-message');
  clearMessage(region);
  button.disabled = true;
  try {
    const result = await request('POST', '/auth/login', { body: { username, password } });
    if (result?.challenge === 'NEW_PASSWORD_REQUIRED') {
      pendingChallenge = { username, session: result.session };
      showNewPasswordStep();
    } else if (result?.id_token) {
      onLoginSuccess(result);
    } else {
      showMessage(region, 'The portal gave an answer this page does not understand. Please call the clinic.');
    }
  } catch (error) {
    showMessage(region, authErrorMessage(error, { on401: MESSAGES.badLogin }));
  } finally {
    button.disabled = false;
  }
}

// The step is stamped from a <template> only when needed: its "New password" input
// must not sit in the page next to "Password" the rest of the time.
function showNewPasswordStep() {
  removeNewPasswordStep();
  const form = $('#new-password-template').content.firstElementChild.cloneNode(true);
  form.addEventListener('submit', onNewPasswordSubmit);
  form.querySelector('#start-over-button').addEventListener('click', () => {
    pendingChallenge = null;
    showLogin();
  });
  $('#login-form').hidden = true;
  $('#new-password-slot').append(form);
  form.querySelector('#new-password').focus();
}

function removeNewPasswordStep() {
  $('#new-password-slot').replaceChildren();
}

async function onNewPasswordSubmit(event) {
  event.preventDefault();
  if (!pendingChallenge) return;
  const button = $('#set-password-button');
  const region = $('#login-message');
  clearMessage(region);
  button.disabled = true;
  try {
    const tokens = await request('POST', '/auth/new-password', {
      body: { ...pendingChallenge, new_password: $('#new-password').value },
    });
    onLoginSuccess(tokens);
  } catch (error) {
    // 400 carries the password policy in words; a 401 here means the challenge timed out.
    showMessage(region, authErrorMessage(error, { on401: 'This step has timed out. Please choose Start over and log in again.' }));
    if (button.isConnected) button.disabled = false;
  }
}

function onLogout() {
  endSession(null);
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

function init() {
  $('#login-form').addEventListener('submit', onLoginSubmit);
  $('#logout-button').addEventListener('click', onLogout);
  $('#range-form').addEventListener('submit', onRangeSubmit);
  $('#portal-view').addEventListener('click', onVisitActionClick);
  setUpCancelDialog();

  // A reload keeps the patient logged in: the tokens are in sessionStorage.
  if (loadTokens()) startPortal({ focusTitle: false });
  else showLogin();
}

init();
