"""What SES reports about each email the portal sends (the configuration set's event destination):
delivered, bounced, complained, rejected, delayed. One event → one log line and one metric, tied to
the visit and the change id that the send tagged the email with. No address, no name, no subject.

A reminder that bounces for good, or that the patient reports as spam, also marks the patient's
address (`email_status`): no more reminders go to it until staff change the patient's email.
"""

import json
from collections.abc import Mapping

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pynamodb.exceptions import UpdateError

from chalicelib import added_email, config, reminder_email
from chalicelib.domain import EMAIL_BOUNCING, EMAIL_COMPLAINED
from chalicelib.logs import logger
from chalicelib.models import Patient

# SES's event types, and the metric each becomes (`ClinicEmailDelivery`, `ClinicEmailBounce`...,
# `ReminderEmailBounce`... for the patients' reminders).
EVENT_TYPES = ("Send", "Delivery", "Bounce", "Complaint", "Reject", "DeliveryDelay", "RenderingFailure")
_TAGGED_IDS = ("kind", "clinic_id", "patient_id", "visit_id", "change_id")
_TROUBLE = {"Bounce", "Complaint", "Reject", "RenderingFailure"}


def record(message) -> dict | None:
    """Records one SES event (the SNS message's text, or the event itself). Returns what was recorded,
    or None for a message that is no SES event (logged, never raised: a retry would not help)."""
    event = _event(message)
    kind = event.get("eventType") or event.get("notificationType") if event else None
    if kind not in EVENT_TYPES:
        logger.warning("Not an SES email event; ignored", extra={"event_type": str(kind)[:40]})
        return None
    mail = event.get("mail") if isinstance(event.get("mail"), Mapping) else {}
    tags = mail.get("tags") if isinstance(mail.get("tags"), Mapping) else {}
    ids = {name: _first(tags.get(name)) for name in _TAGGED_IDS}
    details = {"event_type": kind, "message_id": str(mail.get("messageId", ""))[:100], **ids}
    if kind == "Bounce":
        bounce = event.get("bounce") if isinstance(event.get("bounce"), Mapping) else {}
        details["bounce_type"] = str(bounce.get("bounceType", ""))[:40]
        details["bounce_subtype"] = str(bounce.get("bounceSubType", ""))[:40]
    if kind == "Complaint":
        complaint = event.get("complaint") if isinstance(event.get("complaint"), Mapping) else {}
        details["complaint_type"] = str(complaint.get("complaintFeedbackType", ""))[:40]
    # A clinic email in trouble is the clinic not hearing of a cancel: an ERROR (and its alarm). A
    # patient's reminder that bounces is the patient's address: noted on the patient, a WARNING. The
    # email telling a person that a clinic added them goes to the patient's address too: counted
    # and noted with the reminders.
    reminder = ids["kind"] in (reminder_email.KIND, added_email.KIND)
    what = "Reminder email" if reminder else "Clinic email"
    if kind in _TROUBLE:
        (logger.warning if reminder else logger.error)(f"{what}: {kind}", extra=details)
    else:
        logger.info(f"{what}: {kind}", extra=details)
    with single_metric(
        name=f"{what.replace(' email', 'Email')}{kind}",
        unit=MetricUnit.Count,
        value=1,
        namespace=config.current().metrics_namespace,
    ) as metric:
        for key, value in details.items():
            metric.add_metadata(key=key, value=value)
    if reminder and ids["patient_id"]:
        _mark_patient_address(kind, details, ids["patient_id"], mail.get("destination"))
    return details


def _mark_patient_address(kind: str, details: dict, patient_id: str, destination) -> None:
    """A permanent bounce or a complaint about a reminder: that address gets no more reminders."""
    if kind == "Bounce" and details.get("bounce_type") == "Permanent":
        status = EMAIL_BOUNCING
    elif kind == "Complaint":
        status = EMAIL_COMPLAINED
    else:
        return
    address = str(destination[0]).strip().lower() if isinstance(destination, list) and destination else ""
    if not address:
        return
    try:
        # Only while the patient still has that address: a new one starts clean.
        Patient(patient_id).update(
            actions=[Patient.email_status.set(status), Patient.email_status_address.set(address)],
            condition=Patient.email == address,
        )
    except UpdateError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return
    logger.warning(
        "Patient address marked: no more reminders go to it", extra={"patient_id": patient_id, "status": status}
    )


def _event(message) -> dict | None:
    if isinstance(message, Mapping):
        return dict(message)
    try:
        parsed = json.loads(message)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _first(values) -> str:
    """SES gives each tag as a list of values; ours have one (ids: safe to log)."""
    if isinstance(values, list) and values:
        return str(values[0])[:256]
    return ""
