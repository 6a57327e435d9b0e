"""The scheduling rules as pure functions: status, actions, "is it open", date ranges, time zones.

No AWS here, so every rule is tested in microseconds (tests/test_rules.py).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import BadInput, Conflict, Forbidden, NotOpen

DEFAULT_PAST_DAYS = 30
DEFAULT_FUTURE_DAYS = 90
MAX_RANGE_DAYS = 366
# `date.fromisoformat` also reads ISO week dates (`2026-W48-4`); the contract's dates are YYYY-MM-DD.
_CALENDAR_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Far enough for any clinic, near enough that a day always converts to UTC and back (year 1
# or 9999 overflows) and stored instants keep four-digit years, so they sort as text.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)
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
    def from_stored(cls, value: object) -> Optional["PatientResponse"]:
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


# --- Dates, times and time zones -------------------------------------------------------


def parse_timezone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise BadInput("timezone must be an IANA time zone name, like America/New_York.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput(f"Unknown time zone: {name}.") from None


def parse_date(value: object, field: str) -> date:
    if not isinstance(value, str) or not _CALENDAR_DATE.match(value):
        raise BadInput(f"{field} must be a date in the form YYYY-MM-DD.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{field} must be a date in the form YYYY-MM-DD.") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise BadInput(f"{field} must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}.")
    return day


def parse_clock_time(value: object, field: str = "start_time") -> time:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise BadInput(f"{field} must be a time in the form HH:MM.")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{field} must be a time in the form HH:MM.") from None


def today_in(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def date_range(from_value: str | None, to_value: str | None, today: date) -> tuple[date, date]:
    """Both bounds inclusive and optional; defaults around `today` (the clinic's today)."""
    start = parse_date(from_value, "from") if from_value is not None else today - timedelta(days=DEFAULT_PAST_DAYS)
    end = parse_date(to_value, "to") if to_value is not None else today + timedelta(days=DEFAULT_FUTURE_DAYS)
    if start > end:
        raise BadInput("from must not be later than to.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadInput(f"The date range may span at most {MAX_RANGE_DAYS} days.")
    return start, end


def range_bounds_utc(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants from the start of `start` to the last second of `end`, local time."""
    first = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return first, after - timedelta(seconds=1)


def local_to_utc(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time at the clinic as a UTC instant; a time skipped by DST is bad input."""
    local = datetime.combine(day, clock, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise BadInput(f"{day.isoformat()} {clock.strftime('%H:%M')} does not exist in {tz.key} (clock change).")
    return instant


def utc_to_local(instant: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """(YYYY-MM-DD, HH:MM) at the clinic."""
    local = instant.astimezone(tz)
    return local.date().isoformat(), local.strftime("%H:%M")


def format_instant(instant: datetime) -> str:
    """The one stored form of an instant: UTC, whole seconds, `Z` (sorts as text)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime:
    """Reads `format_instant` output and the ISO forms a person may type in the console."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def cancelled_class_names(classes: Iterable[tuple[str, bool]]) -> frozenset:
    return frozenset(name for name, cancelled in classes if cancelled)
