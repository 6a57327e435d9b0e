"""The scheduling rules as pure functions: status, actions, "is it open", what a patient may
answer, what a staff change means, and the listing range.

No AWS here, so every rule is tested in microseconds (tests/test_rules.py).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from chalicelib import times
from chalicelib.errors import BadInput, Conflict, Forbidden, NotOpen

DEFAULT_PAST_DAYS = 30
DEFAULT_FUTURE_DAYS = 90
# A calendar feed carries the visits of these days around the clinic's today.
FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
MAX_RANGE_DAYS = 366
MAX_CUTOFF_HOURS = 168
# The languages a patient reads the portal, reminders and calendar text in; English unless chosen.
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
DEFAULT_CANCEL_NOTICE = (
    "Your cancellation request has been sent to the clinic. "
    "It is still your responsibility to call the clinic to cancel this appointment."
)


class Status(str, Enum):
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    PENDING_CANCEL = "pending_cancel"
    PATIENT_CONFIRMED = "patient_confirmed"
    AWAITING_RESPONSE = "awaiting_response"


class PatientResponse(str, Enum):
    """Stored on the visit as `patient_response`, in these words."""

    CONFIRMED = "CLIENT_CONFIRMED"
    CANCELLED = "CLIENT_CANCELLED"

    @classmethod
    def from_api(cls, word: str) -> "PatientResponse":
        """The API speaks `confirmed` / `cancelled`."""
        return {"confirmed": cls.CONFIRMED, "cancelled": cls.CANCELLED}[word]

    @classmethod
    def from_stored(cls, value: object) -> "PatientResponse | None":
        """A value someone typed in the console that is neither word counts as no response."""
        try:
            return cls(value)
        except ValueError:
            return None


class Action(str, Enum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    CHANGE = "change"


@dataclass(frozen=True)
class VisitState:
    """What the rules need to know about a visit."""

    starts_at: datetime
    session_class: str
    completed: bool
    response: PatientResponse | None


@dataclass(frozen=True)
class ClinicPolicy:
    """What the rules need to know about the clinic."""

    cancelled_classes: frozenset
    patient_cancel_enabled: bool
    cancel_cutoff_hours: int
    session_classes: frozenset = frozenset()  # every class name, cancelled-type or not


def visit_status(visit: VisitState, policy: ClinicPolicy) -> Status:
    """The first rule that applies wins (contract: "Status of a visit")."""
    if visit.session_class in policy.cancelled_classes:
        return Status.CANCELLED
    if visit.completed:
        return Status.COMPLETED
    if visit.response is PatientResponse.CANCELLED:
        return Status.PENDING_CANCEL
    if visit.response is PatientResponse.CONFIRMED:
        return Status.PATIENT_CONFIRMED
    return Status.AWAITING_RESPONSE


def open_until(starts_at: datetime, cutoff_hours: int) -> datetime:
    """The last moment the patient may still change their answer online."""
    return starts_at - timedelta(hours=cutoff_hours)


def is_open(visit: VisitState, policy: ClinicPolicy, now: datetime) -> bool:
    """Open while the start is later than now + cutoff, and the clinic has not closed it."""
    if visit_status(visit, policy) in (Status.CANCELLED, Status.COMPLETED):
        return False
    return now < open_until(visit.starts_at, policy.cancel_cutoff_hours)


def available_actions(visit: VisitState, policy: ClinicPolicy, now: datetime) -> list[Action]:
    if not is_open(visit, policy, now):
        return []
    status = visit_status(visit, policy)
    if status in (Status.PENDING_CANCEL, Status.PATIENT_CONFIRMED):
        return [Action.CHANGE]
    if policy.patient_cancel_enabled:
        return [Action.CONFIRM, Action.CANCEL]
    return [Action.CONFIRM]


def check_can_respond(visit: VisitState, policy: ClinicPolicy, now: datetime, wanted: PatientResponse) -> bool:
    """May the patient set `wanted`? True: write it. False: it is already set, nothing to do.

    Raises NotOpen, Conflict or Forbidden otherwise. A visit that is not open refuses every
    patient change, even a repeat (the contract's "not open → 409" comes before "same
    response again → 200").
    """
    if not is_open(visit, policy, now):
        raise NotOpen()
    if visit.response is wanted:
        return False
    if visit.response is not None:
        raise Conflict("This visit already has a different answer. Use change first.")
    if wanted is PatientResponse.CANCELLED and not policy.patient_cancel_enabled:
        raise Forbidden("The clinic takes cancellations by phone only.")
    return True


def check_can_clear(visit: VisitState, policy: ClinicPolicy, now: datetime) -> bool:
    """May the patient remove their answer? True: remove it. False: there is none."""
    if not is_open(visit, policy, now):
        raise NotOpen()
    return visit.response is not None


# --- Staff changes ---------------------------------------------------------------------


@dataclass(frozen=True)
class StaffChange:
    """What a staff edit of a visit means for the rules."""

    starts_at: datetime  # the visit's start once the edit is made
    moved: bool  # the start changes: the patient's answer was for the old time


def decide_staff_change(visit: VisitState, patch: Mapping, tz: ZoneInfo, now: datetime) -> StaffChange:
    """A new date keeps the time and a new time keeps the date, both at the clinic. Raises
    Conflict for completing a visit that has not started (at its new time, if it moves)."""
    starts_at = visit.starts_at
    if "date" in patch or "start_time" in patch:
        day, clock = times.local_day_and_time(visit.starts_at, tz)
        starts_at = times.local_to_utc(patch.get("date", day), patch.get("start_time", clock), tz)
    if patch.get("completed") is True and starts_at > now:
        raise Conflict("A visit cannot be completed before it has started.")
    return StaffChange(starts_at=starts_at, moved=starts_at != visit.starts_at)


def check_known_class(policy: ClinicPolicy, name: str) -> None:
    if name not in policy.session_classes:
        raise BadInput(f'Unknown session class "{name}".')


# --- Reminders -------------------------------------------------------------------------

MAX_REMINDER_HOURS = 336  # two weeks
MAX_REMINDERS = 3
# How close a reminder moved out of quiet hours lands before them: the minute before they begin.
_BEFORE_QUIET = timedelta(minutes=1)


@dataclass(frozen=True)
class QuietHours:
    """Clock times at the clinic when no reminder goes out: [start, end), across midnight when
    start is after end; none at all when they are equal."""

    start: time
    end: time

    def contains(self, clock: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def span_around(self, local: datetime) -> tuple[datetime, datetime]:
        """The quiet span (its start and end, at the clinic) that holds `local`, a moment inside one."""
        day = local.date()
        after_midnight = self.start > self.end and local.time() < self.start  # the span began the evening before
        first_day = day - timedelta(days=1) if after_midnight else day
        last_day = first_day if self.start < self.end else first_day + timedelta(days=1)
        tz = local.tzinfo
        return datetime.combine(first_day, self.start, tzinfo=tz), datetime.combine(last_day, self.end, tzinfo=tz)


@dataclass(frozen=True)
class ReminderPolicy:
    """A clinic's reminder settings (the contract's defaults: off, 48 hours, 21:00–08:00, provider shown)."""

    enabled: bool = False
    hours_before: tuple[int, ...] = (48,)
    quiet_hours: QuietHours = QuietHours(time(21, 0), time(8, 0))
    show_provider: bool = True


def reminder_due_times(starts_at: datetime, policy: ReminderPolicy, tz: ZoneInfo, armed_at: datetime):
    """[(hours_before, due)] for a visit's reminders, longest lead first. Each is due `hours_before`
    hours before the start, moved out of the clinic's quiet hours to the nearest moment that is
    still before the visit; one that was already due when the visit was scheduled (or moved), at
    `armed_at`, is skipped, and the later ones still apply."""
    due_times = []
    for lead in sorted(set(policy.hours_before), reverse=True):
        due = reminder_due_at(starts_at, lead, policy, tz)
        if armed_at < due < starts_at:
            due_times.append((lead, due))
    return due_times


def reminder_due_at(starts_at: datetime, hours_before: int, policy: ReminderPolicy, tz: ZoneInfo) -> datetime:
    """When the reminder `hours_before` a visit's start falls due under the policy's quiet hours."""
    return outside_quiet_hours(starts_at - timedelta(hours=hours_before), starts_at, policy.quiet_hours, tz)


def outside_quiet_hours(due: datetime, starts_at: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime:
    """`due`, or the nearest moment outside the quiet hours that is still before the visit: the
    end of the quiet span when the visit is after it and that is nearer, else the minute before
    the span began."""
    local = due.astimezone(tz)
    if not quiet.contains(local.time()):
        return due
    span_start, span_end = quiet.span_around(local)
    before = (span_start - _BEFORE_QUIET).astimezone(UTC)
    after = span_end.astimezone(UTC)
    if after < starts_at and after - due <= due - before:
        return after
    return before


# --- Listing ---------------------------------------------------------------------------


def date_range(from_value: str | None, to_value: str | None, today: date) -> tuple[date, date]:
    """Both bounds inclusive and optional; defaults around `today` (the clinic's today)."""
    start = today - timedelta(days=DEFAULT_PAST_DAYS) if from_value is None else times.parse_date(from_value, "from")
    end = today + timedelta(days=DEFAULT_FUTURE_DAYS) if to_value is None else times.parse_date(to_value, "to")
    if start > end:
        raise BadInput("from must not be later than to.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadInput(f"The date range may span at most {MAX_RANGE_DAYS} days.")
    return start, end


def feed_range(today: date) -> tuple[date, date]:
    """The days a calendar feed covers, both inclusive, at the clinic."""
    return today - timedelta(days=FEED_PAST_DAYS), today + timedelta(days=FEED_FUTURE_DAYS)


def cancelled_class_names(classes: Iterable[tuple[str, bool]]) -> frozenset:
    return frozenset(name for name, cancelled in classes if cancelled)
