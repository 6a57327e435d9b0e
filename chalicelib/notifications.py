"""The clinic's emails: a patient's cancel or un-cancel, read off the visits table's stream, sent by SES.

`email_clinic` is a consumer of the visits stream, `send_kept_emails_for` of the clinics stream
(chalicelib/streams.py hands each record to them).

`decide` reads one stream record's old and new images and nothing else, so a record that
needs no email costs no AWS call. A send is idempotent per patient action (Powertools'
idempotency, keyed by the visit's `change_id`), so a redelivered or retried record re-sends
nothing already sent.

An email that cannot be sent as things stand (no clinic address, one that is not an address,
one SES refuses for good) is kept in the outbox (`chalicelib/outbox.py`) instead of failing the
stream, and sent, under the same idempotency key, as soon as a valid address is saved (the
clinics table's stream, `send_kept_emails_for`) or by hand (`python -m ops.admin send-kept-emails`).
"""

import functools
import html
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from chalicelib import aws, config, inputs, mail, outbox, rules, stream_images, times, tracing
from chalicelib.domain import PATIENT_ACTOR, REMINDER_LINK_ACTOR, ClinicContext
from chalicelib.errors import BadInput
from chalicelib.logs import logger
from chalicelib.models import Clinic

CANCEL, UNCANCEL = "cancel", "uncancel"
# The visit's day and time, never the patient: subjects show in inbox lists and notifications.
SUBJECTS = {CANCEL: "Cancellation request: {when}", UNCANCEL: "Un-cancellation request: {when}"}
UNDELIVERABLE_METRIC = "ClinicEmailsUndeliverable"
KEPT_TOO_LONG_METRIC = "ClinicEmailsKeptTooLong"
# Longer than a stream keeps a record (24 hours), so no redelivery outlives the memory of a send.
REMEMBER_SENDS_FOR_SECONDS = 48 * 3600
_CANCELLED = rules.PatientResponse.CANCELLED.value
_THE_PATIENT = frozenset({PATIENT_ACTOR, REMINDER_LINK_ACTOR})
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


def utc_now() -> datetime:
    return datetime.now(UTC)


class Undeliverable(Exception):
    """This email cannot be sent as things stand (no clinic, no valid admin address, SES refuses it for
    good): a retry would not help, so it is kept. The message says why, in words, without any value;
    `about_address` tells a problem that saving a valid admin_email fixes."""

    def __init__(self, problem: str, about_address: bool = False):
        super().__init__(problem)
        self.about_address = about_address


# --- Which change emails whom ----------------------------------------------------------


def decide(record: dict) -> PatientAction | None:
    """The email a stream record calls for, from its images alone; None for every other change.

    Only a patient's own write emails (`stream_images.writer` is the patient, in the portal or
    through a reminder's link: a new stamp with `changed_by` "patient" or "reminder-link"). Staff,
    the service and console edits never email.
    """
    if record.get("eventName") != stream_images.MODIFY or stream_images.writer(record) not in _THE_PATIENT:
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
    if not (clinic.admin_email or "").strip():
        raise Undeliverable("the clinic has no admin_email", about_address=True)
    try:
        display_name, address = inputs.parse_mailbox(clinic.admin_email)
    except BadInput:
        raise Undeliverable("the clinic's admin_email is not an email address", about_address=True) from None
    tz = ClinicContext.of(clinic).tz
    try:
        starts = times.parse_instant(action.starts_at).astimezone(tz)
    except (TypeError, ValueError, AttributeError, OverflowError):
        raise Undeliverable("the visit's starts_at cannot be read") from None
    patient = " ".join(action.patient_name.split()) or "A patient"
    values = {
        "patient_name": patient,
        "date": f"{starts:%A, %B} {starts.day}, {starts.year}",
        "start_time": f"{mail.clock(starts)} {starts.tzname()}",
        "provider": action.provider or "(not set)",
        "location": action.location or "(not set)",
        "acted_at": _acted_at(action.acted_at, tz),
        "reason": action.reason or "(none given)",
        "clinic_name": " ".join((clinic.name or "").split()),
    }
    message = EmailMessage()
    message["From"] = formataddr(("Client portal", sender))
    message["To"] = Address(display_name=display_name, addr_spec=address)
    message["Subject"] = SUBJECTS[action.kind].format(when=f"{starts:%a, %b} {starts.day} at {mail.clock(starts)}")
    text_values = dict(values, reason=quoted(action.reason))
    message.set_content(mail.render(f"{action.kind}_request.txt", text_values))
    message.add_alternative(mail.render(f"{action.kind}_request.html", values, escape=html.escape), subtype="html")
    return message


def quoted(reason: str) -> str:
    """What the patient typed, every line marked as theirs (`> `), so no line of it can pass for the
    email's own (a "Patient:" line, a link). Every kind of line break counts, not only \\n."""
    lines = reason.splitlines() if reason else []
    if not any(line.strip() for line in lines):
        return "(none given)"
    return "as the patient wrote it:\n" + "\n".join(f"> {line}".rstrip() for line in lines)


def _acted_at(instant: str, tz: ZoneInfo) -> str:
    try:
        moment = times.parse_instant(instant).astimezone(tz)
    except (TypeError, ValueError):
        return instant or "(unknown)"
    return f"{moment:%a %b} {moment.day}, {moment.year} at {mail.clock(moment)} {moment.tzname()}"


# --- Sending, once per action ----------------------------------------------------------


def _send(ses, *, action: PatientAction) -> dict[str, str]:
    """Reads the clinic as it is now and sends the email. Raises Undeliverable, or SES's error to retry."""
    settings = config.current()
    if not settings.sender_email:
        raise RuntimeError("SENDER_EMAIL is not set")  # a deployment fault: retried until it is fixed
    if not action.clinic_id:
        raise Undeliverable("the visit has no clinic_id")
    try:
        clinic = Clinic.get(action.clinic_id, consistent_read=True)
    except DoesNotExist:
        raise Undeliverable("the clinic does not exist") from None
    message = compose(action, clinic, settings.sender_email)
    mail.stamp(message, utc_now())
    # What SES reports about this email (delivery, bounce, complaint) comes back with these ids.
    request = mail.ses_request(message, message["To"].addresses[0].addr_spec, action.ids())
    try:
        response = ses.send_email(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in mail.PERMANENT_SES_ERRORS:
            raise Undeliverable(f"SES refused it ({code})") from None
        raise
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


def send_or_keep(action: PatientAction, ses, now: datetime) -> dict[str, str] | None:
    """Sends the email once; one that cannot be sent as things stand is kept in the outbox (and
    counted, and logged) instead of failing. Other errors (SES throttling...) are raised, to retry."""
    try:
        return _send_once()(ses, action=action)
    except Undeliverable as undeliverable:
        problem, about_address = str(undeliverable), undeliverable.about_address
    if outbox.keep(asdict(action), problem, now):
        logger.error("Clinic email cannot be sent; it is kept", extra={**action.ids(), "problem": problem})
        _count(UNDELIVERABLE_METRIC, 1, **action.ids())
    # The address may have been fixed while this email was being kept: the clinics stream then
    # found no kept email to send, so look once more, now that this one is stored.
    if about_address and _valid_admin_address(action.clinic_id):
        send_kept_emails(action.clinic_id, ses)
    return None


def email_clinic(record: dict) -> dict[str, str] | None:
    """The visits-stream consumer: one record → the clinic's email it calls for, sent once, or kept
    when it cannot be sent as things stand. Raises (so the record is retried) when a send that could
    succeed failed."""
    action = decide(record)
    if action is None:
        return None
    try:
        with tracing.subsegment("clinic_email", change_id=action.change_id, visit_id=action.visit_id):
            return send_or_keep(action, aws.sesv2(), utc_now())
    except Exception as error:
        logger.warning(
            "Clinic email not sent yet; its record is reported for retry",
            extra={**action.ids(), "error": type(error).__name__},
        )
        raise


def register_invocation(context) -> None:
    """An interrupted send's in-progress lock lasts as long as the invocation, not longer."""
    if context is not None:
        _IDEMPOTENCY.register_lambda_context(context)


# --- Kept emails: sent once a valid address is saved --------------------------------------


def send_kept_emails(clinic_id: str | None, ses=None) -> tuple[int, int]:
    """Sends the kept emails of one clinic (or, with None, of every clinic) whose address is valid now,
    oldest first, each under its first try's idempotency key, and removes each once sent.
    Returns (sent, still kept). Raises on errors worth a retry (SES throttling...)."""
    ses = ses or aws.sesv2()
    waiting = outbox.kept(clinic_id) if clinic_id else outbox.kept_everywhere()
    sent = 0
    for kept_email in waiting:
        action = PatientAction(**kept_email.fields)
        if action.clinic_id == "(none)":
            continue  # a visit without a clinic: nothing to send it to
        try:
            response = _send_once()(ses, action=action)
        except Undeliverable:
            continue  # still not sendable: it stays kept (and counted)
        except IdempotencyAlreadyInProgressError:
            continue  # another sender has it in hand right now
        outbox.remove(action.clinic_id, action.change_id)
        sent += 1
        logger.info("Kept clinic email sent", extra={**action.ids(), "message_id": (response or {}).get("message_id")})
    return sent, len(waiting) - sent


def _valid_admin_address(clinic_id: str) -> bool:
    try:
        address = Clinic.get(clinic_id, consistent_read=True).admin_email
        inputs.parse_mailbox(address or "")
    except (DoesNotExist, BadInput):
        return False
    return True


def send_kept_emails_for(record: dict) -> None:
    """The clinics-stream consumer: a clinic saved with a valid admin_email (by staff, or by hand in
    the console) gets its kept emails. Raises on a failed send worth a retry."""
    _, image = stream_images.images(record)
    clinic_id, address = stream_images.text(image, "clinic_id"), stream_images.text(image, "admin_email")
    if not clinic_id or not address:
        return
    try:
        inputs.parse_mailbox(address)
    except BadInput:
        return  # still not an address: the emails stay kept
    with tracing.subsegment("kept_emails", clinic_id=clinic_id):
        sent, waiting = send_kept_emails(clinic_id, aws.sesv2())
    if sent or waiting:
        logger.info("Kept clinic emails sent after the address was saved", extra={"clinic_id": clinic_id, "sent": sent})


def report_kept_too_long(now: datetime | None = None) -> int:
    """Every email kept longer than the 30 days the contract promises: an ERROR line each (ids only)
    and one metric with their number, which the stack alarms on. They stay kept, and can still be sent."""
    now = now or utc_now()
    overdue = outbox.kept_everywhere(older_than=now - outbox.PROMISED)
    for kept_email in overdue:
        ids = {name: kept_email.fields[name] for name in ("kind", "change_id", "clinic_id", "patient_id", "visit_id")}
        logger.error(
            "Clinic email kept for more than 30 days",
            extra={**ids, "kept_at": kept_email.kept_at, "problem": kept_email.problem},
        )
    _count(KEPT_TOO_LONG_METRIC, len(overdue))
    return len(overdue)


def _count(name: str, value: int, **metadata) -> None:
    """One CloudWatch metric (an EMF log line) in the deployment's namespace, with ids as searchable metadata."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=config.current().metrics_namespace
    ) as metric:
        for key, item in metadata.items():
            metric.add_metadata(key=key, value=item)
