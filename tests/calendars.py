"""Reading what the service sends to calendar apps, as they would: the wire format checked octet by
octet (RFC 5545 §3.1), then parsed by two parsers, icalendar and the strict `ical`, which must
agree on every event."""

from dataclasses import dataclass
from datetime import datetime

import icalendar
from ical.calendar_stream import IcsCalendarStream

MAX_LINE_OCTETS = 75


@dataclass(frozen=True)
class Event:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    location: str | None
    description: str | None
    status: str
    stamp: datetime
    properties: frozenset  # every property name the event has


@dataclass(frozen=True)
class Calendar:
    raw: bytes
    calendar: icalendar.Calendar
    events: list[Event]

    def event(self, uid: str) -> Event:
        (found,) = [event for event in self.events if event.uid == uid]
        return found

    def uids(self) -> set[str]:
        return {event.uid for event in self.events}


def wire_problems(raw: bytes) -> list[str]:
    """What breaks RFC 5545's content lines: a line not ended by CRLF, a bare CR or LF, a line
    longer than 75 octets, a fold inside a UTF-8 character."""
    problems = []
    if not raw.endswith(b"\r\n"):
        problems.append("the last line does not end with CRLF")
    for number, line in enumerate(raw.split(b"\r\n")[:-1], start=1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {number} holds a bare CR or LF")
        if len(line) > MAX_LINE_OCTETS:
            problems.append(f"line {number} is {len(line)} octets long")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number} is folded inside a UTF-8 character")
    return problems


def parse(body: str | bytes) -> Calendar:
    """Checks the wire format, parses with both parsers, and returns the events as both read them."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    assert wire_problems(raw) == []
    calendar = icalendar.Calendar.from_ical(raw)
    assert not calendar.errors, calendar.errors
    events = [_event(component) for component in calendar.walk("VEVENT")]
    strict = IcsCalendarStream.calendar_from_ics(raw.decode("utf-8"))
    assert sorted((e.uid, e.sequence, e.dtstart, e.end, e.summary, e.location) for e in strict.events) == sorted(
        (e.uid, e.sequence, e.start, e.end, e.summary, e.location) for e in events
    ), "the two parsers read the events differently"
    return Calendar(raw, calendar, events)


def _event(component) -> Event:
    def text(name):
        return str(component[name]) if name in component else None

    return Event(
        uid=text("UID"),
        sequence=int(component["SEQUENCE"]),
        start=component.decoded("DTSTART"),
        end=component.decoded("DTEND"),
        summary=text("SUMMARY"),
        location=text("LOCATION"),
        description=text("DESCRIPTION"),
        status=text("STATUS"),
        stamp=component.decoded("DTSTAMP"),
        properties=frozenset(component.keys()),
    )
