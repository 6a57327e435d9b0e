"""Dates, clock times, time zones and instants, as pure functions (no AWS).

Every instant is stored in one form (`format_instant`: UTC, whole seconds, `Z`), and shown
in the clinic's time zone. Input is checked here, so a bad date or time is a BadInput.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import BadInput

# `date.fromisoformat` also reads ISO week dates (`2026-W48-4`); the contract's dates are YYYY-MM-DD.
_CALENDAR_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Far enough for any clinic, near enough that a day always converts to UTC and back (year 1
# or 9999 overflows) and stored instants keep four-digit years, so they sort as text.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)
UTC_ZONE = ZoneInfo("UTC")


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


def day_bounds_utc(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants from the start of `first` to the last second of `last`, local time."""
    start = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
    after = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, after - timedelta(seconds=1)


def local_to_utc(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time at the clinic as a UTC instant; a time skipped by DST is bad input."""
    local = datetime.combine(day, clock, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise BadInput(f"{day.isoformat()} {clock.strftime('%H:%M')} does not exist in {tz.key} (clock change).")
    return instant


def local_day_and_time(instant: datetime, tz: ZoneInfo) -> tuple[date, time]:
    """The wall-clock day and time of an instant at the clinic."""
    local = instant.astimezone(tz)
    return local.date(), local.time().replace(second=0, microsecond=0, tzinfo=None)


def utc_to_local(instant: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """(YYYY-MM-DD, HH:MM) at the clinic."""
    day, clock = local_day_and_time(instant, tz)
    return day.isoformat(), clock.strftime("%H:%M")


def format_instant(instant: datetime) -> str:
    """The one stored form of an instant: UTC, whole seconds, `Z` (sorts as text)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_day(instant: datetime) -> str:
    """The UTC calendar day of an instant, `YYYY-MM-DD` (how reminders are grouped for the sweep)."""
    return instant.astimezone(UTC).date().isoformat()


def parse_instant(value: str) -> datetime:
    """Reads `format_instant` output and the ISO forms a person may type in the console."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
