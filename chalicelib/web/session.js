// Where the login's tokens are kept, and the clinic a person of several clinics chose.
// sessionStorage: they survive a reload, not a closed tab.

const STORAGE_KEYS = {
  idToken: 'portal.id_token',
  refreshToken: 'portal.refresh_token',
  expiresAt: 'portal.expires_at',
  clinicId: 'portal.clinic_id',
};

export function saveTokens({ id_token, refresh_token, expires_in }) {
  sessionStorage.setItem(STORAGE_KEYS.idToken, id_token);
  // /auth/refresh does not return a new refresh token: keep the one we have.
  if (refresh_token) sessionStorage.setItem(STORAGE_KEYS.refreshToken, refresh_token);
  // No lifetime given: store 0 ("unknown") and rely on the 401 → refresh path alone.
  const expiresAt = Number(expires_in) > 0 ? Date.now() + Number(expires_in) * 1000 : 0;
  sessionStorage.setItem(STORAGE_KEYS.expiresAt, String(expiresAt));
}

export function loadTokens() {
  const idToken = sessionStorage.getItem(STORAGE_KEYS.idToken);
  if (!idToken) return null;
  return {
    idToken,
    refreshToken: sessionStorage.getItem(STORAGE_KEYS.refreshToken),
    expiresAt: Number(sessionStorage.getItem(STORAGE_KEYS.expiresAt)) || 0,
  };
}

export function clearTokens() {
  for (const key of Object.values(STORAGE_KEYS)) sessionStorage.removeItem(key);
}

/** The clinic chosen for this session (only a person of several clinics chooses one), or null. */
export function loadClinic() {
  return sessionStorage.getItem(STORAGE_KEYS.clinicId) || null;
}

export function saveClinic(clinicId) {
  if (clinicId) sessionStorage.setItem(STORAGE_KEYS.clinicId, clinicId);
  else sessionStorage.removeItem(STORAGE_KEYS.clinicId);
}
