"""End to end on the emulator, as in `make run`: API call → DynamoDB stream → the local poller →
the Lambda handler → SES."""

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from local.stream_poller import CLINICS_FUNCTION_NAME, FUNCTION_NAME, EmailPrinter, StreamPoller


@pytest.fixture
def poller(app, aws):
    """The pollers of `make run` (visits and clinics streams), from the streams' end (earlier tests'
    records are not ours), printing each email once."""
    printed = []
    printer = EmailPrinter(printed.append)
    running = [
        StreamPoller(
            app.handler_map[name],
            stream_arn,
            aws.endpoint,
            start_at="LATEST",
            poll_seconds=0.05,
            first_backoff_seconds=0.05,
            printer=printer,
            function_name=name,
        ).start()
        for name, stream_arn in (
            (FUNCTION_NAME, aws.visits_stream_arn),
            (CLINICS_FUNCTION_NAME, aws.clinics_stream_arn),
        )
    ]

    def wait_until_idle(timeout):
        return all(each.wait_until_idle(timeout=timeout) for each in running)

    yield SimpleNamespace(wait_until_idle=wait_until_idle, printed=printed)
    for each in running:
        each.stop()


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


def test_an_email_for_a_clinic_without_address_arrives_once_the_staff_save_one(api, make_clinic, poller, inbox):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")

    answer(api, world, visit_id, "cancelled", reason="Sick")
    assert poller.wait_until_idle(timeout=15)
    assert api.get("/clinic/settings", world.staff_token).data["undelivered_emails"] == 1
    address = f"desk.{world.clinic_id}@tests.example"
    saved = api.patch("/clinic/settings", world.staff_token, json_body={"admin_email": f"Front Desk <{address}>"})
    assert saved.status_code == 200, saved.data
    assert poller.wait_until_idle(timeout=15)

    [email] = inbox(address)
    assert "> Sick" in email.text
    assert api.get("/clinic/settings", world.staff_token).data["undelivered_emails"] == 0
    assert poller.printed == [email]
