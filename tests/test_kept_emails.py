"""No clinic email is lost: one that cannot be sent as things stand is kept, counted for staff, and
sent exactly once as soon as a valid address is saved (or by the operations command), even days later."""

import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aws_calls
import boto3
import pytest

from chalicelib import notifications, outbox
from chalicelib.models import Clinic, KeptEmail
from ops import admin as admin_module
from tests.test_emails import cancel, change_answer, staff_patch

ROOT = Path(__file__).resolve().parent.parent
NO_FAILURES = {"batchItemFailures": []}
# What EventBridge sends a scheduled function.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-01T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/kept-emails-report"],
    "detail": {},
}


def settings(api, world):
    return api.get("/clinic/settings", world.staff_token).data


def fix_address(api, world, address):
    response = api.patch("/clinic/settings", world.staff_token, json_body={"admin_email": address})
    assert response.status_code == 200, response.data
    return response.data


@pytest.fixture
def clock(monkeypatch):
    """Moves the emails' clock: `clock.set(moment)` (the stream, the outbox and the report read it)."""

    class Clock:
        def set(self, moment):
            monkeypatch.setattr(notifications, "utc_now", lambda: moment)

    return Clock()


def test_an_email_for_a_clinic_without_address_arrives_once_when_staff_save_one(
    api, make_clinic, changed, deliver, clinic_saved, inbox
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id, reason="Sick"))
    assert deliver(record) == NO_FAILURES
    assert settings(api, world)["undelivered_emails"] == 1

    fix_address(api, world, f"Front Desk <desk.{world.clinic_id}@tests.example>")
    assert clinic_saved(world) == NO_FAILURES
    assert clinic_saved(world) == NO_FAILURES  # the stream record again
    assert deliver(record) == NO_FAILURES  # and the visit's record again

    [email] = inbox(f"desk.{world.clinic_id}@tests.example")
    assert email.subject.startswith("Cancellation request: ")
    assert "> Sick" in email.text
    assert settings(api, world)["undelivered_emails"] == 0


def test_an_address_typed_in_the_console_sends_the_kept_emails_too(
    api, make_clinic, changed, deliver, clinic_saved, inbox
):
    world = make_clinic(admin_email="front desk at clinic")
    visit_id = world.add_visit("Alex")
    deliver(changed(world, visit_id, lambda: cancel(api, world, visit_id)))
    deliver(changed(world, visit_id, lambda: change_answer(api, world, visit_id)))

    world.settings(admin_email=f"desk.{world.clinic_id}@tests.example")  # as in the console: no version change
    clinic_saved(world)

    emails = inbox(f"desk.{world.clinic_id}@tests.example")
    assert [email.subject.split(":")[0] for email in emails] == ["Cancellation request", "Un-cancellation request"]


def test_an_email_ses_refuses_for_good_is_kept_not_retried_and_goes_when_the_address_is_saved_again(
    api, clinic, changed, deliver, clinic_saved, inbox, ses_rejects
):
    ses_rejects.add(clinic.admin_email)
    visit_id = clinic.add_visit("Alex")

    assert deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id))) == NO_FAILURES
    assert inbox(clinic.admin_email) == []
    assert settings(api, clinic)["undelivered_emails"] == 1

    ses_rejects.clear()  # e.g. the address was verified in SES, or its mailbox fixed
    fix_address(api, clinic, clinic.admin_email)
    clinic_saved(clinic)

    assert len(inbox(clinic.admin_email)) == 1
    assert settings(api, clinic)["undelivered_emails"] == 0


def test_an_address_saved_while_ses_still_refuses_it_keeps_the_email_for_the_next_try(
    api, clinic, changed, deliver, clinic_saved, inbox, ses_rejects
):
    ses_rejects.add(clinic.admin_email)
    visit_id = clinic.add_visit("Alex")
    deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id)))

    fix_address(api, clinic, clinic.admin_email)  # saved again, but SES has not been fixed yet
    assert clinic_saved(clinic) == NO_FAILURES
    assert settings(api, clinic)["undelivered_emails"] == 1

    ses_rejects.clear()
    fix_address(api, clinic, clinic.admin_email)
    clinic_saved(clinic)
    assert len(inbox(clinic.admin_email)) == 1
    assert settings(api, clinic)["undelivered_emails"] == 0


def test_an_email_kept_longer_than_the_streams_24_hours_still_goes_out_once(
    api, make_clinic, changed, deliver, clinic_saved, inbox, clock
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex", starts_in=timedelta(days=20))
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id))
    clock.set(datetime.now(UTC) - timedelta(days=10))
    deliver(record)
    clock.set(datetime.now(UTC))
    [kept] = outbox.kept(world.clinic_id)
    assert datetime.now(UTC) - datetime.fromisoformat(kept.kept_at) > timedelta(days=9)

    fix_address(api, world, f"desk.{world.clinic_id}@tests.example")
    clinic_saved(world)
    clinic_saved(world)

    assert len(inbox(f"desk.{world.clinic_id}@tests.example")) == 1


def test_a_kept_email_describes_what_the_patient_did_even_after_the_visit_changed(
    api, make_clinic, changed, deliver, clinic_saved, inbox
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex", provider="Dr. Maya Patel", location="Room 2")
    deliver(changed(world, visit_id, lambda: cancel(api, world, visit_id, reason="Flu")))
    before = world.stored_visit("Alex", visit_id).starts_at
    later = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=30)).date().isoformat()
    staff_patch(api, world, visit_id, date=later, provider="Jordan Lee, LMFT", location="Telehealth (video)")

    fix_address(api, world, f"desk.{world.clinic_id}@tests.example")
    clinic_saved(world)

    [email] = inbox(f"desk.{world.clinic_id}@tests.example")
    starts = datetime.fromisoformat(before).astimezone(ZoneInfo("America/New_York"))
    assert f"{starts:%A, %B} {starts.day}, {starts.year}" in email.text
    assert "Dr. Maya Patel" in email.text and "Room 2" in email.text and "> Flu" in email.text
    assert "Jordan Lee" not in email.text and "Telehealth" not in email.text


def test_an_address_that_is_still_not_valid_sends_nothing_and_keeps_the_count(
    api, make_clinic, changed, deliver, clinic_saved, inbox
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    deliver(changed(world, visit_id, lambda: cancel(api, world, visit_id)))

    world.settings(admin_email="frontdesk at clinic dot example")
    assert clinic_saved(world) == NO_FAILURES

    assert settings(api, world)["undelivered_emails"] == 1


def test_the_operations_command_sends_a_clinics_kept_emails_once(api, aws, make_clinic, changed, deliver, inbox):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    deliver(changed(world, visit_id, lambda: cancel(api, world, visit_id)))
    world.settings(admin_email=f"desk.{world.clinic_id}@tests.example")  # no stream in this test: by hand

    first = send_kept_emails(aws, "--clinic-id", world.clinic_id)
    again = send_kept_emails(aws, "--clinic-id", world.clinic_id)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"Clinic {world.clinic_id}: 1 kept email sent, 0 still kept."
    assert again.stdout.splitlines()[-1] == f"Clinic {world.clinic_id}: no kept email."
    assert len(inbox(f"desk.{world.clinic_id}@tests.example")) == 1


def send_kept_emails(aws, *args):
    """`python -m ops.admin send-kept-emails` as an operator runs it, against the emulator."""
    settings = aws.settings
    where = [
        "--clinics-table",
        settings.table("clinics"),
        "--outbox-table",
        settings.table("outbox"),
        "--idempotency-table",
        settings.table("idempotency"),
        "--sender-email",
        settings.sender_email,
        "--configuration-set",
        settings.configuration_set,
    ]
    return subprocess.run(
        [sys.executable, "-m", "ops.admin", "send-kept-emails", *where, *args],
        cwd=ROOT,
        env=dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_email_kept_more_than_30_days_is_reported_every_day_and_still_kept(
    api, make_clinic, changed, deliver, client, clock, caplog, capsys
):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id))
    clock.set(datetime.now(UTC) - timedelta(days=31))
    deliver(record)
    clock.set(datetime.now(UTC))
    capsys.readouterr()

    client.lambda_.invoke("kept_emails_report", SCHEDULED_EVENT)

    change_id = record["dynamodb"]["NewImage"]["change_id"]["S"]
    reported = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and "30 days" in r.getMessage() and getattr(r, "change_id", "") == change_id
    ]
    assert [(r.clinic_id, r.visit_id) for r in reported] == [(world.clinic_id, visit_id)]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ClinicEmailsKeptTooLong"][0] for m in metrics if "ClinicEmailsKeptTooLong" in m][0] >= 1
    assert KeptEmail.count(world.clinic_id) == 1


def test_a_kept_email_is_an_item_a_person_can_read_in_the_console(api, make_clinic, changed, deliver):
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id, reason="Sick"))

    deliver(record)

    [item] = KeptEmail.query(world.clinic_id)
    assert (item.kind, item.visit_id, item.patient_id) == ("cancel", visit_id, world.patients["Alex"])
    assert item.change_id == record["dynamodb"]["NewImage"]["change_id"]["S"]
    assert item.problem == "the clinic has no admin_email"
    assert item.expires_at - datetime.now(UTC) > timedelta(days=60)
    assert Clinic.get(world.clinic_id).admin_email == ""


def test_an_address_saved_while_the_email_is_being_kept_still_gets_it_once(
    api, make_clinic, changed, deliver, clinic_saved, inbox, dynamodb
):
    """The clinics stream may look for kept emails just before this one is stored: the visits stream
    function looks again once it is stored. A fixed interleaving: the address is saved, and the
    clinics stream handled, right before the outbox write."""
    world = make_clinic(admin_email="")
    visit_id = world.add_visit("Alex")
    record = changed(world, visit_id, lambda: cancel(api, world, visit_id))
    address = f"desk.{world.clinic_id}@tests.example"

    def address_saved_meanwhile(**_):
        with aws_calls.not_counted():  # staff's write, not the email function's
            dynamodb.update_item(
                TableName=Clinic.Meta.table_name,
                Key={"clinic_id": {"S": world.clinic_id}},
                UpdateExpression="SET admin_email = :a",
                ExpressionAttributeValues={":a": {"S": address}},
            )
        assert clinic_saved(world) == NO_FAILURES  # finds nothing kept yet
        assert inbox(address) == []

    outbox_client = KeptEmail._get_connection().connection.client
    outbox_client.meta.events.register_first("before-call.dynamodb.PutItem", address_saved_meanwhile, "race")
    try:
        assert deliver(record) == NO_FAILURES
    finally:
        outbox_client.meta.events.unregister("before-call.dynamodb.PutItem", unique_id="race")

    assert len(inbox(address)) == 1
    assert settings(api, world)["undelivered_emails"] == 0


def test_replay_sends_a_clinics_stream_note_to_the_kept_emails_function(aws, make_clinic, monkeypatch):
    """A batch of the clinics stream that was given up on goes back to `clinic_changes`, not to the
    visits-stream function: each note names its stream."""
    world = make_clinic()
    world.settings(phone="(555) 010-7777")  # one record on the clinics stream
    streams = boto3.client("dynamodbstreams", endpoint_url=aws.endpoint)
    shard_id = streams.describe_stream(StreamArn=aws.clinics_stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=aws.clinics_stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    sequences = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        sequences += [
            r["dynamodb"]["SequenceNumber"]
            for r in page["Records"]
            if r["dynamodb"]["Keys"]["clinic_id"]["S"] == world.clinic_id
        ]
        iterator = page.get("NextShardIterator") if page["Records"] else None
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint)
    queue_url = sqs.create_queue(QueueName=f"stream-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    note = {
        "shardId": shard_id,
        "startSequenceNumber": sequences[-1],
        "endSequenceNumber": sequences[-1],
        "streamArn": aws.clinics_stream_arn,
        "approximateArrivalOfFirstRecord": "2026-01-01T10:00:00Z",
        "approximateArrivalOfLastRecord": "2026-01-01T10:00:00Z",
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"DDBStreamBatchInfo": note}))
    invoked = []
    monkeypatch.setattr(
        admin_module, "_lambda_invoker", lambda name: lambda event: invoked.append((name, event)) or NO_FAILURES
    )
    args = admin_module.parser().parse_args(
        [
            "replay-failures",
            "--queue-url",
            queue_url,
            "--function-name",
            "visits-fn",
            "--clinic-function-name",
            "kept-fn",
        ]
    )

    report = admin_module.replay_failures(args, admin_module.target(args), sqs=sqs, streams=streams)

    [(name, event)] = invoked
    assert name == "kept-fn"
    assert event["Records"][0]["dynamodb"]["NewImage"]["clinic_id"] == {"S": world.clinic_id}
    assert report[0].startswith("Replayed")
