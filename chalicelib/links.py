"""Links in patients' emails that work without a login: answering a reminder, unsubscribing.

A link's token is signed (`signing`: HMAC, keys in Secrets Manager, rotatable) for one purpose
and bound to what it may touch: an answer link to one visit, its patient, its clinic and the
start time the reminder was for (so it stops working when the visit moves, and at the start);
an unsubscribe link to one patient. Opening a link never changes anything; only the form on
its page does, through the same service functions, rules, limits and clinic emails as the
portal, stamped `reminder-link`.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime

from chalicelib import auth, config, inputs, rules, scheduling, signing, times
from chalicelib.domain import REMINDER_LINK_ACTOR, PatientProfile, ScheduledVisit, language_of
from chalicelib.errors import BadInput, DomainError, NotFound
from chalicelib.logs import touched
from chalicelib.models import Patient

ANSWER, UNSUBSCRIBE = "reminder-link", "unsubscribe"
ACTIONS = ("confirm", "cancel", "change")
_NOT_VALID = "This link is not valid. Please use the link in your latest email, or log in to the portal."


class LinkNotValid(DomainError):
    """Not a link of ours (altered, truncated, made up, or for something else): nothing is revealed."""


class LinkExpired(DomainError):
    """A real link whose appointment moved, started, was cancelled by the clinic or completed
    (`reason`: gone, moved, started or closed: the page says which, in the patient's language)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    visit: ScheduledVisit
    language: str  # the patient's, as it is now: the page is in it


@dataclass(frozen=True)
class Answered:
    visit: ScheduledVisit
    action: str
    language: str


# --- Making links (for the reminder email) ---------------------------------------------------


def answer_url(visit: ScheduledVisit, action: str | None = None) -> str:
    token = signing.sign(
        ANSWER,
        {
            "v": visit.item.visit_id,
            "p": visit.item.patient_id,
            "c": visit.item.clinic_id,
            "s": times.format_instant(visit.state.starts_at),
        },
    )
    return f"{_base()}/r/{token}" + (f"?do={action}" if action else "")


def unsubscribe_url(patient: Patient) -> str:
    return f"{_base()}/u/{signing.sign(UNSUBSCRIBE, {'p': patient.patient_id, 'c': patient.clinic_id})}"


def portal_url() -> str:
    return f"{_base()}/"


def _base() -> str:
    base = config.current().public_url
    if not base:
        raise RuntimeError("PUBLIC_URL is not set: reminder links need the portal's address")
    return base.rstrip("/")


# --- Following them ---------------------------------------------------------------------------


def open_answer_link(token: str, now: datetime) -> Opened:
    """The visit a reminder's link is for, as it is now; LinkNotValid or LinkExpired otherwise."""
    payload = _verify(ANSWER, token, ("v", "p", "c", "s"))
    with _in_patients_language(payload):
        return Opened(_linked_visit(payload, now), _language(payload))


def _linked_visit(payload: dict, now: datetime) -> ScheduledVisit:
    identity = _patient(payload)
    try:
        visit = scheduling.patient_visit(identity, payload["v"])
    except NotFound:
        raise LinkExpired("This appointment is no longer on your schedule.", "gone") from None
    if times.format_instant(visit.state.starts_at) != payload["s"]:
        raise LinkExpired("This appointment was moved, so this link no longer works.", "moved")
    if visit.state.starts_at <= now:
        raise LinkExpired("This appointment has already started, so this link no longer works.", "started")
    status = rules.visit_status(visit.state, visit.clinic.policy)
    if status in (rules.Status.CANCELLED, rules.Status.COMPLETED):
        raise LinkExpired("The clinic has closed this appointment, so this link no longer works.", "closed")
    return visit


def answer(token: str, form: dict, now: datetime) -> Answered:
    """The patient's click on the link's page: confirm, cancel (with an optional reason) or change."""
    opened = open_answer_link(token, now)
    visit = opened.visit
    with _in_patients_language({"c": visit.item.clinic_id, "p": visit.item.patient_id}, opened.language):
        action = form.get("action")
        if action not in ACTIONS:
            raise BadInput("Choose confirm, cancel or change.")
        identity = _patient({"c": visit.item.clinic_id, "p": visit.item.patient_id})
        if action == "change":
            changed = scheduling.clear_response(identity, visit.item.visit_id, now, actor=REMINDER_LINK_ACTOR)
            return Answered(changed, action, opened.language)
        response = rules.PatientResponse.CANCELLED if action == "cancel" else rules.PatientResponse.CONFIRMED
        reason = form.get("reason") if action == "cancel" else None
        request = inputs.ResponseRequest(response, inputs.optional_reason(reason))
        answered = scheduling.respond(identity, visit.item.visit_id, request, now, actor=REMINDER_LINK_ACTOR)
        return Answered(answered, action, opened.language)


def unsubscribing(token: str) -> PatientProfile:
    """The patient (and clinic) an unsubscribe link is for; nothing changes."""
    payload = _verify(UNSUBSCRIBE, token, ("p", "c"))
    try:
        return scheduling.clinic_patient(payload["c"], payload["p"])
    except NotFound:
        raise LinkNotValid(_NOT_VALID) from None


def unsubscribe(token: str) -> PatientProfile:
    """Turns reminder emails off for the patient the link was sent to (also what a mail client's
    one-click unsubscribe posts)."""
    profile = unsubscribing(token)
    scheduling.update_preferences(_patient({"c": profile.clinic.clinic.clinic_id, "p": profile.patient.patient_id}),
                                  {"email_reminders": False})  # fmt: skip
    return profile


@contextlib.contextmanager
def _in_patients_language(payload: dict, known: str | None = None):
    """A refusal after the link was verified is shown in its patient's language (`error.language`);
    before that (a link that is not ours) the page cannot know whose it is."""
    try:
        yield
    except DomainError as error:
        error.language = known or _language(payload)
        raise


def _language(payload: dict) -> str | None:
    try:
        return language_of(scheduling.clinic_patient(payload["c"], payload["p"]).patient)
    except DomainError:
        return None


def _verify(purpose: str, token: str, fields: tuple[str, ...]) -> dict:
    try:
        payload = signing.verify(purpose, token)
    except signing.BadSignature:
        raise LinkNotValid(_NOT_VALID) from None
    if not all(isinstance(payload.get(name), str) and payload[name] for name in fields):
        raise LinkNotValid(_NOT_VALID)
    return payload


def _patient(payload: dict) -> auth.Identity:
    """The patient a verified link speaks for: taken from the signed token, never from the request."""
    touched(patient_id=payload["p"], clinic_id=payload["c"])
    return auth.Identity(
        subject=f"link:{payload['p']}",
        username=REMINDER_LINK_ACTOR,
        role=auth.Role.PATIENT,
        clinic_id=payload["c"],
        patient_id=payload["p"],
        expires_at=0,
    )
