// Sentences the patient reads that several modules show, so each is worded once.

export const MESSAGES = {
  badLogin: 'Email or password is incorrect.',
  sessionExpired: 'Your session has expired. Please log in again.',
  network: "Could not reach the clinic's portal. Check your connection and try again.",
  busy: 'The portal is busy right now. You are still logged in: please try again in a minute.',
  tooManyChanges: 'This visit has been changed too many times online.',
  notPatient: 'This account cannot use the client portal. Please contact the clinic.',
  noVisits: 'No visits in this date range.',
  loading: 'Loading visits…',
  clinicGone: 'That clinic is no longer in your portal. Please choose a clinic.',
};
