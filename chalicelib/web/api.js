// The portal API client: one fetch wrapper, its three kinds of failure, and the ID-token
// refresh, so every request handles a stale or refused token the same way.
// The API contract is ../shared/portal-api.md (the contract document beside this repository).

import { loadClinic, loadTokens, saveTokens } from './session.js';

// Read once: the page may be deployed as static files in front of an API elsewhere.
// Empty api-base: the API is where the page is (on API Gateway that includes the stage, e.g. /api).
const API_BASE = ((document.querySelector('meta[name="api-base"]')?.content || '').trim()
  || window.location.pathname.replace(/\/[^/]*$/, '')).replace(/\/+$/, '');

// Refresh the ID token a minute early so a request never leaves with a token that
// expires in flight.
const REFRESH_MARGIN_MS = 60 * 1000;

/**
 * The API answered with an error status. The page words it from `code` and `status`
 * (messages.js); the API's English Message is kept for the console only.
 */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** fetch itself failed: offline, DNS, CORS, server down. */
export class NetworkError extends Error {}

/** The refresh token no longer works: the patient has to log in again. */
export class SessionExpiredError extends Error {}

/** The API could not refresh the session just now (too many requests, or trouble on its side):
 *  the patient stays logged in and tries again. */
export class RetryLaterError extends Error {}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null; // An empty or non-JSON body (e.g. a proxy's HTML error page).
  }
}

/**
 * One HTTP round trip, no auth logic. Resolves with the parsed body (or, with `as: 'blob'`, the
 * body as a Blob of its own type) or throws ApiError/NetworkError.
 */
export async function request(method, path, { body, token, as = 'json' } = {}) {
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  // A person of several clinics names the chosen one on every request of theirs.
  const clinicId = token ? loadClinic() : null;
  if (clinicId) headers['X-Clinic-Id'] = clinicId;

  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new NetworkError('network');
  }

  if (response.ok && as === 'blob') {
    try {
      return await response.blob();
    } catch {
      throw new NetworkError('network'); // The connection dropped mid-body.
    }
  }
  const data = await readJson(response);
  if (!response.ok) {
    const message = typeof data?.Message === 'string' ? data.Message : `HTTP ${response.status}`;
    throw new ApiError(response.status, message, typeof data?.Code === 'string' ? data.Code : undefined);
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
      if (!refreshToken) throw new SessionExpiredError('session expired');
      try {
        saveTokens(await request('POST', '/auth/refresh', { body: { refresh_token: refreshToken } }));
      } catch (error) {
        // Only the API saying the refresh token is bad (400, 401) ends the session. Offline, too
        // many requests (429) or trouble on its side (5xx) is not an expired session: keep the
        // tokens and let the patient try again.
        if (error instanceof NetworkError) throw error;
        if (error instanceof ApiError && (error.status === 400 || error.status === 401)) {
          throw new SessionExpiredError('session expired');
        }
        throw new RetryLaterError('retry later');
      }
    })().finally(() => { refreshInFlight = null; });
  }
  return refreshInFlight;
}

/**
 * An authenticated API call: refreshes before expiry, and once more after a 401.
 * `options.as = 'blob'` answers a file (a calendar file) instead of JSON.
 */
export async function api(method, path, body, { as = 'json' } = {}) {
  let tokens = loadTokens();
  if (!tokens) throw new SessionExpiredError('session expired');
  if (tokens.expiresAt && Date.now() > tokens.expiresAt - REFRESH_MARGIN_MS) {
    await refreshTokens();
    tokens = loadTokens();
  }
  try {
    return await request(method, path, { body, token: tokens.idToken, as });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  await refreshTokens();
  try {
    return await request(method, path, { body, token: loadTokens().idToken, as });
  } catch (error) {
    // A fresh token that is still refused: nothing more we can do without a new login.
    if (error instanceof ApiError && error.status === 401) throw new SessionExpiredError('session expired');
    throw error;
  }
}

/** Where a visit's answer lives: PUT confirms or cancels it, DELETE takes it back (Change). */
export const responsePath = (visitId) => `/portal/sessions/${encodeURIComponent(visitId)}/response`;

/** A visit's calendar file (.ics). */
export const calendarFilePath = (visitId) => `/portal/sessions/${encodeURIComponent(visitId)}/calendar.ics`;

/** The address of an API path, for a link's href (what it points at, not how it is fetched). */
export const apiUrl = (path) => API_BASE + path;
