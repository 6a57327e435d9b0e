"""Visits as iCalendar (RFC 5545): the one place that turns a visit into a calendar event.

The per-visit file (`GET /portal/sessions/{id}/calendar.ics`), the private feed
(`GET /cal/{secret}.ics`) and, once reminders are sent, their attachment use `visit_event`, so
a visit is the same event wherever a patient's calendar got it from: one UID, a SEQUENCE that
grows with every change, times in UTC. The icalendar library writes the text (CRLF line ends, lines folded
at 75 octets, `,`, `;`, `\\` and newlines escaped).

An event says no more than a calendar needs (HIPAA's minimum necessary): when, where, the
clinic, the provider unless the clinic hides it, and whether it still takes place. Never the
patient's name, the kind of session, or an answer or reason.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from chalicelib import config, i18n, rules, times
from chalicelib.domain import Schedule, ScheduledVisit, last_change, revision_of

PRODID = "-//Client portal//Scheduling//EN"
# How often a subscribed calendar app should look for changes, for the apps that read a hint
# (REFRESH-INTERVAL of RFC 7986; X-PUBLISHED-TTL for Outlook and Apple).
FEED_REFRESH = timedelta(hours=1)
_DEFAULT_MINUTES = 50  # the model's default, for a duration that cannot be read
_LONGEST_MINUTES = 24 * 60
# C0 controls and DEL, but tab and newline, which iCalendar text can carry (a newline escaped).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class CalendarFile:
    """A VCALENDAR, as the text to send (UTF-8) and the name to save it under."""

    body: str
    filename: str


def uid(visit_id: str) -> str:
    """`<visit id>@<the deployment's domain>`: the same for a visit in every file, feed and email."""
    return f"{visit_id}@{config.current().calendar_domain}"


def _icalendar():
    """The library, imported on first use: it adds about 80 ms to a cold start that most
    requests (and the email function) would pay for nothing."""
    import icalendar

    return icalendar


def visit_event(visit: ScheduledVisit, language: str):
    """The visit as an `icalendar.Event`: UID, SEQUENCE (the visit's revision), DTSTAMP (its last
    change), DTSTART/DTEND in UTC, SUMMARY, LOCATION, the provider in DESCRIPTION unless the
    clinic hides it, and STATUS (CANCELLED for a visit in a cancelled-type class, CONFIRMED
    otherwise). The words in the patient's language."""
    item, state, clinic = visit.item, visit.state, visit.clinic
    words = i18n.words(language)
    event = _icalendar().Event()
    event.add("uid", uid(item.visit_id))
    event.add("sequence", revision_of(item))
    event.add("dtstamp", last_change(visit))
    event.add("dtstart", state.starts_at)
    event.add("dtend", state.starts_at + timedelta(minutes=_minutes(item.duration_minutes)))
    event.add("summary", _summary(clinic.clinic.name, words))
    location = _text(item.location)
    if location:
        event.add("location", location)
    provider = _text(item.provider)
    if provider and clinic.show_provider:
        event.add("description", words.gettext("Provider: %(provider)s", provider=provider))
    cancelled = rules.visit_status(state, clinic.policy) is rules.Status.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def visit_file(visit: ScheduledVisit, language: str) -> CalendarFile:
    """One visit's calendar file, named for its day at the clinic."""
    day, _ = times.utc_to_local(visit.state.starts_at, visit.clinic.tz)
    # A file name: ASCII letters only, whatever the language, so every system saves it as named.
    name = i18n.words(language).gettext("appointment-%(date)s.ics", date=day)
    return CalendarFile(_calendar([visit_event(visit, language)]), name)


def feed_calendar(schedule: Schedule, language: str) -> str:
    """A patient's feed: every visit of the schedule, cancelled ones included (as CANCELLED, so
    that calendars drop or strike them), named for the clinic. The clinic's time zone rides
    along as the calendar's own (VTIMEZONE, X-WR-TIMEZONE); the events themselves are in UTC."""
    icalendar = _icalendar()
    clinic = schedule.clinic
    words = i18n.words(language)
    clinic_name = _text(clinic.clinic.name)
    name = (
        words.gettext("%(clinic)s appointments", clinic=clinic_name) if clinic_name else words.gettext("Appointments")
    )
    zone = icalendar.Timezone.from_tzinfo(clinic.tz, first_date=schedule.first_day, last_date=schedule.last_day)
    zone.pop("COMMENT", None)  # the library's English note on the years covered
    # Typed explicitly: the library writes names it does not know (X-..., RFC 7986's NAME) unescaped.
    properties = {
        "name": icalendar.vText(name),
        "x-wr-calname": icalendar.vText(name),
        "x-wr-timezone": icalendar.vText(clinic.tz.key),
        "refresh-interval": (FEED_REFRESH, {"VALUE": "DURATION"}),
        "x-published-ttl": icalendar.vDuration(FEED_REFRESH),
    }
    return _calendar([zone, *(visit_event(visit, language) for visit in schedule.visits)], properties)


def _calendar(components: list, properties: dict | None = None) -> str:
    calendar = _icalendar().Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    for name, value in (properties or {}).items():
        value, parameters = value if isinstance(value, tuple) else (value, {})
        calendar.add(name, value, parameters=parameters or None)
    for component in components:
        calendar.add_component(component)
    return calendar.to_ical().decode("utf-8")


def _summary(clinic_name, words: i18n.Words) -> str:
    name = _text(clinic_name)
    # An en dash between the two.
    return words.gettext("Appointment – %(clinic)s", clinic=name) if name else words.gettext("Appointment")


def _text(value) -> str:
    """Text typed in the console may hold anything: keep the printable characters and line breaks."""
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _minutes(value) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError, OverflowError):
        return _DEFAULT_MINUTES
    return minutes if 0 < minutes <= _LONGEST_MINUTES else _DEFAULT_MINUTES
