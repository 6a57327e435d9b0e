// The patient's own choices (GET / PATCH /portal/preferences): reminder emails on or off, and
// the language, which decides the page once logged in. The checkbox saves at once and says so;
// a failure puts it back as it was.

import { api } from './api.js';
import { $ } from './dom.js';
import { isLanguage, language, setLanguage, setText } from './i18n.js';
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
  // The saved language decides once logged in (the switch before login was only for this tab).
  if (isLanguage(preferences?.language) && preferences.language !== language()) setLanguage(preferences.language);
}

/** Saves the switch's choice: reminders, calendar text and link pages follow it too. */
export async function saveLanguage(code) {
  await api('PATCH', '/portal/preferences', { language: code });
}

export function forgetPreferences() {
  const box = $('#email-reminders');
  box.checked = false;
  box.disabled = true;
  setText($('#reminders-status'), null);
}

async function onReminderChoice(event) {
  const box = event.target;
  const wanted = box.checked;
  const generation = state.generation;
  box.disabled = true;
  setText($('#reminders-status'), 'reminders.saving');
  try {
    const saved = await api('PATCH', '/portal/preferences', { email_reminders: wanted });
    if (generation !== state.generation) return;
    box.checked = Boolean(saved?.email_reminders);
    setText($('#reminders-status'), box.checked ? 'reminders.on' : 'reminders.off');
  } catch (error) {
    if (generation !== state.generation) return;
    box.checked = !wanted;
    setText($('#reminders-status'), null);
    reportError(error);
  } finally {
    if (generation === state.generation) box.disabled = false;
  }
}

export function setUpPreferences({ onError }) {
  reportError = onError;
  $('#email-reminders').addEventListener('change', onReminderChoice);
}
