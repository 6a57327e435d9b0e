"""The clinic's emails: stream records built from real items, delivered to the handler as Lambda does.

Each record's images are the visit item read back from DynamoDB before and after a real
write (an API call, a staff change, a console-style edit). The outcome asserted is what
SES received, and the `batchItemFailures` the handler returned.
"""

import json
import logging
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from streams import stream_record

from chalicelib import aws as aws_clients
from chalicelib import config, notifications
from chalicelib.models import ALL_MODELS, Visit

DAY = timedelta(days=1)
NO_FAILURES = {"batchItemFailures": []}


def sequence_numbers(*records):
    return [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]} for record in records]


# --- Acting as the patient, the staff and the console ----------------------------------


def cancel(api, world, visit_id, reason=None, patient="Alex"):
    body = {"response": "cancelled", **({"reason": reason} if reason else {})}
    response = api.put(f"/portal/sessions/{visit_id}/response", world.token_for(patient), json_body=body)
    assert response.status_code == 200, response.data


def confirm(api, world, visit_id, patient="Alex"):
    response = api.put(
        f"/portal/sessions/{visit_id}/response", world.token_for(patient), json_body={"response": "confirmed"}
    )
    assert response.status_code == 200, response.data


def change_answer(api, world, visit_id, patient="Alex"):
    response = api.delete(f"/portal/sessions/{visit_id}/response", world.token_for(patient))
    assert response.status_code == 200, response.data


def staff_patch(api, world, visit_id, **fields):
    response = api.patch(f"/clinic/sessions/{visit_id}", world.staff_token, json_body=fields)
    assert response.status_code == 200, response.data


def console_edit(world, visit_id, *actions, patient="Alex"):
    """An edit by hand in the AWS console: the item changes, nothing else does."""
    world.stored_visit(patient, visit_id).update(actions=list(actions))


@pytest.fixture
def aws_calls(app):
    """Every request the service's AWS clients make during the test (botocore's before-call event)."""
    calls = []
    clients = [aws_clients.sesv2(), aws_clients.client("dynamodb")] + [
        model._get_connection().connection.client for model in ALL_MODELS
    ]
    hook_id = f"count-calls-{uuid.uuid4().hex}"
    for aws_client in clients:
        aws_client.meta.events.register(
            "before-call", lambda event_name, **_: calls.append(event_name), unique_id=hook_id
        )
    yield calls
    for aws_client in clients:
        aws_client.meta.events.unregister("before-call", unique_id=hook_id)


# --- A patient's cancel and un-cancel --------------------------------------------------


def test_cancel_by_patient_emails_the_clinic_once(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")
    record = changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id))

    result = deliver(record)

    assert result == NO_FAILURES
    [email] = inbox(clinic.admin_email)
    assert email.subject.startswith("Cancellation request: ")
    assert email.to == (clinic.admin_email,)
    assert config.current().sender_email in email.sender


def test_cancel_email_describes_the_visit_in_the_clinics_time_zone(api, make_clinic, changed, deliver, inbox):
    world = make_clinic(timezone_name="America/Los_Angeles")
    visit_id = world.add_visit("Alex", provider="Jordan Lee, LMFT", location="Telehealth (video)")
    tz = ZoneInfo("America/Los_Angeles")
    day = (datetime.now(tz) + 10 * DAY).date()
    starts = datetime(day.year, day.month, day.day, 9, 0, tzinfo=tz)
    console_edit(
        world, visit_id, Visit.starts_at.set(starts.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"))
    )
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id, reason="Family trip that week."))

    deliver(record)

    [email] = inbox(world.admin_email)
    assert email.subject == f"Cancellation request: {starts:%a, %b} {day.day} at 9:00 AM"
    for part in (email.text, email.html):
        assert f"{starts:%A, %B} {day.day}, {day.year}" in part
        assert f"9:00 AM {starts.tzname()}" in part
        assert "Jordan Lee, LMFT" in part
        assert "Telehealth (video)" in part
        assert "Family trip that week." in part
        assert "until the clinic moves it to a cancelled-type session class" in " ".join(part.split())
    acted = datetime.now(tz)
    assert f"Requested at: {acted:%a %b} {acted.day}, {acted.year} at " in email.text
    assert "Cancelled:" not in email.text  # it read as if the visit itself were cancelled
    assert ">Requested at</th>" in email.html


def test_every_clinic_email_carries_its_own_date_and_message_id(api, clinic, changed, deliver, inbox):
    """SES adds Date and Message-ID; another relay would not, so the message has its own (RFC 5322)."""
    visit_id = clinic.add_visit("Alex")
    deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason="Sick")))

    [email] = inbox(clinic.admin_email)  # the raw MIME, parsed as a mail client does (email.policy.default)
    assert abs(parsedate_to_datetime(email.header("Date")) - datetime.now(UTC)) < timedelta(minutes=5)
    assert re.fullmatch(r"<[^<>@\s]+@tests\.example>", email.header("Message-ID"))


def test_uncancel_by_patient_emails_the_clinic_once_with_the_reason_they_had_given(
    api, clinic, changed, deliver, inbox
):
    visit_id = clinic.add_visit("Alex")
    cancel(api, clinic, visit_id, reason="Car trouble")
    record = changed(clinic, visit_id, lambda: change_answer(api, clinic, visit_id))

    result = deliver(record)

    assert result == NO_FAILURES
    [email] = inbox(clinic.admin_email)
    assert email.subject.startswith("Un-cancellation request: ")
    assert "Car trouble" in email.text
    assert "cancelled-type session class" not in email.text


def test_cancel_without_a_reason_says_none_was_given(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")

    deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id)))

    [email] = inbox(clinic.admin_email)
    assert "Reason:      (none given)" in email.text


def test_email_goes_to_the_admin_email_as_it_is_when_sent(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")
    record = changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id))
    new_address = f"office.{clinic.clinic_id}@tests.example"
    clinic.settings(admin_email=new_address)

    deliver(record)

    assert inbox(clinic.admin_email) == []
    assert len(inbox(new_address)) == 1


def test_html_injection_in_patient_name_and_reason_arrives_escaped(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")
    console_edit(clinic, visit_id, Visit.patient_name.set('Alex <script>alert("name")</script>'))
    reason = '<img src=x onerror="alert(1)"> & <b>bold</b>'
    record = changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason=reason))

    deliver(record)

    [email] = inbox(clinic.admin_email)
    assert "<script>" not in email.html and "<img" not in email.html and "<b>" not in email.html
    assert "Alex &lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in email.html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in email.html
    assert f"> {reason}" in email.text  # plain text shows what the patient typed, as typed, quoted


def test_the_subject_names_the_visits_day_and_time_never_the_patient(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")
    console_edit(clinic, visit_id, Visit.patient_name.set("Alexandra Quinn-Rivera"))

    deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id)))
    deliver(changed(clinic, visit_id, lambda: change_answer(api, clinic, visit_id)))

    emails = inbox(clinic.admin_email)
    assert [email.subject.split(": ")[0] for email in emails] == ["Cancellation request", "Un-cancellation request"]
    for email in emails:
        assert "Alexandra" not in email.subject and "Quinn" not in email.subject
        assert re.fullmatch(
            r"[A-Za-z-]+ request: [A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2} at \d{1,2}:\d{2} [AP]M", email.subject
        )
        assert "Alexandra Quinn-Rivera" in email.text and "Alexandra Quinn-Rivera" in email.html


def test_a_multi_line_reason_is_quoted_line_by_line_so_it_cannot_pose_as_the_emails_own_lines(
    api, clinic, changed, deliver, inbox
):
    visit_id = clinic.add_visit("Alex")
    forged = "Flu.\nPatient:     Someone Else\r\nConfirm here: https://evil.example/x\u2028Location:    Room 9"

    deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason=forged)))

    [email] = inbox(clinic.admin_email)
    text = email.text.splitlines()
    start = text.index("Reason:      as the patient wrote it:")
    assert text[start + 1 : start + 5] == [
        "> Flu.",
        "> Patient:     Someone Else",
        "> Confirm here: https://evil.example/x",
        "> Location:    Room 9",
    ]
    assert [line for line in text if line.startswith("Patient:")] == ["Patient:     Alex"]
    assert not [line for line in text if "evil.example" in line and not line.startswith("> ")]


def test_every_send_names_the_configuration_set_and_tags_the_visit_and_change_without_patient_data(
    api, clinic, changed, deliver, ses_requests
):
    visit_id = clinic.add_visit("Alex")
    record = changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason="Sick"))

    deliver(record)

    [request] = ses_requests(clinic.admin_email)
    assert request["ConfigurationSetName"] == config.current().configuration_set
    tags = {tag["Name"]: tag["Value"] for tag in request["EmailTags"]}
    assert tags == {
        "kind": "cancel",
        "clinic_id": clinic.clinic_id,
        "patient_id": clinic.patients["Alex"],
        "visit_id": visit_id,
        "change_id": record["dynamodb"]["NewImage"]["change_id"]["S"],
    }


# --- Everything else emails no one, and costs no AWS call ------------------------------


def _confirm(api, world, visit_id, changed):
    return changed(world, visit_id, lambda: confirm(api, world, visit_id))


def _remove_confirmation(api, world, visit_id, changed):
    confirm(api, world, visit_id)
    return changed(world, visit_id, lambda: change_answer(api, world, visit_id))


def _staff_move_a_pending_cancel(api, world, visit_id, changed):
    cancel(api, world, visit_id)
    later = (datetime.now(ZoneInfo("America/New_York")) + 20 * DAY).date().isoformat()
    return changed(world, visit_id, lambda: staff_patch(api, world, visit_id, date=later))


def _staff_move_a_pending_cancel_to_a_cancelled_class(api, world, visit_id, changed):
    cancel(api, world, visit_id)
    return changed(world, visit_id, lambda: staff_patch(api, world, visit_id, session_class="Cancelled by client"))


def _console_sets_cancelled_without_a_patient(api, world, visit_id, changed):
    return changed(
        world, visit_id, lambda: console_edit(world, visit_id, Visit.patient_response.set("CLIENT_CANCELLED"))
    )


def _console_removes_a_patients_cancel(api, world, visit_id, changed):
    cancel(api, world, visit_id)  # leaves changed_by "patient" and a change id on the item
    return changed(world, visit_id, lambda: console_edit(world, visit_id, Visit.patient_response.remove()))


def _console_edits_another_field_of_a_pending_cancel(api, world, visit_id, changed):
    cancel(api, world, visit_id)
    return changed(world, visit_id, lambda: console_edit(world, visit_id, Visit.location.set("Room 5")))


def _insert_of_a_cancelled_visit(api, world, visit_id, changed):
    cancel(api, world, visit_id)
    return stream_record(new=_item(world, visit_id))


def _remove_of_a_cancelled_visit(api, world, visit_id, changed):
    cancel(api, world, visit_id)
    return stream_record(old=_item(world, visit_id))


def _item(world, visit_id):
    return Visit.get(world.patients["Alex"], visit_id, consistent_read=True).serialize()


@pytest.mark.parametrize(
    "make_record",
    [
        _confirm,
        _remove_confirmation,
        _staff_move_a_pending_cancel,
        _staff_move_a_pending_cancel_to_a_cancelled_class,
        _console_sets_cancelled_without_a_patient,
        _console_removes_a_patients_cancel,
        _console_edits_another_field_of_a_pending_cancel,
        _insert_of_a_cancelled_visit,
        _remove_of_a_cancelled_visit,
    ],
    ids=lambda f: f.__name__.strip("_").replace("_", " "),
)
def test_a_change_that_is_no_patient_cancel_or_uncancel_emails_no_one_and_costs_the_email_no_aws_call(
    make_record, api, clinic, changed, deliver, inbox, aws_calls
):
    record = make_record(api, clinic, clinic.add_visit("Alex"), changed)
    aws_calls.clear()

    assert notifications.email_clinic(record) is None
    assert aws_calls == []  # the decision reads the record's images only
    assert deliver(record) == NO_FAILURES
    assert inbox(clinic.admin_email) == []


@pytest.mark.parametrize(
    "old, new",
    [
        (
            {"patient_response": {"S": "CLIENT_CANCELLED"}},
            {
                "patient_response": {"N": "1"},
                "changed_by": {"S": "patient"},
                "change_id": {"S": "chg_console"},
            },
        ),
        (
            {},
            {
                "patient_response": {"S": "CLIENT_CANCELLED"},
                "changed_by": {"L": [{"S": "patient"}]},
                "change_id": {"S": "chg_console"},
            },
        ),
        (
            {},
            {
                "patient_response": {"S": "CLIENT_CANCELLED"},
                "changed_by": {"S": "patient"},
                "change_id": {"N": "7"},
            },
        ),
        ({}, {}),
    ],
    ids=["response typed as a number", "actor typed as a list", "change id typed as a number", "empty images"],
)
def test_console_edit_with_odd_values_emails_no_one_and_does_not_fail(old, new, deliver, aws_calls):
    keys = {"patient_id": {"S": "pat_console"}, "visit_id": {"S": "vis_console"}}
    record = stream_record({**keys, **old}, {**keys, **new}, event_name="MODIFY")

    assert notifications.email_clinic(record) is None
    assert aws_calls == []
    assert deliver(record) == NO_FAILURES


# --- Exactly once, and never lost silently ---------------------------------------------


def test_same_batch_delivered_three_times_sends_one_email_per_action(api, clinic, changed, deliver, inbox):
    visit_id = clinic.add_visit("Alex")
    batch = [
        changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id)),
        changed(clinic, visit_id, lambda: change_answer(api, clinic, visit_id)),
    ]

    results = [deliver(*batch) for _ in range(3)]

    assert results == [NO_FAILURES] * 3
    assert [email.subject.split(":")[0] for email in inbox(clinic.admin_email)] == [
        "Cancellation request",
        "Un-cancellation request",
    ]


def test_ses_failing_on_the_second_of_three_reports_only_that_record_and_its_retry_sends_only_that_mail(
    api, make_clinic, changed, deliver, inbox, ses_refuses
):
    worlds = [make_clinic() for _ in range(3)]
    batch = []
    for world in worlds:
        visit_id = world.add_visit("Alex")
        batch.append(changed(world, visit_id, lambda world=world, visit_id=visit_id: cancel(api, world, visit_id)))
    ses_refuses[worlds[1].admin_email] = math.inf

    first = deliver(*batch)

    assert first == {"batchItemFailures": sequence_numbers(batch[1])}
    assert [len(inbox(world.admin_email)) for world in worlds] == [1, 0, 1]

    ses_refuses.clear()
    retry = deliver(*batch[1:])  # as Lambda retries a stream: from the first failed record on

    assert retry == NO_FAILURES
    assert [len(inbox(world.admin_email)) for world in worlds] == [1, 1, 1]


def test_clinic_without_admin_email_keeps_the_email_logs_and_counts_it_and_does_not_retry(
    api, make_clinic, changed, deliver, inbox, caplog, capsys
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id))

    result = deliver(record)

    assert result == NO_FAILURES
    [logged] = [entry for entry in caplog.records if entry.levelno == logging.ERROR]
    assert (logged.visit_id, logged.clinic_id) == (visit_id, world.clinic_id)
    assert logged.change_id.startswith("chg_")
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ClinicEmailsUndeliverable"] for m in metrics] == [[1.0]]
    assert metrics[0]["change_id"] == logged.change_id and metrics[0]["visit_id"] == visit_id
    assert api.get("/clinic/settings", world.staff_token).data["undelivered_emails"] == 1
