"""Reminder emails to patients: armed from the visits stream, sent by a sweep every minute.

How it works, and why so:
- **Armed, not searched for.** When a visit is scheduled or moved (a record of the visits
  stream: `arm`), or its clinic's reminder settings change (`rearm_clinic`, from the clinics
  stream), each of its reminders is computed (`rules.reminder_due_times`: hours before the start,
  out of the quiet hours) and stored as one item in the reminders table, keyed by the UTC day it
  falls due. Nothing ever scans for visits: the cost of a reminder is the same whatever the size
  of the clinics.
- **Sent by a sweep.** Every minute `send_due` reads the reminders that fell due since the last
  sweep stopped (a Query per UTC day, usually one) and, for each, reads the visit, its clinic and
  its patient as they are *now* and decides (`why_not`, pure) whether it still goes: a visit moved,
  cancelled, completed, answered with a cancel or already started, a patient who turned reminders
  off or whose address bounces, a clinic that turned reminders off or changed its lead times —
  each means no email. So a stale reminder can exist, but can never go out.
- **Exactly once.** A sweep claims a reminder with a conditional write before sending; the send
  runs under Powertools' idempotency keyed by visit, lead time and start (so two sweeps, or a
  reminder armed twice, send one email); the reminder is then marked sent and the visit's history
  gets a `reminder_sent` event (a conditional put, once).
- **Outages.** The sweep starts where the last one stopped (`ReminderSweep`), so what fell due
  while it could not run goes out when it runs again — if the visit is still ahead. A reminder
  armed late (the stream was behind) is due at once rather than in the past.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException, UpdateError
from pynamodb.transactions import TransactGet

from chalicelib import aws, config, history, reminder_email, rules, stream_images, times, tracing
from chalicelib.domain import EMAIL_OK, ClinicContext, ScheduledVisit, email_status_of, visit_state
from chalicelib.logs import logger
from chalicelib.models import Clinic, Patient, Reminder, ReminderSweep, Visit

DUE, SENDING, SENT, SKIPPED = "due", "sending", "sent", "skipped"
FAILED = "failed"  # an outcome of one sweep's try, never stored: the reminder is due again
SWEEP_KEY = ("sweep", "cursor")
# A reminder claimed by a sweep that then died is claimed again after this long.
CLAIM_EXPIRES = timedelta(minutes=5)
# Sweeps read a little before where the last one stopped: a reminder put just as it ended is not missed.
OVERLAP = timedelta(minutes=5)
# Nothing older can still be ahead of its visit: the longest lead time.
LOOK_BACK = timedelta(hours=rules.MAX_REMINDER_HOURS)
KEEP_REMINDERS_FOR = timedelta(days=60)
# A sent reminder is remembered longer than any reminder can stay due, so no retry sends it again.
_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="send_key", raise_on_no_idempotency_key=True, expires_after_seconds=30 * 24 * 3600
)


def utc_now() -> datetime:
    return datetime.now(times.UTC_ZONE)


# --- Arming -------------------------------------------------------------------------------


def arm(record: dict) -> int:
    """The visits-stream consumer: a visit scheduled or moved gets its reminders (idempotent: a
    redelivered record puts the same items). Returns how many were put."""
    if record.get("eventName") not in (stream_images.INSERT, stream_images.MODIFY):
        return 0
    old, new = stream_images.images(record)
    starts_at = stream_images.text(new, "starts_at")
    if record.get("eventName") == stream_images.MODIFY and starts_at == stream_images.text(old, "starts_at"):
        return 0  # not a move: its reminders stand (what changed is checked when each is due)
    ids = {name: stream_images.text(new, name) for name in ("visit_id", "patient_id", "clinic_id")}
    if not all(ids.values()) or not starts_at:
        return 0
    try:
        clinic = ClinicContext.of(Clinic.get(ids["clinic_id"], consistent_read=True))
    except DoesNotExist:
        return 0
    # Lead times are judged against when the visit was scheduled or moved, not against when this
    # consumer got to the record: one that fell due while the stream was behind still goes.
    changed_at = times.parse_instant(stream_images.written_at(record) or times.format_instant(utc_now()))
    return _arm_visit(clinic, starts_at, changed_at, utc_now(), **ids)


def rearm_clinic(clinic_id: str, now: datetime | None = None) -> int:
    """The clinic's reminder settings (or time zone) changed: every visit ahead within the longest
    lead time gets its reminders for the new settings. Old ones that no longer fit are skipped when due."""
    now = now or utc_now()
    try:
        clinic = ClinicContext.of(Clinic.get(clinic_id, consistent_read=True))
    except DoesNotExist:
        return 0
    window = Visit.starts_at.between(times.format_instant(now), times.format_instant(now + LOOK_BACK))
    armed = 0
    for visit in Visit.by_clinic_start.query(clinic_id, window):
        if visit.starts_at and visit.patient_id and visit.visit_id:
            armed += _arm_visit(
                clinic, visit.starts_at, now, now, visit_id=visit.visit_id, patient_id=visit.patient_id,
                clinic_id=clinic_id,
            )  # fmt: skip
    logger.info("Reminders re-armed for the clinic's new settings", extra={"clinic_id": clinic_id, "armed": armed})
    return armed


def rearm_for(record: dict) -> int:
    """The clinics-stream consumer: a clinic whose reminder settings or time zone changed (by staff,
    or by hand in the console) re-arms its upcoming visits' reminders."""
    if record.get("eventName") != stream_images.MODIFY:
        return 0
    old, new = stream_images.images(record)
    if all(old.get(name) == new.get(name) for name in ("reminders", "timezone")):
        return 0
    clinic_id = stream_images.text(new, "clinic_id")
    return rearm_clinic(clinic_id) if clinic_id else 0


def _arm_visit(clinic: ClinicContext, starts_at: str, armed_at: datetime, now: datetime, **ids) -> int:
    try:
        start = times.parse_instant(starts_at)
    except (TypeError, ValueError, AttributeError):
        return 0  # an unreadable start (typed in the console): no reminder for it
    armed = 0
    for lead, planned in rules.reminder_due_times(start, clinic.reminder_policy, clinic.tz, armed_at):
        due = max(planned, now)  # planned while the stream was behind: due now
        if due >= start:
            continue
        if _put(Reminder(
            times.utc_day(due),
            f"{times.format_instant(due)}#{ids['visit_id']}#{lead}#{times.format_instant(start)}",
            due_at=times.format_instant(due),
            planned_at=times.format_instant(planned),
            starts_at=times.format_instant(start),
            hours_before=lead,
            state=DUE,
            expires_at=due + KEEP_REMINDERS_FOR,
            **ids,
        )):  # fmt: skip
            armed += 1
    return armed


def _put(reminder: Reminder) -> bool:
    try:
        reminder.save(condition=Reminder.reminder_key.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False  # armed already (a redelivered record, a second re-arm)
        raise
    return True


# --- Deciding (pure) --------------------------------------------------------------------------


def why_not(reminder: Reminder, visit: Visit | None, clinic: ClinicContext | None, patient: Patient | None,
            now: datetime) -> str | None:  # fmt: skip
    """Why this reminder must not go out now, in words (no personal data), or None: it goes."""
    if clinic is None:
        return "the clinic is gone"
    policy = clinic.reminder_policy
    if not policy.enabled:
        return "the clinic has reminders off"
    if int(reminder.hours_before or 0) not in policy.hours_before:
        return "the clinic no longer reminds at this lead time"
    if visit is None or visit.clinic_id != reminder.clinic_id:
        return "the visit is gone"
    state = visit_state(visit)
    if state is None:
        return "the visit's start cannot be read"
    if times.format_instant(state.starts_at) != reminder.starts_at:
        return "the visit moved"
    if state.starts_at <= now:
        return "the visit has started"
    status = rules.visit_status(state, clinic.policy)
    if status not in (rules.Status.AWAITING_RESPONSE, rules.Status.PATIENT_CONFIRMED):
        return f"the visit is {status.value}"
    planned = rules.reminder_due_at(state.starts_at, int(reminder.hours_before), policy, clinic.tz)
    if times.format_instant(planned) != reminder.planned_at:
        return "the clinic's reminder times changed"
    if patient is None or patient.clinic_id != reminder.clinic_id:
        return "the patient is gone"
    if not patient.email_reminders:
        return "the patient turned reminders off"
    if not patient.email:
        return "the patient has no email address"
    if email_status_of(patient) != EMAIL_OK:
        return f"the patient's address is {email_status_of(patient)}"
    return None


# --- Sending ----------------------------------------------------------------------------------


@dataclass
class SweepReport:
    sent: int = 0
    skipped: int = 0
    busy: int = 0  # claimed by another sweep right now
    failed: int = 0  # SES or DynamoDB refused for now: due again, tried by the next sweep


def send_due(now: datetime | None = None) -> SweepReport:
    """The every-minute sweep: every reminder due since the last sweep stopped, sent once or skipped."""
    now = now or utc_now()
    cursor = _cursor(now)
    start = max(cursor - OVERLAP, now - LOOK_BACK)
    report = SweepReport()
    # The cursor stops at the first reminder still open (busy elsewhere, or refused for now), so the
    # next sweep reads it again however long that takes; a visit that starts meanwhile ends it (skipped).
    swept_until = now
    day = start.date()
    while day <= now.date():
        keys = Reminder.reminder_key.between(times.format_instant(start), times.format_instant(now) + "~")
        for reminder in Reminder.query(day.isoformat(), keys, consistent_read=True):
            if reminder.state in (SENT, SKIPPED):
                continue
            try:
                outcome = deliver(reminder, now)
            except (ClientError, BotoCoreError, PynamoDBException) as error:
                outcome = FAILED
                _release(reminder, now)
                logger.warning("Reminder not sent yet", extra={**_ids(reminder), "error": type(error).__name__})
            report.sent += outcome == SENT
            report.skipped += outcome == SKIPPED
            report.busy += outcome is None
            report.failed += outcome == FAILED
            if outcome in (None, FAILED):
                swept_until = min(swept_until, times.parse_instant(reminder.due_at))
        day += timedelta(days=1)
    _move_cursor(swept_until)
    if report.sent or report.skipped or report.busy or report.failed:
        logger.info("Reminder sweep", extra=vars(report))
    if report.failed:
        logger.error("Reminders refused for now: the next sweep tries again", extra={"failed": report.failed})
    return report


def deliver(reminder: Reminder, now: datetime) -> str | None:
    """One due reminder: claimed, decided on from what is stored now, sent once (or skipped).
    Returns SENT or SKIPPED, or None when another sweep has it in hand."""
    if not _claim(reminder, now):
        return None
    visit, clinic, patient = _read(reminder)
    reason = why_not(reminder, visit, clinic, patient, now)
    if reason:
        _finish(reminder, SKIPPED, skipped_because=reason)
        logger.info("Reminder skipped", extra={**_ids(reminder), "because": reason})
        return SKIPPED
    scheduled = _scheduled(visit, clinic)
    try:
        with tracing.subsegment("reminder", visit_id=reminder.visit_id):
            sent = _send_once()(aws.sesv2(), scheduled, patient, now, send=_send_key(reminder))
    except IdempotencyAlreadyInProgressError:
        return None  # the same email is being sent by another sweep (a reminder armed twice)
    except reminder_email.Unsendable as problem:
        _finish(reminder, SKIPPED, skipped_because=str(problem))
        logger.warning("Reminder not sendable", extra={**_ids(reminder), "because": str(problem)})
        return SKIPPED
    _finish(reminder, SENT, sent_at=sent["sent_at"], message_id=sent["message_id"])
    history.record_reminder(reminder, sent["sent_at"])
    return SENT


def _release(reminder: Reminder, now: datetime) -> None:
    """Our claim given back after a refusal, so the next sweep takes it at once (if the write
    fails too, the claim simply expires)."""
    try:
        reminder.update(
            actions=[Reminder.state.set(DUE), Reminder.claimed_at.remove()],
            condition=(Reminder.state == SENDING) & (Reminder.claimed_at == times.format_instant(now)),
        )
    except UpdateError:
        pass


def _claim(reminder: Reminder, now: datetime) -> bool:
    stale = times.format_instant(now - CLAIM_EXPIRES)
    condition = (Reminder.state == DUE) | ((Reminder.state == SENDING) & (Reminder.claimed_at < stale))
    try:
        reminder.update(
            actions=[Reminder.state.set(SENDING), Reminder.claimed_at.set(times.format_instant(now))],
            condition=condition,
        )
    except UpdateError as error:
        if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _read(reminder: Reminder) -> tuple[Visit | None, ClinicContext | None, Patient | None]:
    """The visit, its clinic and its patient as they are now, in one round trip."""
    with TransactGet(connection=aws.transactions()) as reads:
        visit = reads.get(Visit, reminder.patient_id, reminder.visit_id)
        clinic = reads.get(Clinic, reminder.clinic_id)
        patient = reads.get(Patient, reminder.patient_id)
    return _got(visit), (ClinicContext.of(_got(clinic)) if _got(clinic) else None), _got(patient)


def _got(future):
    try:
        return future.get()
    except DoesNotExist:
        return None


def _scheduled(visit: Visit, clinic: ClinicContext) -> ScheduledVisit:
    return ScheduledVisit(clinic, visit, visit_state(visit))


def _send_key(reminder: Reminder) -> dict:
    """What makes a reminder the same reminder: the visit, the lead time and the start it is for."""
    return {"send_key": f"{reminder.visit_id}#{int(reminder.hours_before)}#{reminder.starts_at}",
            "visit_id": reminder.visit_id, "hours_before": int(reminder.hours_before)}  # fmt: skip


def _send(ses, scheduled, patient: Patient, now: datetime, *, send: dict) -> dict:
    message = reminder_email.compose(scheduled, patient, send["hours_before"], now)
    request = reminder_email.ses_request(message, scheduled, patient, send["send_key"])
    try:
        response = ses.send_email(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in reminder_email.PERMANENT_SES_ERRORS:
            raise reminder_email.Unsendable(f"SES refused it ({code})") from None
        raise
    logger.info("Reminder sent", extra={"visit_id": send["visit_id"], "hours_before": send["hours_before"],
                                        "message_id": response["MessageId"]})  # fmt: skip
    return {"message_id": response["MessageId"], "sent_at": times.format_instant(now)}


def _send_once():
    """`_send` under Powertools' idempotency (the clinic emails' table), keyed by `_send_key`."""
    return _guarded_send(config.current().table("idempotency"), aws.client("dynamodb"))


@functools.cache
def _guarded_send(table_name: str, dynamodb):
    """One guard per idempotency table and client (a new binding makes a new client)."""
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb)
    return idempotent_function(
        _send, data_keyword_argument="send", persistence_store=store, config=_IDEMPOTENCY, key_prefix="reminder"
    )


def register_invocation(context) -> None:
    """A send interrupted with its invocation may be tried again once the invocation is over."""
    if context is not None:
        _IDEMPOTENCY.register_lambda_context(context)


def _finish(reminder: Reminder, state: str, **fields) -> None:
    reminder.update(actions=[Reminder.state.set(state), *(getattr(Reminder, k).set(v) for k, v in fields.items())])


def _ids(reminder: Reminder) -> dict:
    return {"visit_id": reminder.visit_id, "clinic_id": reminder.clinic_id, "hours_before": reminder.hours_before}


# --- Where the sweep stopped ---------------------------------------------------------------


def _cursor(now: datetime) -> datetime:
    try:
        stored = ReminderSweep.get(*SWEEP_KEY, consistent_read=True).swept_until
        return times.parse_instant(stored)
    except (DoesNotExist, TypeError, ValueError, AttributeError):
        return now - timedelta(hours=1)  # the first sweep of a deployment


def _move_cursor(now: datetime) -> None:
    """Forward only: a slower sweep finishing after a later one does not move it back."""
    until = times.format_instant(now)
    try:
        ReminderSweep(*SWEEP_KEY, swept_until=until).save(
            condition=ReminderSweep.swept_until.does_not_exist() | (ReminderSweep.swept_until < until)
        )
    except PutError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
