// The patient's own choices: reminder emails on or off (GET / PATCH /portal/preferences). The
// checkbox saves at once and says so; a failure puts it back as it was.

import { api } from './api.js';
import { $ } from './dom.js';
import { state } from './state.js';

let reportError = () => {};

/** Loads the preferences into the page (the checkbox stays disabled until they are known). */
export async function loadPreferences() {
  const generation = state.generation;
  const preferences = await api('GET', '/portal/preferences');
  if (generation !== state.generation) return;
  const box = $('#email-reminders');
  box.checked = Boolean(preferences?.email_reminders);
  box.disabled = false;
}

export function forgetPreferences() {
  const box = $('#email-reminders');
  box.checked = false;
  box.disabled = true;
  $('#reminders-status').textContent = '';
}

async function onReminderChoice(event) {
  const box = event.target;
  const wanted = box.checked;
  const generation = state.generation;
  box.disabled = true;
  $('#reminders-status').textContent = 'Saving…';
  try {
    const saved = await api('PATCH', '/portal/preferences', { email_reminders: wanted });
    if (generation !== state.generation) return;
    box.checked = Boolean(saved?.email_reminders);
    $('#reminders-status').textContent = box.checked
      ? 'Saved: you will get reminder emails.'
      : 'Saved: you will not get reminder emails.';
  } catch (error) {
    if (generation !== state.generation) return;
    box.checked = !wanted;
    $('#reminders-status').textContent = '';
    reportError(error);
  } finally {
    if (generation === state.generation) box.disabled = false;
  }
}

export function setUpPreferences({ onError }) {
  reportError = onError;
  $('#email-reminders').addEventListener('change', onReminderChoice);
}
