"""The clinic and its visits as the rules see them, read from the stored items.

A clinic item becomes a `ClinicContext` (its time zone, its policy, its cancel notice) and a
visit item a `rules.VisitState`. Items are edited by hand in the AWS console, so reading is
tolerant: the models already give a field of the wrong type its default (chalicelib/models.py);
here, text that is of the right type but means nothing (a time zone that does not exist, a
cutoff out of range, a start time that is not an instant) falls back to a safe default, or
leaves that one visit out, and is reported once (table, key, field; never the value).
Services return the named results below; `views` turns them into JSON.
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalicelib import rules, times
from chalicelib.errors import BadInput
from chalicelib.models import Clinic, HistoryEvent, Patient, Visit, unreadable

# Who made a write, as stamped on the visit (`changed_by`): the patient in the portal, the
# patient through a reminder's link, staff (`staff:<login>`), or the service itself (demo data,
# reminders). A change that leaves the stamp as it was (`change_id` unchanged) was made by hand
# in the console.
PATIENT_ACTOR = "patient"
REMINDER_LINK_ACTOR = "reminder-link"
SYSTEM_ACTOR = "system"
STAFF_ACTOR_PREFIX = "staff:"
CONSOLE_ACTOR = "console"
KNOWN_ACTORS = frozenset({PATIENT_ACTOR, REMINDER_LINK_ACTOR, SYSTEM_ACTOR})

# A new clinic's session classes (bootstrap, demo, benchmark, tests): name, cancelled-type.
DEFAULT_SESSION_CLASSES = (
    ("Individual therapy", False),
    ("Family therapy", False),
    ("Cancelled by client", True),
    ("Cancelled by clinic", True),
)


# What SES reported about a patient's address; reminders go only to an address that is "ok".
EMAIL_OK, EMAIL_BOUNCING, EMAIL_COMPLAINED = "ok", "bouncing", "complained"


def staff_actor(login: str) -> str:
    return f"{STAFF_ACTOR_PREFIX}{login}"


@dataclass(frozen=True)
class ClinicContext:
    """A clinic item read once per request, with what the rules and every view need from it."""

    clinic: Clinic
    tz: ZoneInfo
    policy: rules.ClinicPolicy
    classes: tuple[tuple[str, bool], ...]  # (name, cancelled-type), as the clinic's settings show them

    @classmethod
    def of(cls, clinic: Clinic) -> "ClinicContext":
        try:
            tz = times.parse_timezone(clinic.timezone)
        except BadInput:
            # A time zone mistyped in the console must not take the portal down.
            unreadable(clinic, "timezone")
            tz = times.UTC_ZONE
        if "session_classes" in clinic.raw_values:
            # Not a list at all: the classes every clinic starts with, until staff save theirs.
            classes = DEFAULT_SESSION_CLASSES
        else:
            classes = tuple((c.name, bool(c.cancelled)) for c in clinic.session_classes or [] if c.name)
        policy = rules.ClinicPolicy(
            cancelled_classes=rules.cancelled_class_names(classes),
            patient_cancel_enabled=bool(clinic.patient_cancel_enabled),
            cancel_cutoff_hours=_whole_hours(clinic),
            session_classes=frozenset(name for name, _ in classes),
        )
        return cls(clinic, tz, policy, classes)

    @property
    def name(self) -> str:
        return self.clinic.name or ""

    @property
    def cancel_notice(self) -> str:
        return (self.clinic.cancel_notice or "").strip() or rules.DEFAULT_CANCEL_NOTICE

    @property
    def show_provider(self) -> bool:
        """Whether patients' calendar events (and reminders) name the provider; yes unless the
        clinic's `reminders` map says `show_provider: false`."""
        reminders = self.clinic.reminders
        hidden = reminders is not None and reminders.show_provider is not None and not reminders.show_provider
        return not hidden

    @property
    def reminder_policy(self) -> rules.ReminderPolicy:
        """The clinic's reminders as the rules apply them: each part that is missing, or was typed
        into something unusable in the console, is the contract's default (and reported once)."""
        default = rules.ReminderPolicy()
        stored = self.clinic.reminders
        if stored is None:
            return rules.ReminderPolicy(show_provider=self.show_provider)
        return rules.ReminderPolicy(
            enabled=default.enabled if stored.enabled is None else bool(stored.enabled),
            hours_before=_lead_times(self.clinic, stored.hours_before) or default.hours_before,
            quiet_hours=_quiet_hours(self.clinic, stored.quiet_hours) or default.quiet_hours,
            show_provider=self.show_provider,
        )

    def today(self, now: datetime) -> date:
        return times.today_in(self.tz, now)


def _lead_times(clinic: Clinic, stored) -> tuple[int, ...] | None:
    """The stored `hours_before` as distinct whole hours in range (at most three); None when unset
    or when nothing in it can be used."""
    if stored is None:
        return None
    hours = []
    for value in stored if isinstance(stored, list) else [stored]:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = 0.5  # not a whole number: unusable
        if number.is_integer() and 1 <= number <= rules.MAX_REMINDER_HOURS and int(number) not in hours:
            hours.append(int(number))
        else:
            unreadable(clinic, "reminders.hours_before")
    return tuple(hours[: rules.MAX_REMINDERS]) or None


def _quiet_hours(clinic: Clinic, stored) -> rules.QuietHours | None:
    """The stored `quiet_hours` map (`start`, `end` as HH:MM); None when unset or unusable."""
    if stored is None:
        return None
    values = stored.as_dict() if hasattr(stored, "as_dict") else stored
    try:
        return rules.QuietHours(times.parse_clock_time(values["start"]), times.parse_clock_time(values["end"]))
    except (BadInput, KeyError, TypeError, AttributeError):
        unreadable(clinic, "reminders.quiet_hours")
        return None


def language_of(patient: Patient) -> str:
    """The patient's language; English when unset or typed into something unknown in the console."""
    language = (patient.language or "").strip().lower()
    if language and language not in rules.LANGUAGES:
        unreadable(patient, "language")
    return language if language in rules.LANGUAGES else rules.DEFAULT_LANGUAGE


def email_status_of(patient: Patient) -> str:
    """What SES last reported about the patient's current address: a report about another address
    (the email was changed since) does not count."""
    reported_for = (patient.email_status_address or "").strip().lower()
    if patient.email_status in (EMAIL_BOUNCING, EMAIL_COMPLAINED) and reported_for == (patient.email or "").lower():
        return patient.email_status
    return EMAIL_OK


def _whole_hours(clinic: Clinic) -> int:
    value = clinic.cancel_cutoff_hours
    try:
        hours = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        hours = -1
    if not 0 <= hours <= rules.MAX_CUTOFF_HOURS:
        unreadable(clinic, "cancel_cutoff_hours")
    return min(max(hours, 0), rules.MAX_CUTOFF_HOURS)


def visit_state(visit: Visit) -> rules.VisitState | None:
    """None when the item was edited into something that cannot be read (reported once)."""
    try:
        starts_at = times.parse_instant(visit.starts_at)
    except (TypeError, ValueError, AttributeError, OverflowError):
        unreadable(visit, "starts_at")
        return None
    response = rules.PatientResponse.from_stored(visit.patient_response)
    if response is None and visit.patient_response is not None:
        unreadable(visit, "patient_response")  # counts as no answer
    return rules.VisitState(
        starts_at=starts_at,
        session_class=visit.session_class or "",
        completed=bool(visit.completed),
        response=response,
    )


def responded_at(visit: Visit) -> str | None:
    """When the patient answered, in the stored form; None when it cannot be read (reported once)."""
    if visit.responded_at is None:
        return None
    try:
        return times.format_instant(times.parse_instant(visit.responded_at))
    except (TypeError, ValueError, AttributeError, OverflowError):
        unreadable(visit, "responded_at")
        return None


def revision_of(visit: Visit) -> int:
    """How many times the service wrote the visit (its calendar SEQUENCE); 0 when unset or
    unreadable, as for a visit created before revisions were counted."""
    try:
        return max(int(visit.revision or 0), 0)
    except (TypeError, ValueError, OverflowError):
        return 0


# --- What the services answer ------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledVisit:
    """A visit item with its state, read against its clinic."""

    clinic: ClinicContext
    item: Visit
    state: rules.VisitState


def last_change(visit: ScheduledVisit) -> datetime:
    """When the service last wrote the visit (or created it); its start if neither can be read.
    Read from the item, never the clock, so the same visit always renders the same calendar bytes."""
    for value in (visit.item.changed_at, visit.item.created_at):
        try:
            return times.parse_instant(value)
        except (TypeError, ValueError, AttributeError):
            continue
    return visit.state.starts_at


@dataclass(frozen=True)
class Schedule:
    """The visits of a date range (both days inclusive, at the clinic), by start."""

    clinic: ClinicContext
    first_day: date
    last_day: date
    visits: list[ScheduledVisit]
    next_cursor: str | None = None  # staff lists come in pages


@dataclass(frozen=True)
class PatientPage:
    """One page of a clinic's patients, by name."""

    patients: list[Patient]
    next_cursor: str | None


@dataclass(frozen=True)
class ClinicSettings:
    """A clinic's settings, and how many of its emails are kept unsent (no valid admin_email...)."""

    clinic: ClinicContext
    undelivered_emails: int


@dataclass(frozen=True)
class VisitHistory:
    """A visit's history events, oldest first, read against its clinic (for its time zone)."""

    clinic: ClinicContext
    events: list[HistoryEvent]


@dataclass(frozen=True)
class PatientProfile:
    patient: Patient
    clinic: ClinicContext


@dataclass(frozen=True)
class PersonsClinics:
    """What `/portal/me` shows: the chosen membership's patient and clinic (None while a person of
    several clinics has chosen none), and every clinic of theirs, as (id, name) by name."""

    chosen: PatientProfile | None
    clinics: list[tuple[str, str]]


@dataclass(frozen=True)
class FeedSchedule:
    """What a calendar feed shows: the patient's visits of its window, and since when that
    content can have been the same (`last_modified`, for conditional requests)."""

    schedule: Schedule
    last_modified: datetime
    language: str = rules.DEFAULT_LANGUAGE  # the patient's: the feed's words are in it


def readable_visits(clinic: ClinicContext, items) -> list[ScheduledVisit]:
    """The items as scheduled visits, by start; one that cannot be read is left out (and logged)."""
    visits = []
    for item in items:
        state = visit_state(item)
        if state is not None:
            visits.append(ScheduledVisit(clinic, item, state))
    visits.sort(key=lambda visit: (visit.state.starts_at, visit.item.visit_id))
    return visits
