// Dates, times and words as the patient reads them, in the page's language (Intl writes
// them the locale's way: "Tue, Dec 8, 2026 · 11:30 AM", "mar, 8 dic 2026 · 11:30 a. m.").
// Visits happen at the clinic, so dates and times are always in the clinic's time zone,
// never the browser's.

import { hour12, intlLocale, t } from './i18n.js';

const STATUS_KEYS = {
  cancelled: 'status.cancelled',
  completed: 'status.completed',
  patient_confirmed: 'status.patient_confirmed',
  pending_cancel: 'status.pending_cancel',
  awaiting_response: 'status.awaiting_response',
};

/** A status in words; one a newer API added reads "Status unknown" rather than its code. */
export function statusLabel(status) {
  return t(Object.hasOwn(STATUS_KEYS, status) ? STATUS_KEYS[status] : 'status.unknown');
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CLOCK = /^(\d{2}):(\d{2})$/;
const DATE_OPTIONS = { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' };

/** "2026-12-01" → "Tue, Dec 1, 2026". A calendar date, so it is formatted in UTC to avoid any shift. */
export function formatDate(isoDate) {
  const match = ISO_DATE.exec(isoDate || '');
  if (!match) return String(isoDate ?? '');
  const [, year, month, day] = match.map(Number);
  return new Intl.DateTimeFormat(intlLocale(), { ...DATE_OPTIONS, timeZone: 'UTC' })
    .format(new Date(Date.UTC(year, month - 1, day)));
}

/** "14:00" (the clinic's wall clock) → "2:00 PM" / "2:00 p. m.". */
export function formatClock(clock) {
  const match = CLOCK.exec(clock || '');
  if (!match) return String(clock ?? '');
  const [, hour, minute] = match.map(Number);
  return new Intl.DateTimeFormat(intlLocale(), { hour: 'numeric', minute: '2-digit', hour12: hour12(), timeZone: 'UTC' })
    .format(new Date(Date.UTC(2000, 0, 1, hour, minute)));
}

/** A visit's date and start as one phrase: "Tue, Dec 8, 2026 · 11:30 AM". */
export function formatSlot(isoDate, clock) {
  if (!clock) return formatDate(isoDate);
  return t('slot.dateTime', { date: formatDate(isoDate), time: formatClock(clock) });
}

function formatter(options, timeZone) {
  try {
    return new Intl.DateTimeFormat(intlLocale(), { ...options, timeZone });
  } catch {
    return new Intl.DateTimeFormat(intlLocale(), options); // Unknown zone: the browser's.
  }
}

/** An instant ("2026-12-01T20:04:00Z") as "Tue, Dec 1, 2026 · 3:04 PM" in the clinic's time zone. */
export function formatMoment(isoInstant, timeZone) {
  const moment = new Date(String(isoInstant ?? ''));
  if (Number.isNaN(moment.getTime())) return String(isoInstant ?? '');
  return t('slot.dateTime', {
    date: formatter(DATE_OPTIONS, timeZone).format(moment),
    time: formatter({ hour: 'numeric', minute: '2-digit', hour12: hour12() }, timeZone).format(moment),
  });
}

/** The zone's name as the locale says it ("Eastern Time", "hora oriental"); the IANA id if Intl has none. */
export function zoneName(timeZone) {
  if (!timeZone) return '';
  try {
    const parts = new Intl.DateTimeFormat(intlLocale(), { timeZone, timeZoneName: 'longGeneric' }).formatToParts(new Date());
    return parts.find((p) => p.type === 'timeZoneName')?.value || timeZone;
  } catch {
    return timeZone;
  }
}

/** Now in the clinic's time zone as "YYYY-MM-DDTHH:MM", comparable as a string with a visit's start. */
export function clinicNow(timeZone) {
  const options = {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  };
  let clock;
  try {
    clock = new Intl.DateTimeFormat('en-CA', { ...options, timeZone });
  } catch {
    clock = new Intl.DateTimeFormat('en-CA', options); // Unknown zone: the browser's is the best guess.
  }
  const parts = Object.fromEntries(clock.formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/**
 * Past = its start is before now, or the clinic completed it. A visit the clinic cancelled
 * stays where its date puts it: a cancelled visit next month is not a past visit.
 */
export function isPast(visit, now) {
  if (visit.status === 'completed') return true;
  return `${visit.date}T${visit.start_time}` < now;
}
