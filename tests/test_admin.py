"""Day one on a fresh stack: `python -m ops.admin` creates the clinic and its first staff login."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
from botocore.stub import Stubber
from chalice.app import DynamoDBEvent

from chalicelib import aws as aws_clients
from chalicelib import config
from chalicelib.models import Clinic, Visit
from local import records
from ops import admin as admin_module

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "Staff-Own-Pass-2026!"


def admin(aws, *args):
    """Runs the command as an operator would, in a process of its own, against the emulator."""
    env = dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint)
    where = ["--clinics-table", aws.settings.table("clinics"), "--staff-user-pool-id", aws.settings.staff_user_pool_id]
    return subprocess.run(
        [sys.executable, "-m", "ops.admin", args[0], *where, *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def bootstrap_args(clinic_id, staff_email, timezone="America/Chicago"):
    return [
        "bootstrap",
        "--clinic-id",
        clinic_id,
        "--name",
        "Riverside Family Therapy",
        "--timezone",
        timezone,
        "--admin-email",
        f"frontdesk.{clinic_id}@tests.example",
        "--phone",
        "(555) 010-2040",
        "--staff-email",
        staff_email,
    ]


def new_ids():
    clinic_id = f"cln_{uuid.uuid4().hex[:12]}"
    return clinic_id, f"manager.{clinic_id}@tests.example"


def first_login(api, email, temporary="Temp-Password-2026!"):
    """The invited staff member sets their own password, then their authenticator app, as the
    invitation asks (Cognito emailed a temporary password; the test sets a known one)."""
    if temporary == "Temp-Password-2026!":
        aws_clients.cognito().admin_set_user_password(
            UserPoolId=config.current().staff_user_pool_id, Username=email, Password=temporary, Permanent=False
        )
    challenge = api.post("/auth/login", json_body={"username": email, "password": temporary}).data
    assert challenge["challenge"] == "NEW_PASSWORD_REQUIRED", challenge
    setup = api.post(
        "/auth/new-password",
        json_body={"username": email, "session": challenge["session"], "new_password": NEW_PASSWORD},
    ).data
    assert setup["challenge"] == "MFA_SETUP", setup
    code = records.totp_code(setup["secret_code"])
    done = api.post("/auth/mfa-setup", json_body={"username": email, "session": setup["session"], "code": code})
    assert done.status_code == 200, done.data
    return done.data["id_token"]


def test_bootstrap_creates_a_clinic_whose_staff_can_log_in_and_run_it(aws, api):
    clinic_id, staff_email = new_ids()

    result = admin(aws, *bootstrap_args(clinic_id, staff_email))

    assert result.returncode == 0, result.stderr
    assert "invited" in result.stdout
    settings = api.get("/clinic/settings", first_login(api, staff_email))
    assert settings.status_code == 200
    assert settings.data["name"] == "Riverside Family Therapy"
    assert settings.data["timezone"] == "America/Chicago"
    assert [(c["name"], c["cancelled"]) for c in settings.data["session_classes"]] == [
        ("Individual therapy", False),
        ("Family therapy", False),
        ("Cancelled by client", True),
        ("Cancelled by clinic", True),
    ]


def test_bootstrap_again_changes_nothing_and_succeeds(aws):
    clinic_id, staff_email = new_ids()
    admin(aws, *bootstrap_args(clinic_id, staff_email))

    again = admin(aws, *bootstrap_args(clinic_id, staff_email, timezone="Europe/Berlin"))

    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stdout
    assert Clinic.get(clinic_id, consistent_read=True).timezone == "America/Chicago"


def test_bootstrap_refuses_bad_settings_before_writing_anything(aws):
    clinic_id, staff_email = new_ids()
    result = admin(aws, *bootstrap_args(clinic_id, staff_email, timezone="Mars/Olympus"))

    assert result.returncode == 1
    assert "time zone" in result.stderr.lower() or "timezone" in result.stderr.lower()
    assert Clinic.count(clinic_id) == 0


def test_add_staff_gives_an_existing_clinic_another_login(aws, api):
    clinic_id, staff_email = new_ids()
    admin(aws, *bootstrap_args(clinic_id, staff_email))

    second = f"front.{clinic_id}@tests.example"
    result = admin(aws, "add-staff", "--clinic-id", clinic_id, "--email", second)

    assert result.returncode == 0, result.stderr
    assert api.get("/clinic/settings", first_login(api, second)).status_code == 200


def test_add_staff_to_an_unknown_clinic_is_refused(aws):
    result = admin(aws, "add-staff", "--clinic-id", "cln_nobody", "--email", "someone@tests.example")
    assert result.returncode == 1
    assert "no clinic" in result.stderr


def test_the_table_and_pool_come_from_the_stages_stack_outputs(aws):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    outputs = [
        {"OutputKey": "ClinicsTableName", "OutputValue": "client-portal-prod-clinics"},
        {"OutputKey": "StaffUserPoolId", "OutputValue": "us-east-1_Pool"},
        {"OutputKey": "EndpointURL", "OutputValue": "https://abc.execute-api.us-east-1.amazonaws.com/api/"},
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "client-portal-prod",
                        "Outputs": outputs,
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                    }
                ]
            },
            {"StackName": "client-portal-prod"},
        )
        args = admin_module.parser().parse_args(
            ["add-staff", "--stage", "prod", "--clinic-id", "x", "--email", "a@b.example"]
        )
        where = admin_module.target(args, cloudformation)
    assert (where["ClinicsTableName"], where["StaffUserPoolId"]) == ("client-portal-prod-clinics", "us-east-1_Pool")


def test_the_operations_command_is_not_in_the_lambda_bundle_and_imports_no_test_tooling():
    assert not (ROOT / "chalicelib" / "admin.py").exists()
    probe = (
        "import sys, ops.admin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'moto', 'pytest', 'local', 'tests'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, AWS_DEFAULT_REGION="us-east-1"),
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def failure_note(aws, clinic, api):
    """A patient's cancel, and the note Lambda leaves in the on-failure queue when its email gave up."""
    visit_id = clinic.add_visit("Alex")
    assert (
        api.put(
            f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "cancelled"}
        ).status_code
        == 200
    )
    stream_arn = boto3.client("dynamodb", endpoint_url=aws.endpoint).describe_table(TableName=Visit.Meta.table_name)[
        "Table"
    ]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=aws.endpoint)
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    found = []
    while iterator and not found:
        page = streams.get_records(ShardIterator=iterator)
        found = [
            r["dynamodb"]["SequenceNumber"]
            for r in page["Records"]
            if r["eventName"] == "MODIFY" and r["dynamodb"]["Keys"]["visit_id"]["S"] == visit_id
        ]
        iterator = page.get("NextShardIterator") if page["Records"] else None
    (sequence,) = found
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint)
    queue_url = sqs.create_queue(QueueName=f"email-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(
            {
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": sequence,
                    "endSequenceNumber": sequence,
                    "batchSize": 1,
                    "streamArn": stream_arn,
                    "approximateArrivalOfFirstRecord": "2026-01-01T10:00:00Z",
                    "approximateArrivalOfLastRecord": "2026-01-01T10:00:00Z",
                }
            }
        ),
    )
    return visit_id, queue_url, sqs


def replay(aws, queue_url, answer):
    """The command as run against the emulator, with the email function played by `answer`."""
    delivered = []
    args = admin_module.parser().parse_args(["replay-failures", "--queue-url", queue_url, "--function-name", "emails"])
    report = admin_module.replay_failures(
        args,
        admin_module.target(args),
        sqs=boto3.client("sqs", endpoint_url=aws.endpoint),
        streams=boto3.client("dynamodbstreams", endpoint_url=aws.endpoint),
        invoke=lambda event: delivered.append(event) or answer,
    )
    return delivered, report


def test_replay_sends_the_records_behind_a_failure_note_to_the_email_function_then_deletes_it(aws, api, clinic):
    visit_id, queue_url, sqs = failure_note(aws, clinic, api)

    delivered, report = replay(aws, queue_url, {"batchItemFailures": []})

    (event,) = delivered
    (record,) = list(DynamoDBEvent(event, None))  # as the handler will read it
    assert record.keys["visit_id"] == {"S": visit_id}
    assert record.new_image["patient_response"] == {"S": "CLIENT_CANCELLED"}
    assert record.event_source_arn.endswith("/stream/" + record.event_source_arn.rsplit("/", 1)[-1])
    assert isinstance(event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"], float)
    assert report[0].startswith("Replayed")
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages") is None


def test_a_note_whose_records_fail_again_stays_in_the_queue(aws, api, clinic):
    _, queue_url, sqs = failure_note(aws, clinic, api)

    _, report = replay(aws, queue_url, {"batchItemFailures": [{"itemIdentifier": "1"}]})

    assert report[0].startswith("Kept")
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")


def test_add_staff_with_a_patients_email_never_gives_the_patient_login_staff_access(aws, api, clinic):
    patient_email = clinic.email_of("Alex")

    result = admin(aws, "add-staff", "--clinic-id", clinic.clinic_id, "--email", patient_email)

    assert result.returncode == 0, result.stderr
    patient_token = api.login(patient_email)  # the patient's own password, the patients' pool
    assert api.get("/clinic/settings", patient_token).status_code == 403
    assert api.get("/portal/me", patient_token).status_code == 200


def test_add_staff_refuses_an_email_that_is_staff_of_another_clinic(aws, clinic, make_clinic):
    other = make_clinic(patients=())
    result = admin(aws, "add-staff", "--clinic-id", clinic.clinic_id, "--email", other.staff_email)
    assert result.returncode == 1
    assert "another clinic" in result.stderr


def test_reset_staff_mfa_ends_their_sessions_and_their_next_login_sets_up_the_authenticator_again(aws, api, clinic):
    before = clinic.staff_tokens()

    result = admin(aws, "reset-staff-mfa", "--email", clinic.staff_email)

    assert result.returncode == 0, result.stderr
    (temporary,) = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("Temporary")]
    assert api.post("/auth/refresh", json_body={"refresh_token": before["refresh_token"]}).status_code == 401
    old_password = api.post(
        "/auth/login", json_body={"username": clinic.staff_email, "password": "Test-Password-2026!"}
    )
    assert old_password.status_code == 401
    assert api.get("/clinic/settings", first_login(api, clinic.staff_email, temporary)).status_code == 200


def test_reset_staff_mfa_of_someone_who_is_not_staff_changes_nothing(aws, clinic):
    result = admin(aws, "reset-staff-mfa", "--email", clinic.email_of("Alex"))
    assert result.returncode == 1
    assert "not a staff login" in result.stderr
