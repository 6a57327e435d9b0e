// Dates, times and words as the patient reads them. Visits happen at the clinic, so dates
// and times are always in the clinic's time zone, never the browser's.

const STATUS_LABELS = {
  cancelled: 'Cancelled',
  completed: 'Completed',
  patient_confirmed: 'Patient confirmed',
  pending_cancel: 'Pending cancel',
  awaiting_response: 'Awaiting your response',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status ?? '').replace(/_/g, ' ');
}

export function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2026-12-01" → "Tue, Dec 1, 2026". A calendar date, so it is formatted in UTC to avoid any shift. */
export function formatDate(isoDate) {
  const match = ISO_DATE.exec(isoDate || '');
  if (!match) return String(isoDate ?? '');
  const [, year, month, day] = match.map(Number);
  return new Intl.DateTimeFormat('en-US', {
    weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC',
  }).format(new Date(Date.UTC(year, month - 1, day)));
}

/** An instant ("2026-12-01T20:04:00Z") as "Tue, Dec 1 at 3:04 PM" in the clinic's time zone. */
export function formatMoment(isoInstant, timeZone) {
  const moment = new Date(String(isoInstant ?? ''));
  if (Number.isNaN(moment.getTime())) return String(isoInstant ?? '');
  const options = { weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' };
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-US', { ...options, timeZone }).formatToParts(moment);
  } catch {
    parts = new Intl.DateTimeFormat('en-US', options).formatToParts(moment); // Unknown zone: the browser's.
  }
  const part = (type) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('weekday')}, ${part('month')} ${part('day')} at ${part('hour')}:${part('minute')} ${part('dayPeriod')}`;
}

/** Now in the clinic's time zone as "YYYY-MM-DDTHH:MM", comparable as a string with a visit's start. */
export function clinicNow(timeZone) {
  const options = {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  };
  let formatter;
  try {
    formatter = new Intl.DateTimeFormat('en-CA', { ...options, timeZone });
  } catch {
    formatter = new Intl.DateTimeFormat('en-CA', options); // Unknown zone: the browser's is the best guess.
  }
  const parts = Object.fromEntries(formatter.formatToParts(new Date()).map((p) => [p.type, p.value]));
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
