// Logging in (with Cognito's new-password step), logging out, and switching between the
// logged-out and the logged-in view.

import { request } from './api.js';
import { resetCalendar } from './calendar.js';
import { closeCancelDialog } from './dialogs.js';
import { $, clearMessage, showMessage } from './dom.js';
import { forgetHistories } from './history.js';
import { setText, t } from './i18n.js';
import { errorMessage } from './messages.js';
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
  setText($('#clinic-name'), 'header.brand');
  $('#clinic-name').removeAttribute('title');
  document.title = t('page.titleLoggedOut');
  setText($('#signed-in-as'), null);
  $('#switch-clinic-button').hidden = true;
  $('#clinic-list').replaceChildren();
  $('#range-from').value = '';
  $('#range-to').value = '';
  setText($('#timezone-note'), null);
  setText($('#visits-summary'), null);
  $('#upcoming-section').hidden = true;
  $('#past-section').hidden = true;
  document.querySelectorAll('.visits-table tbody').forEach((tbody) => tbody.replaceChildren());
}

export function endSession(message) {
  clearTokens();
  resetPortal();
  showLogin(message);
}

export const expireSession = () => endSession({ key: 'errors.sessionExpired' });

function onLoginSuccess(tokens) {
  saveTokens(tokens);
  pendingChallenge = null;
  removeNewPasswordStep();
  clearMessage($('#login-message'));
  $('#login-form').reset();
  startPortal({ focusTitle: true });
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
      showMessage(region, { key: 'errors.notPatient' });
    } else if (result?.id_token) {
      onLoginSuccess(result);
    } else {
      showMessage(region, { key: 'errors.unexpectedAnswer' });
    }
  } catch (error) {
    showMessage(region, errorMessage(error, { step: 'login' }));
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
    // 400: the password breaks the rules; 401 here means the challenge timed out.
    showMessage(region, errorMessage(error, { step: 'newPassword' }));
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
