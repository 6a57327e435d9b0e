"""What SES reports about each clinic email reaches operations: one log line and one metric per event,
tied to the visit and change id the send tagged it with; never an address or a name."""

import json
import logging

import pytest

SENT_TAGS = {
    "kind": ["cancel"],
    "clinic_id": ["cln_events"],
    "visit_id": ["vis_events_1"],
    "change_id": ["chg_events_1"],
    "ses:configuration-set": ["portal-test-emails"],
}


def ses_event(event_type, **details):
    """An SES event as the configuration set publishes it to SNS."""
    event = {
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-12-01T14:00:00.000Z",
            "source": "portal-noreply@tests.example",
            "messageId": "0100018c-example",
            "destination": ["frontdesk@clinic.example"],
            "commonHeaders": {
                "subject": "Cancellation request: Tue, Dec 8 at 9:00 AM",
                "to": ["frontdesk@clinic.example"],
            },
            "tags": SENT_TAGS,
        },
    }
    event.update(details)
    return event


def sns_delivery(message: str):
    """The SNS notification Lambda hands the subscribed function."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:portal-test-email-events:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:portal-test-email-events",
                    "Subject": None,
                    "Message": message,
                    "Timestamp": "2026-12-01T14:00:01.000Z",
                    "MessageAttributes": {},
                },
            }
        ]
    }


@pytest.fixture
def consume(client, capsys):
    """Delivers one SNS message to the `email_events` function; returns (log records, metric lines)."""

    def deliver(message: str, caplog):
        capsys.readouterr()
        caplog.clear()
        client.lambda_.invoke("email_events", sns_delivery(message))
        metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        return list(caplog.records), metrics

    return deliver


@pytest.mark.parametrize(
    "event_type, details, level",
    [
        ("Delivery", {"delivery": {"recipients": ["frontdesk@clinic.example"], "smtpResponse": "250 ok"}}, "INFO"),
        (
            "Bounce",
            {
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [{"emailAddress": "frontdesk@clinic.example"}],
                }
            },
            "ERROR",
        ),
        (
            "Complaint",
            {
                "complaint": {
                    "complainedRecipients": [{"emailAddress": "frontdesk@clinic.example"}],
                    "complaintFeedbackType": "abuse",
                }
            },
            "ERROR",
        ),
    ],
)
def test_each_ses_event_is_one_log_line_and_one_metric_tied_to_the_visit_and_change(
    event_type, details, level, consume, caplog
):
    caplog.set_level(logging.INFO, logger="client-portal")

    records, metrics = consume(json.dumps(ses_event(event_type, **details)), caplog)

    [logged] = [r for r in records if r.getMessage() == f"Clinic email: {event_type}"]
    assert logged.levelname == level
    assert (logged.visit_id, logged.change_id, logged.clinic_id) == ("vis_events_1", "chg_events_1", "cln_events")
    [metric] = metrics
    assert metric[f"ClinicEmail{event_type}"] == [1.0]
    assert (metric["visit_id"], metric["change_id"]) == ("vis_events_1", "chg_events_1")
    everything = json.dumps([r.__dict__ for r in records], default=str) + json.dumps(metrics)
    assert "frontdesk@clinic.example" not in everything and "Cancellation request" not in everything


def test_a_bounce_says_whether_it_was_permanent(consume, caplog):
    bounce = {"bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull", "bouncedRecipients": []}}

    records, _ = consume(json.dumps(ses_event("Bounce", **bounce)), caplog)

    [logged] = [r for r in records if r.getMessage() == "Clinic email: Bounce"]
    assert (logged.bounce_type, logged.bounce_subtype) == ("Transient", "MailboxFull")


@pytest.mark.parametrize("message", ["not json", "[]", json.dumps({"eventType": "Surprise"}), json.dumps({})])
def test_a_message_that_is_no_ses_event_is_logged_and_does_not_fail(message, consume, caplog):
    records, metrics = consume(message, caplog)

    assert [r.getMessage() for r in records if r.levelname == "WARNING"] == ["Not an SES email event; ignored"]
    assert metrics == []


# --- A patient's reminder that bounces or is reported: no more reminders to that address -----


def reminder_event(event_type, world, name="Alex", address=None, **details):
    event = ses_event(event_type, **details)
    address = address or world.email_of(name)
    event["mail"]["destination"] = [address]
    event["mail"]["tags"] = {
        "kind": ["reminder"],
        "clinic_id": [world.clinic_id],
        "patient_id": [world.patients[name]],
        "visit_id": ["vis_events_2"],
        "change_id": ["vis_events_2#48#2026-12-08T14:00:00Z"],
    }
    return event


PERMANENT = {"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": []}}
TRANSIENT = {"bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull", "bouncedRecipients": []}}
COMPLAINT = {"complaint": {"complainedRecipients": [], "complaintFeedbackType": "abuse"}}


def listed_status(api, world, name="Alex"):
    patients = api.get("/clinic/patients", world.staff_token).data["patients"]
    return next(p["email_status"] for p in patients if p["name"] == name)


@pytest.mark.parametrize(
    "event_type, details, status",
    [("Bounce", PERMANENT, "bouncing"), ("Complaint", COMPLAINT, "complained"), ("Bounce", TRANSIENT, "ok")],
    ids=["permanent bounce", "complaint", "a full mailbox is not a bad address"],
)
def test_a_reminder_that_bounces_or_is_reported_marks_the_patients_address(
    event_type, details, status, consume, caplog, api, clinic
):
    records, metrics = consume(json.dumps(reminder_event(event_type, clinic, **details)), caplog)

    assert listed_status(api, clinic) == status
    assert [m for m in metrics if f"ReminderEmail{event_type}" in m]  # not the clinic emails' alarm metric
    assert not [r for r in records if r.levelname == "ERROR"]


def test_a_new_address_is_ok_again_and_a_late_bounce_of_the_old_one_does_not_mark_it(consume, caplog, api, clinic):
    from chalicelib.models import Patient

    consume(json.dumps(reminder_event("Bounce", clinic, **PERMANENT)), caplog)
    patient = Patient.get(clinic.patients["Alex"])
    patient.update(actions=[Patient.email.set("alex.new@tests.example")])  # staff fix it (in the console)
    assert listed_status(api, clinic) == "ok"

    consume(json.dumps(reminder_event("Complaint", clinic, address=clinic.email_of("Alex"), **COMPLAINT)), caplog)

    assert listed_status(api, clinic) == "ok"


def test_the_added_to_a_clinic_email_that_bounces_marks_the_patients_address_not_the_clinic_alarm(
    consume, caplog, api, clinic
):
    event = reminder_event("Bounce", clinic, **PERMANENT)
    event["mail"]["tags"] = {
        "kind": ["added-to-clinic"],
        "clinic_id": [clinic.clinic_id],
        "patient_id": [clinic.patients["Alex"]],
    }

    records, metrics = consume(json.dumps(event), caplog)

    assert listed_status(api, clinic) == "bouncing"
    assert [m for m in metrics if "ReminderEmailBounce" in m] and not [m for m in metrics if "ClinicEmail" in m]
    assert not [r for r in records if r.levelname == "ERROR"]
