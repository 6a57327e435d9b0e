"""The clinic's emails: a patient's cancel or un-cancel, read off the visits table's stream, sent by SES.

`email_clinic` is one of the consumers `visit_stream` hands each stream record to.

`decide` reads one stream record's old and new images and nothing else, so a record that
needs no email costs no AWS call. A send is idempotent per patient action (Powertools'
idempotency, keyed by the visit's `change_id`), so a redelivered or retried record re-sends
nothing already sent.
"""

import functools
import html
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from string import Template
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pynamodb.exceptions import DoesNotExist

from chalicelib import aws, config, inputs, rules, stream_images, times
from chalicelib.domain import PATIENT_ACTOR, ClinicContext
from chalicelib.errors import BadInput
from chalicelib.logs import logger
from chalicelib.models import Clinic

CANCEL, UNCANCEL = "cancel", "uncancel"
SUBJECTS = {CANCEL: "Cancellation request: {patient}, {when}", UNCANCEL: "Un-cancellation request: {patient}, {when}"}
TEMPLATES = Path(__file__).parent / "templates"
METRICS_NAMESPACE = "ClientPortal"
UNDELIVERABLE_METRIC = "ClinicEmailsUndeliverable"
# Longer than a stream keeps a record (24 hours), so no redelivery outlives the memory of a send.
REMEMBER_SENDS_FOR_SECONDS = 48 * 3600

_CANCELLED = rules.PatientResponse.CANCELLED.value
_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="change_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=REMEMBER_SENDS_FOR_SECONDS,
)


@dataclass(frozen=True)
class PatientAction:
    """A patient's cancel or un-cancel, as the stream record shows it: all an email needs but the clinic."""

    kind: str
    change_id: str
    clinic_id: str
    patient_id: str
    visit_id: str
    patient_name: str
    starts_at: str
    provider: str
    location: str
    acted_at: str
    reason: str

    def ids(self) -> dict[str, str]:
        """What a log line needs to find the visit and the action (no patient data)."""
        return {
            "kind": self.kind,
            "change_id": self.change_id,
            "clinic_id": self.clinic_id,
            "patient_id": self.patient_id,
            "visit_id": self.visit_id,
        }


class Undeliverable(Exception):
    """This email cannot be sent as things stand (no clinic, no admin address): a retry would not help."""


# --- Which change emails whom ----------------------------------------------------------


def decide(record: dict) -> PatientAction | None:
    """The email a stream record calls for, from its images alone; None for every other change.

    Only a patient's own write emails (`stream_images.writer` is the patient: a new stamp with
    `changed_by` "patient"). Staff, the service and console edits never email.
    """
    if record.get("eventName") != stream_images.MODIFY or stream_images.writer(record) != PATIENT_ACTOR:
        return None
    old, new = stream_images.images(record)
    text = stream_images.text
    before, after = text(old, "patient_response"), text(new, "patient_response")
    if after == _CANCELLED and before != _CANCELLED:
        kind, reason_from = CANCEL, new
    elif before == _CANCELLED and "patient_response" not in new:
        kind, reason_from = UNCANCEL, old
    else:
        return None  # a confirmation, or its removal
    return PatientAction(
        kind=kind,
        change_id=text(new, "change_id"),
        clinic_id=text(new, "clinic_id") or "",
        patient_id=text(new, "patient_id") or "",
        visit_id=text(new, "visit_id") or "",
        patient_name=text(new, "patient_name") or "",
        starts_at=text(new, "starts_at") or "",
        provider=text(new, "provider") or "",
        location=text(new, "location") or "",
        acted_at=stream_images.written_at(record),
        reason=(text(reason_from, "cancel_reason") or "").strip(),
    )


# --- The email itself ------------------------------------------------------------------


def compose(action: PatientAction, clinic: Clinic, sender: str) -> EmailMessage:
    """The email for one action, to the clinic's admin address as it is now."""
    try:
        to = inputs.email(clinic.admin_email or "", "admin_email")
    except BadInput:
        raise Undeliverable(f"the clinic's admin_email {clinic.admin_email!r} is not an email address") from None
    tz = ClinicContext.of(clinic).tz
    try:
        starts = times.parse_instant(action.starts_at).astimezone(tz)
    except (TypeError, ValueError):
        raise Undeliverable(f"the visit's starts_at {action.starts_at!r} cannot be read") from None
    patient = " ".join(action.patient_name.split()) or "A patient"
    values = {
        "patient_name": patient,
        "date": f"{starts:%A, %B} {starts.day}, {starts.year}",
        "start_time": f"{_clock(starts)} {starts.tzname()}",
        "provider": action.provider or "(not set)",
        "location": action.location or "(not set)",
        "acted_at": _acted_at(action.acted_at, tz),
        "reason": action.reason or "(none given)",
        "clinic_name": " ".join((clinic.name or "").split()),
    }
    message = EmailMessage()
    message["From"] = formataddr(("Client portal", sender))
    message["To"] = to
    when = f"{starts:%a %b} {starts.day} at {_clock(starts)}"
    message["Subject"] = SUBJECTS[action.kind].format(patient=patient, when=when)
    message.set_content(render(f"{action.kind}_request.txt", values))
    message.add_alternative(render(f"{action.kind}_request.html", values, escape=html.escape), subtype="html")
    return message


def render(name: str, values: dict[str, str], escape=None) -> str:
    """A template from `templates/`, with every value escaped for HTML when `escape` is given."""
    if escape is not None:
        values = {key: escape(value) for key, value in values.items()}
    return _template(name).substitute(values)


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _acted_at(instant: str, tz: ZoneInfo) -> str:
    try:
        moment = times.parse_instant(instant).astimezone(tz)
    except (TypeError, ValueError):
        return instant or "(unknown)"
    return f"{moment:%a %b} {moment.day}, {moment.year} at {_clock(moment)} {moment.tzname()}"


# --- Sending, once per action ----------------------------------------------------------


def _send(ses, *, action: PatientAction) -> dict[str, str]:
    """Reads the clinic as it is now and sends the email. Raises Undeliverable, or SES's error to retry."""
    sender = config.current().sender_email
    if not sender:
        raise RuntimeError("SENDER_EMAIL is not set")  # a deployment fault: retried until it is fixed
    if not action.clinic_id:
        raise Undeliverable("the visit has no clinic_id")
    try:
        clinic = Clinic.get(action.clinic_id, consistent_read=True)
    except DoesNotExist:
        raise Undeliverable("the clinic does not exist") from None
    message = compose(action, clinic, sender)
    response = ses.send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": [str(message["To"])]},
        Content={"Raw": {"Data": message.as_bytes()}},
    )
    logger.info("Clinic email sent", extra={**action.ids(), "message_id": response["MessageId"]})
    return {"message_id": response["MessageId"]}


def _send_once():
    """`_send` guarded by Powertools' idempotency: a completed send of an action is never repeated;
    a failed one leaves no record, so its retry sends."""
    return _guarded_send(config.current().table("idempotency"), aws.client("dynamodb"))


@functools.cache
def _guarded_send(table_name: str, dynamodb):
    """One guard per idempotency table and client (a new binding makes a new client)."""
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb)
    return idempotent_function(
        _send, data_keyword_argument="action", persistence_store=store, config=_IDEMPOTENCY, key_prefix="clinic-email"
    )


def email_clinic(record: dict) -> dict[str, str] | None:
    """The visits-stream consumer: one record → the clinic's email it calls for, sent once.
    Raises (so the record is retried) when a send that could succeed failed."""
    action = decide(record)
    if action is None:
        return None
    try:
        return _send_once()(aws.sesv2(), action=action)
    except Undeliverable as problem:
        # Reporting it would block the shard with retries that cannot succeed: log, count, move on.
        logger.error("Clinic email cannot be sent", extra={**action.ids(), "problem": str(problem)})
        with single_metric(name=UNDELIVERABLE_METRIC, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE):
            pass  # emitted (as an EMF log line) when the block closes
        return None
    except Exception as error:
        logger.warning(
            "Clinic email not sent yet; its record is reported for retry",
            extra={**action.ids(), "error": f"{type(error).__name__}: {error}"},
        )
        raise


def register_invocation(context) -> None:
    """An interrupted send's in-progress lock lasts as long as the invocation, not longer."""
    if context is not None:
        _IDEMPOTENCY.register_lambda_context(context)
