// Logging in (with Cognito's new-password step), logging out, and switching between the
// logged-out and the logged-in view.

import { ApiError, NetworkError, request } from './api.js';
import { resetCalendar } from './calendar.js';
import { closeCancelDialog } from './dialogs.js';
import { $, clearMessage, showMessage } from './dom.js';
import { forgetHistories } from './history.js';
import { MESSAGES } from './messages.js';
import { forgetPreferences } from './preferences.js';
import { clearTokens, loadTokens, saveTokens } from './session.js';
import { state } from './state.js';

// The NEW_PASSWORD_REQUIRED challenge, kept in memory only.
let pendingChallenge = null;

// app.js's, handed in by setUpLogin: this module does not import app.js back.
let startPortal = null;

export function showView(name) {
  $('#login-view').hidden = name !== 'login';
  $('#portal-view').hidden = name !== 'portal';
  $('#clinic-view').hidden = name !== 'clinics';
  $('#account').hidden = name === 'login' || !state.me;
}

/** Shows the login form, optionally with a message (e.g. session expired). */
export function showLogin(message) {
  removeNewPasswordStep();
  $('#login-form').hidden = false;
  $('#login-password').value = '';
  const region = $('#login-message');
  if (message) showMessage(region, message);
  else clearMessage(region);
  showView('login');
  $('#login-email').focus();
}

/** Forgets everything about the logged-in patient (on log out, and before switching clinic). */
export function resetPortal() {
  state.generation += 1;
  state.me = null;
  state.visits = [];
  state.range = null;
  state.timezone = null;
  closeCancelDialog();
  resetCalendar();
  forgetHistories();
  forgetPreferences();
  clearMessage($('#portal-message'));
  $('#clinic-name').textContent = 'Client portal';
  document.title = 'Scheduling – Client portal';
  $('#signed-in-as').textContent = '';
  $('#switch-clinic-button').hidden = true;
  $('#clinic-list').replaceChildren();
  $('#range-from').value = '';
  $('#range-to').value = '';
  $('#timezone-note').textContent = '';
  $('#visits-summary').textContent = '';
  $('#upcoming-section').hidden = true;
  $('#past-section').hidden = true;
  document.querySelectorAll('.visits-table tbody').forEach((tbody) => tbody.replaceChildren());
}

export function endSession(message) {
  clearTokens();
  resetPortal();
  showLogin(message);
}

export const expireSession = () => endSession(MESSAGES.sessionExpired);

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
    } else if (result?.challenge === 'SOFTWARE_TOKEN_MFA' || result?.challenge === 'MFA_SETUP') {
      // A staff login (staff answer a second-factor code): this page is the patients' portal.
      showMessage(region, MESSAGES.notPatient);
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

// How long Log out waits for the API to revoke the refresh token before leaving anyway.
const LOGOUT_WAIT_MS = 3000;

/** Revokes the refresh token (POST /auth/logout), then forgets the session whatever the answer:
 *  a patient who asked to leave is never kept logged in by a slow or failing network. */
async function onLogout() {
  const refreshToken = loadTokens()?.refreshToken;
  const button = $('#logout-button');
  button.disabled = true;
  try {
    if (refreshToken) {
      const revoke = request('POST', '/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => {});
      await Promise.race([revoke, new Promise((resolve) => { setTimeout(resolve, LOGOUT_WAIT_MS); })]);
    }
  } finally {
    button.disabled = false;
    endSession(null);
  }
}

export function setUpLogin(handlers) {
  startPortal = handlers.startPortal;
  $('#login-form').addEventListener('submit', onLoginSubmit);
  $('#logout-button').addEventListener('click', onLogout);
}
