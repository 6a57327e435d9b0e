// A person who is a patient of several clinics chooses one after logging in (GET /portal/me
// lists them, by name); the choice is kept for the session (session.js) and named on every
// request (api.js). "Switch clinic" in the header chooses again. With one clinic none of this
// shows: the page is the same as it always was.

import { $, clearMessage, el, showMessage } from './dom.js';
import { showView } from './login.js';
import { saveClinic } from './session.js';
import { state } from './state.js';

// app.js's, handed in by setUpClinics: this module does not import app.js back.
let onChosen = null;

/** Whether the person is a patient of more than one clinic. */
export const hasSeveralClinics = (me) => Array.isArray(me?.clinics) && me.clinics.length > 1;

/** Whether the page must ask which clinic: several, and none chosen for this answer. */
export const mustChooseClinic = (me) => hasSeveralClinics(me) && !me?.clinic;

/** Shows the person's clinics as buttons, optionally with a message (a choice that no longer works). */
export function showClinicChoice(message) {
  const buttons = (state.me?.clinics || []).map((clinic) => {
    const item = el('li');
    item.append(el('button', {
      className: 'button button--secondary clinic-choice',
      text: String(clinic?.name || clinic?.id || ''),
      attrs: { type: 'button', 'data-clinic-id': String(clinic?.id ?? '') },
    }));
    return item;
  });
  $('#clinic-list').replaceChildren(...buttons);
  const region = $('#clinic-message');
  if (message) showMessage(region, message);
  else clearMessage(region);
  showView('clinics');
  $('#clinic-title').focus();
}

function onClinicClick(event) {
  const button = event.target.closest('button[data-clinic-id]');
  if (!button) return;
  saveClinic(button.dataset.clinicId);
  onChosen();
}

export function setUpClinics(handlers) {
  onChosen = handlers.onChosen;
  $('#clinic-list').addEventListener('click', onClinicClick);
  $('#switch-clinic-button').addEventListener('click', handlers.onSwitch);
}
