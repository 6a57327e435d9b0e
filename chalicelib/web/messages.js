// What the page says when something fails: chosen from the API's error Code and HTTP status
// (and what the patient was doing), never from the API's English Message, so every failure
// reads in the patient's language. Each answer is a message { key, params } for i18n.js.
//
// The Codes the API answers (Chalice's error names, chalicelib/openapi.yaml "Errors"):
// BadRequestError 400, UnauthorizedError 401, ForbiddenError 403, NotFoundError 404,
// MethodNotAllowedError 405, UnsupportedMediaType 415, ConflictError 409,
// TooManyRequestsError 429, InternalServerError 500; API Gateway and its firewall add
// 403/413/429/502/503/504 whose bodies may not be JSON, hence the status as the fallback.

import { ApiError, NetworkError, RetryLaterError, SessionExpiredError } from './api.js';

// The user pools' password rules (chalicelib/accounts.py PASSWORD_POLICY; the catalog test checks both agree).
export const PASSWORD_MIN_LENGTH = 12;
// The longest range GET /portal/sessions answers (the contract: `to` − `from` ≤ 366 days).
export const MAX_RANGE_DAYS = 366;

const STATUS_OF_CODE = {
  BadRequestError: 400,
  UnauthorizedError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  MethodNotAllowedError: 405,
  RequestTimeoutError: 408,
  ConflictError: 409,
  UnsupportedMediaType: 415,
  UnprocessableEntityError: 422,
  TooManyRequestsError: 429,
  InternalServerError: 500,
};

/** The error's kind: its Code when the API sent a known one, else its HTTP status. */
function statusOf(error) {
  return STATUS_OF_CODE[error.code] ?? error.status;
}

const message = (key, params) => ({ key, params });

/** "… Please call the clinic at (555) 010-0100." when the clinic gave a number, without one otherwise. */
function withPhone(key, keyWithoutNumber, phone) {
  return phone ? message(key, { phone: String(phone) }) : message(keyWithoutNumber);
}

/**
 * Words for any failure. `context`:
 * - `action`: the visit action that failed ('confirm' | 'cancel' | 'change'), if any;
 * - `step`: 'login' | 'newPassword' for the /auth/* screens;
 * - `phone`: the clinic's number, when known;
 * - `patient`: whether /portal/me has answered (a staff login on this page gets 403 there).
 */
export function errorMessage(error, context = {}) {
  const { action, step, phone, patient } = context;
  if (error instanceof NetworkError) return message('errors.network');
  if (error instanceof SessionExpiredError) return message('errors.sessionExpired');
  if (error instanceof RetryLaterError) return message('errors.busy');
  if (!(error instanceof ApiError)) {
    console.error(error); // A bug in this page; say something rather than nothing.
    return message('errors.bug');
  }
  const status = statusOf(error);
  switch (status) {
    case 400:
      return step === 'newPassword' ? message('errors.passwordRules', { min: PASSWORD_MIN_LENGTH }) : message('errors.badInput');
    case 401:
      if (step === 'login') return message('errors.badLogin');
      if (step === 'newPassword') return message('errors.challengeExpired');
      return message('errors.sessionExpired');
    case 403:
      if (action === 'cancel') return withPhone('errors.cancelByPhone', 'errors.cancelByPhoneNoNumber', phone);
      if (step || patient === false) return message('errors.notPatient');
      return message('errors.forbidden');
    case 404:
      return action ? message('errors.visitGone') : message('errors.notFound');
    case 409:
      return action ? withPhone('errors.notOpen', 'errors.notOpenNoNumber', phone) : message('errors.conflict');
    case 405:
    case 406:
    case 415:
    case 422:
      return message('errors.outdatedPage');
    case 408:
    case 504:
      return message('errors.timeout');
    case 413:
      return message('errors.tooLarge');
    case 429:
      return action ? withPhone('errors.tooManyChanges', 'errors.tooManyChangesNoNumber', phone) : message('errors.tooManyRequests');
    default:
      if (status >= 500) return message('errors.server');
      return message('errors.unknown', { status: String(status) });
  }
}
