"""End to end on the emulator, as in `make run`: API call → DynamoDB stream → the local poller →
the Lambda handler → SES."""

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from local.stream_poller import FUNCTION_NAME, StreamPoller


@pytest.fixture
def poller(app, aws):
    """The poller of `make run`, from the stream's end (earlier tests' records are not ours)."""
    printed = []
    running = StreamPoller(
        app.handler_map[FUNCTION_NAME],
        aws.visits_stream_arn,
        aws.endpoint,
        start_at="LATEST",
        poll_seconds=0.05,
        first_backoff_seconds=0.05,
        on_email=printed.append,
    ).start()
    yield SimpleNamespace(wait_until_idle=running.wait_until_idle, printed=printed)
    running.stop()


def answer(api, world, visit_id, response, **extra):
    reply = api.put(
        f"/portal/sessions/{visit_id}/response", world.token_for("Alex"), json_body={"response": response, **extra}
    )
    assert reply.status_code == 200, reply.data


def change(api, world, visit_id):
    reply = api.delete(f"/portal/sessions/{visit_id}/response", world.token_for("Alex"))
    assert reply.status_code == 200, reply.data


def test_each_patient_cancel_and_uncancel_reaches_the_clinic_inbox_once_in_order_and_nothing_else(
    api, clinic, poller, inbox
):
    first, second = clinic.add_visit("Alex"), clinic.add_visit("Alex")
    later = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=20)).date().isoformat()

    answer(api, clinic, first, "cancelled", reason="Sick")
    answer(api, clinic, first, "cancelled", reason="Sick")  # the same answer again changes nothing
    change(api, clinic, first)
    answer(api, clinic, second, "confirmed")
    change(api, clinic, second)
    answer(api, clinic, second, "cancelled")
    moved = api.patch(f"/clinic/sessions/{second}", clinic.staff_token, json_body={"date": later})
    assert moved.status_code == 200, moved.data

    assert poller.wait_until_idle(timeout=15)
    emails = inbox(clinic.admin_email)
    assert [email.subject.split(":")[0] for email in emails] == [
        "Cancellation request",
        "Un-cancellation request",
        "Cancellation request",
    ]
    assert "Sick" in emails[0].text and "Sick" in emails[1].text
    assert poller.printed == emails


def test_a_send_that_ses_refuses_is_retried_by_the_poller_and_arrives_once(api, clinic, poller, inbox, ses_refuses):
    visit_id = clinic.add_visit("Alex")
    ses_refuses[clinic.admin_email] = 2

    answer(api, clinic, visit_id, "cancelled")

    assert poller.wait_until_idle(timeout=15)
    assert ses_refuses[clinic.admin_email] == 0
    assert [email.subject.split(":")[0] for email in inbox(clinic.admin_email)] == ["Cancellation request"]
