"""Request bodies checked field by field. Pure: bad input raises BadInput before any I/O.

Unknown fields are refused rather than ignored, so a typo in a client never looks like
success.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import default as EMAIL_POLICY
from typing import Any

from chalicelib import rules, times
from chalicelib.errors import BadInput

MAX_NAME = 200
MAX_REASON = 500
MAX_NOTICE = 2000
MAX_CLASSES = 50
# Cognito's limits: a username (the patient's email) of at most 128 characters, and a
# challenge session of 20 to 4096; longer or shorter never reach Cognito.
MAX_LOGIN_EMAIL = 128
SESSION_LENGTH = (20, 4096)
# An address mail servers, SES and Cognito all take: an ASCII dot-atom local part of at most
# 64 characters, and a domain of letters, digits and hyphens.
_EMAIL = re.compile(
    r"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# JSON may carry half of a surrogate pair (`"\ud800"`): not a character, and no AWS service
# can store or send it.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\r\n\t]")
_TOTP_CODE = re.compile(r"[0-9]{6}")
# Staff lists come in pages of `limit` items (default DEFAULT_PAGE), continued with `cursor`.
DEFAULT_PAGE, MAX_PAGE = 200, 500
MAX_CURSOR = 2048


def json_object(body: Any, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadInput(f"Unknown field: {unknown[0]}.")
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise BadInput(f"{missing[0]} is required.")
    return body


def text(value: Any, field: str, max_length: int = MAX_NAME, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{field} must be text.")
    value = value.strip()
    if not value:
        raise BadInput(f"{field} must not be empty.")
    if len(value) > max_length:
        raise BadInput(f"{field} may be at most {max_length} characters.")
    if _CONTROL.search(value) or _LONE_SURROGATE.search(value) or (not multiline and _LINE_BREAKS.search(value)):
        raise BadInput(f"{field} contains characters that are not allowed.")
    return value


def email(value: Any, field: str = "email", max_length: int = 254) -> str:
    address = text(value, field, max_length=max_length)
    if not _EMAIL.match(address):
        raise BadInput(f"{field} must be an email address.")
    return address.lower()


def mailbox(value: Any, field: str = "admin_email") -> str:
    """An address, with or without a display name (`Front Desk <frontdesk@clinic.example>`), in one
    canonical form: the address lower-cased, the name quoted where it needs to be."""
    display_name, address = parse_mailbox(text(value, field, max_length=320), field)
    return f"{Address(display_name=display_name, addr_spec=address)}" if display_name else address


def parse_mailbox(value: Any, field: str = "admin_email") -> tuple[str, str]:
    """(display name or "", address) of one mailbox as RFC 5322 writes it; BadInput for anything else."""
    problem = BadInput(
        f"{field} must be an email address, optionally with a name: Front Desk <frontdesk@clinic.example>."
    )
    if not isinstance(value, str) or _CONTROL.search(value) or _LONE_SURROGATE.search(value) or "\n" in value:
        raise problem
    try:
        header = EMAIL_POLICY.header_factory("to", value.strip())
        addresses = header.addresses
    except Exception:  # the parser's own errors, whatever was typed
        raise problem from None
    if header.defects or len(addresses) != 1 or len(header.groups) != 1 or header.groups[0].display_name:
        raise problem
    (mailbox,) = addresses
    address = mailbox.addr_spec
    if not _EMAIL.match(address) or len(address) > 254:
        raise problem
    return " ".join(mailbox.display_name.split()), address.lower()


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput(f"{field} must be true or false.")
    return value


def integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's integer, and the description's: 50.0 is 50
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{field} must be a whole number.")
    if not low <= value <= high:
        raise BadInput(f"{field} must be between {low} and {high}.")
    return value


# --- Auth ------------------------------------------------------------------------------


def login(body: Any) -> tuple[str, str]:
    body = json_object(body, {"username", "password"}, {"username", "password"})
    return text(body["username"], "username", 254), _secret(body["password"], "password")


def new_password(body: Any) -> tuple[str, str, str]:
    body = json_object(body, {"username", "session", "new_password"}, {"username", "session", "new_password"})
    return (
        text(body["username"], "username", 254),
        _secret(body["session"], "session", SESSION_LENGTH[1], SESSION_LENGTH[0]),
        _secret(body["new_password"], "new_password"),
    )


def refresh(body: Any) -> str:
    """`/auth/refresh` and `/auth/logout`: the refresh token."""
    body = json_object(body, {"refresh_token"}, {"refresh_token"})
    return _secret(body["refresh_token"], "refresh_token", 8192)


def mfa_code(body: Any) -> tuple[str, str, str]:
    """`/auth/mfa` and `/auth/mfa-setup`: the challenge session and the authenticator's code."""
    body = json_object(body, {"username", "session", "code"}, {"username", "session", "code"})
    code = body["code"]
    if not isinstance(code, str) or not _TOTP_CODE.fullmatch(code):
        raise BadInput("code must be the 6 digits your authenticator app shows.")
    return (
        text(body["username"], "username", 254),
        _secret(body["session"], "session", SESSION_LENGTH[1], SESSION_LENGTH[0]),
        code,
    )


def _secret(value: Any, field: str, max_length: int = 256, min_length: int = 1) -> str:
    """Passwords and tokens are used exactly as given, never echoed in a message."""
    if not isinstance(value, str) or not value or _LONE_SURROGATE.search(value):
        raise BadInput(f"{field} must be non-empty text.")
    if len(value) > max_length:
        raise BadInput(f"{field} is too long.")
    if len(value) < min_length:
        raise BadInput(f"{field} is too short.")
    return value


# --- Paging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


def page_request(limit: str | None, cursor: str | None) -> PageRequest:
    """The `limit` and `cursor` query parameters of a staff list."""
    if limit is None:
        size = DEFAULT_PAGE
    elif not re.fullmatch(r"[0-9]{1,4}", limit) or not 1 <= int(limit) <= MAX_PAGE:
        raise BadInput(f"limit must be a whole number from 1 to {MAX_PAGE}.")
    else:
        size = int(limit)
    if cursor is not None and (not cursor or len(cursor) > MAX_CURSOR):
        raise BadInput("cursor is not a cursor this API gave out.")
    return PageRequest(size, cursor)


# --- Patient ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRequest:
    response: rules.PatientResponse
    reason: str | None


def response_request(body: Any) -> ResponseRequest:
    body = json_object(body, {"response", "reason"}, {"response"})
    word = body["response"]
    if word not in ("confirmed", "cancelled"):
        raise BadInput('response must be "confirmed" or "cancelled".')
    response = rules.PatientResponse.from_api(word)
    reason = body.get("reason")
    if reason is not None and response is not rules.PatientResponse.CANCELLED:
        raise BadInput("A reason can only be given with a cancellation.")
    return ResponseRequest(response, optional_reason(reason))


def optional_reason(reason: Any) -> str | None:
    """A cancellation's reason: None when not given or blank."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise BadInput("reason must be text.")
    return text(reason, "reason", MAX_REASON, multiline=True) if reason.strip() else None


# --- Clinic ----------------------------------------------------------------------------

SETTINGS_FIELDS = (
    "name",
    "timezone",
    "phone",
    "admin_email",
    "patient_cancel_enabled",
    "cancel_cutoff_hours",
    "cancel_notice",
    "session_classes",
    "reminders",
)


def settings_patch(body: Any) -> dict[str, Any]:
    body = json_object(body, SETTINGS_FIELDS)
    if not body:
        raise BadInput("Send at least one setting to change.")
    checks = {
        "name": lambda v: text(v, "name"),
        "timezone": lambda v: times.parse_timezone(v).key,
        "phone": lambda v: text(v, "phone", 50),
        "admin_email": lambda v: mailbox(v, "admin_email"),
        "patient_cancel_enabled": lambda v: boolean(v, "patient_cancel_enabled"),
        "cancel_cutoff_hours": lambda v: integer(v, "cancel_cutoff_hours", 0, rules.MAX_CUTOFF_HOURS),
        "cancel_notice": lambda v: text(v, "cancel_notice", MAX_NOTICE, multiline=True),
        "session_classes": session_classes,
        "reminders": reminders,
    }
    return {field: checks[field](value) for field, value in body.items()}


def session_classes(value: Any) -> list[tuple[str, bool]]:
    if not isinstance(value, list) or not value:
        raise BadInput("session_classes must be a non-empty list.")
    if len(value) > MAX_CLASSES:
        raise BadInput(f"At most {MAX_CLASSES} session classes are allowed.")
    classes = []
    for entry in value:
        entry = json_object(entry, {"name", "cancelled"}, {"name", "cancelled"})
        classes.append((text(entry["name"], "session class name", 100), boolean(entry["cancelled"], "cancelled")))
    names = [name.casefold() for name, _ in classes]
    if len(set(names)) != len(names):
        raise BadInput("Session class names must be unique.")
    if all(cancelled for _, cancelled in classes):
        raise BadInput("At least one session class must not be a cancelled-type class.")
    return classes


@dataclass(frozen=True)
class NewPatient:
    name: str
    email: str
    language: str


def new_patient(body: Any) -> NewPatient:
    body = json_object(body, {"name", "email", "language"}, {"name", "email"})
    return NewPatient(
        name=text(body["name"], "name"),
        email=email(body["email"], max_length=MAX_LOGIN_EMAIL),
        language=language(body.get("language", rules.DEFAULT_LANGUAGE)),
    )


def language(value: Any, field: str = "language") -> str:
    if value not in rules.LANGUAGES:
        raise BadInput(f"{field} must be one of: {', '.join(rules.LANGUAGES)}.")
    return value


# --- Reminders and the patient's preferences ---------------------------------------------


def reminders(value: Any) -> dict[str, Any]:
    """The clinic's `reminders` block, any of its parts (the others stay as they are)."""
    body = json_object(value, {"enabled", "hours_before", "quiet_hours", "show_provider"})
    if not body:
        raise BadInput("reminders: send at least one of enabled, hours_before, quiet_hours, show_provider.")
    checks = {
        "enabled": lambda v: boolean(v, "reminders.enabled"),
        "hours_before": lead_times,
        "quiet_hours": quiet_hours,
        "show_provider": lambda v: boolean(v, "reminders.show_provider"),
    }
    return {part: checks[part](given) for part, given in body.items()}


def lead_times(value: Any) -> list[int]:
    if not isinstance(value, list) or not 1 <= len(value) <= rules.MAX_REMINDERS:
        raise BadInput(f"reminders.hours_before must be a list of 1 to {rules.MAX_REMINDERS} whole numbers of hours.")
    hours = [integer(v, "reminders.hours_before", 1, rules.MAX_REMINDER_HOURS) for v in value]
    if len(set(hours)) != len(hours):
        raise BadInput("reminders.hours_before must not repeat a value.")
    return sorted(hours, reverse=True)


def quiet_hours(value: Any) -> dict[str, str]:
    body = json_object(value, {"start", "end"}, {"start", "end"})
    start = times.parse_clock_time(body["start"], "reminders.quiet_hours.start")
    end = times.parse_clock_time(body["end"], "reminders.quiet_hours.end")
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


def preferences_patch(body: Any) -> dict[str, Any]:
    body = json_object(body, {"email_reminders", "language"})
    if not body:
        raise BadInput("Send email_reminders, language or both.")
    checks = {"email_reminders": lambda v: boolean(v, "email_reminders"), "language": language}
    return {field: checks[field](value) for field, value in body.items()}


VISIT_FIELDS = ("date", "start_time", "duration_minutes", "provider", "location", "session_class")


_VISIT_FIELD_CHECKS = {
    "patient_id": lambda v: text(v, "patient_id", 64),
    "date": lambda v: times.parse_date(v, "date"),
    "start_time": times.parse_clock_time,
    "duration_minutes": lambda v: integer(v, "duration_minutes", 5, 720),
    "provider": lambda v: text(v, "provider"),
    "location": lambda v: text(v, "location"),
    "session_class": lambda v: text(v, "session_class", 100),
    "completed": lambda v: boolean(v, "completed"),
}


def new_visit(body: Any) -> dict[str, Any]:
    fields = ("patient_id",) + VISIT_FIELDS
    body = json_object(body, fields, fields)
    return {field: _VISIT_FIELD_CHECKS[field](body[field]) for field in fields}


def visit_patch(body: Any) -> dict[str, Any]:
    body = json_object(body, VISIT_FIELDS + ("completed",))
    if not body:
        raise BadInput("Send at least one field to change.")
    return {field: _VISIT_FIELD_CHECKS[field](value) for field, value in body.items()}
