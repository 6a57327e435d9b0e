"""Day-one operations on a deployed stage, run by the clinic's IT person with their own AWS credentials.

Nobody can log in to a fresh stack, so `bootstrap` creates the clinic (its settings and default
session classes) and its first staff login, in the staff user pool; Cognito emails that person
a temporary password, and their first login sets up their authenticator app. `add-staff` adds
another staff login to an existing clinic. Both are safe to run again: what already exists is
reported and left as it is. `reset-staff-mfa` is for a staff member who lost their
authenticator. `rotate-signing-key` adds a new key for list cursors and links and makes it
current. `replay-failures` sends the stream records behind the notes in the stream functions'
on-failure queue to the function that gave up on them. `send-kept-emails` sends the clinic
emails kept for want of a valid address (or refused by SES) once the cause is fixed.
`migrate-memberships` turns the clinic and patient id that logins made before memberships were data
carry in their attributes into membership items (safe to run again). `remove-patient` ends one
patient's membership of one clinic (their login and other clinics stay) and stops their calendar feed
and reminder emails.

It lives outside `chalicelib/`, so it is never shipped to Lambda; it reaches the tables and
Cognito through the service's own code, bound to the stage (`runtime.bind`).

    python -m ops.admin bootstrap --stage prod --clinic-id riverside \\
        --name "Riverside Family Therapy" --timezone America/Chicago \\
        --admin-email frontdesk@riverside.example --phone "(555) 010-2040" \\
        --staff-email manager@riverside.example
    python -m ops.admin add-staff --stage prod --clinic-id riverside --email front@riverside.example
    python -m ops.admin reset-staff-mfa --stage prod --email front@riverside.example
    python -m ops.admin rotate-signing-key --stage prod
    python -m ops.admin replay-failures --stage prod
    python -m ops.admin send-kept-emails --stage prod --clinic-id riverside    # or every clinic: no --clinic-id
    python -m ops.admin migrate-memberships --stage prod
    python -m ops.admin remove-patient --stage prod --clinic-id riverside --patient-id pat_0123456789abcdef

The table, staff user pool and secret come from the outputs of the stage's CloudFormation
stack (named `client-portal-<stage>` unless --stack-name says otherwise), or from
--clinics-table, --staff-user-pool-id and --signing-keys-secret. AWS_ENDPOINT_URL points
everything at an emulator (the tests do).
"""

import argparse
import json
import os
import re
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
from botocore.exceptions import ClientError

from chalicelib import accounts, aws, calendar_feeds, inputs, memberships, notifications, runtime, scheduling, signing
from chalicelib.auth import Identity, Membership, Role
from chalicelib.config import Settings
from chalicelib.errors import BadInput, Conflict
from chalicelib.logs import logger
from chalicelib.models import Clinic, Patient
from ops.stream_records import as_lambda_delivers

STACK_NAME = "client-portal-{stage}"
_CLINIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NEEDS = {
    "bootstrap": ("ClinicsTableName", "StaffUserPoolId"),
    "add-staff": ("ClinicsTableName", "StaffUserPoolId"),
    "reset-staff-mfa": ("StaffUserPoolId",),
    "rotate-signing-key": ("SigningKeysSecretArn",),
    "replay-failures": ("StreamFailuresQueueUrl", "StreamFunctionName"),
    "send-kept-emails": ("ClinicsTableName", "OutboxTableName", "IdempotencyTableName", "SenderEmail"),
    "migrate-memberships": ("UserPoolId", "PatientsTableName", "MembershipsTableName"),
    "remove-patient": ("UserPoolId", "ClinicsTableName", "PatientsTableName", "MembershipsTableName"),
}
_FLAGS = {
    "ClinicsTableName": "clinics_table",
    "StaffUserPoolId": "staff_user_pool_id",
    "SigningKeysSecretArn": "signing_keys_secret",
    "StreamFailuresQueueUrl": "queue_url",
    "StreamFunctionName": "function_name",
    "ClinicChangesFunctionName": "clinic_function_name",
    "OutboxTableName": "outbox_table",
    "IdempotencyTableName": "idempotency_table",
    "SenderEmail": "sender_email",
    "ConfigurationSetName": "configuration_set",
    "UserPoolId": "user_pool_id",
    "PatientsTableName": "patients_table",
    "MembershipsTableName": "memberships_table",
}
# The stream no longer has the records (it keeps them 24 hours), or the shard is gone.
_RECORDS_GONE = {"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"}


class AdminError(Exception):
    """Stops the command with a message for the operator."""


def operator_client(service: str):
    """The operator's own credentials and region (AWS_ENDPOINT_URL points it at an emulator)."""
    return boto3.client(service)


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise AdminError(
            f"Cannot read the stack {stack_name!r}: {error.response['Error'].get('Message', error)}. "
            "Pass --stack-name, or the resources themselves (--clinics-table, --staff-user-pool-id ...)."
        ) from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def target(args, cloudformation=None) -> dict[str, str]:
    """What the command works on: the stack's outputs, overridden by the flags given."""
    given = {key: getattr(args, flag, None) for key, flag in _FLAGS.items() if getattr(args, flag, None)}
    needed = _NEEDS[args.command]
    if all(key in given for key in needed):
        return given
    stack_name = args.stack_name or STACK_NAME.format(stage=args.stage)
    outputs = stack_outputs(cloudformation or operator_client("cloudformation"), stack_name)
    missing = [key for key in needed if key not in outputs and key not in given]
    if missing:
        raise AdminError(f"The stack {stack_name!r} has no output {missing[0]}; is it the portal's stack?")
    return dict(outputs, **given)


def bind_to_stage(where: dict[str, str]) -> Settings:
    """Points the service's own code (models, Cognito calls) at the stage's table and staff pool."""
    stage = {"CLINICS_TABLE": where.get("ClinicsTableName", ""), "STAFF_USER_POOL_ID": where["StaffUserPoolId"]}
    return runtime.bind(Settings.from_environment({**os.environ, **stage}))


def send_kept_emails(args, where: dict[str, str]) -> list[str]:
    """Sends the kept emails of one clinic (or of every clinic) whose address is valid now, through
    the service's own code: the same idempotency key as the first try, so none goes out twice."""
    stage = {
        "CLINICS_TABLE": where["ClinicsTableName"],
        "OUTBOX_TABLE": where["OutboxTableName"],
        "IDEMPOTENCY_TABLE": where["IdempotencyTableName"],
        "SENDER_EMAIL": where["SenderEmail"],
        "SES_CONFIGURATION_SET": where.get("ConfigurationSetName", ""),
    }
    runtime.bind(Settings.from_environment({**os.environ, **stage}))
    sent, waiting = notifications.send_kept_emails(args.clinic_id)
    who = f"Clinic {args.clinic_id}" if args.clinic_id else "Every clinic"
    if not sent and not waiting:
        return [f"{who}: no kept email."]
    lines = [f"{who}: {sent} kept email{'s' if sent != 1 else ''} sent, {waiting} still kept."]
    if waiting:
        lines.append(
            "The ones still kept have no valid admin_email, or SES refuses them: see the kept items' "
            "`problem` in the outbox table, fix the cause, and run this again."
        )
    return lines


def bind_to_patients(where: dict[str, str]) -> Settings:
    """The patients' pool and the tables a person's memberships touch."""
    stage = {
        "USER_POOL_ID": where["UserPoolId"],
        "CLINICS_TABLE": where.get("ClinicsTableName", ""),
        "PATIENTS_TABLE": where["PatientsTableName"],
        "MEMBERSHIPS_TABLE": where["MembershipsTableName"],
    }
    return runtime.bind(Settings.from_environment({**os.environ, **stage}))


def migrate_memberships(args, where: dict[str, str]) -> list[str]:
    """Every login of the patients' pool whose attributes name a clinic and patient gets that
    membership as an item (unless it has one for that clinic, also a removed one), and the patient
    item its login's id. Nothing else changes; running it again changes nothing."""
    settings = bind_to_patients(where)
    now = datetime.now(UTC)
    logins = made = had = 0
    pages = aws.cognito().get_paginator("list_users").paginate(UserPoolId=settings.user_pool_id)
    for user in (user for page in pages for user in page.get("Users", [])):
        logins += 1
        attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
        clinic_id, patient_id = attributes.get("custom:clinic_id"), attributes.get("custom:patient_id")
        if not (clinic_id and patient_id and attributes.get("sub")):
            continue
        if memberships.keep(attributes["sub"], Membership(clinic_id, patient_id), now):
            made += 1
        else:
            had += 1
        _name_the_login(patient_id, clinic_id, attributes["sub"])
    return [
        f"{logins} patient login{'s' if logins != 1 else ''} read: {made} membership{'s' if made != 1 else ''} "
        f"made from their attributes, {had} there already.",
        "Every login now works from its memberships; tokens issued before keep working as they did.",
    ]


def _name_the_login(patient_id: str, clinic_id: str, user_id: str) -> None:
    """Records the login on its patient item, if that item is the clinic's and names none yet."""
    try:
        Patient(patient_id).update(
            actions=[Patient.user_id.set(user_id)],
            condition=Patient.patient_id.exists() & (Patient.clinic_id == clinic_id) & Patient.user_id.does_not_exist(),
        )
    except Exception as error:  # noqa: BLE001 (a failed condition: there is nothing to record)
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def remove_patient(args, where: dict[str, str]) -> list[str]:
    """Ends the patient's membership of the clinic: within 5 minutes (API Gateway's cache of the
    authorizer's answer) their login no longer reaches this clinic, and its calendar feed stops now.
    Their login, their other clinics and the clinic's records of their visits stay."""
    bind_to_patients(where)
    try:
        patient = Patient.get(args.patient_id, consistent_read=True)
    except Patient.DoesNotExist:
        patient = None
    if patient is None or patient.clinic_id != args.clinic_id:
        raise AdminError(f"Clinic {args.clinic_id!r} has no patient {args.patient_id!r}.")
    user_id = patient.user_id
    if not user_id:
        login = accounts.patient_login(patient.email) if patient.email else None
        user_id = login.user_id if login is not None else None
    removed = bool(user_id) and memberships.remove(user_id, args.clinic_id, args.patient_id, datetime.now(UTC))
    as_patient = Identity("", "", Role.PATIENT, args.clinic_id, args.patient_id, 0)
    calendar_feeds.stop_feed(as_patient)
    # Nor do this clinic's reminders (and their links) reach them any more.
    scheduling.update_preferences(as_patient, {"email_reminders": False})
    if not user_id:
        return [f"Patient {args.patient_id}: has no login; nothing to remove. Calendar feed and reminders stopped."]
    if not removed:
        return [f"Patient {args.patient_id}: removed from clinic {args.clinic_id} already."]
    return [
        f"Patient {args.patient_id}: removed from clinic {args.clinic_id}; their calendar feed and reminder emails "
        "are stopped. Their login and any other clinic of theirs stay; the clinic's records of their visits stay."
    ]


def checked_settings(args) -> dict:
    if not _CLINIC_ID.match(args.clinic_id):
        raise AdminError("--clinic-id: use 1 to 64 letters, digits, '-' or '_'.")
    try:
        settings = inputs.settings_patch(
            {
                "name": args.name,
                "timezone": args.timezone,
                "phone": args.phone,
                "admin_email": args.admin_email,
                "cancel_cutoff_hours": args.cancel_cutoff_hours,
            }
        )
        inputs.email(args.staff_email, "--staff-email")
    except BadInput as error:
        raise AdminError(str(error)) from None
    return settings


def invite_staff(email: str, clinic_id: str) -> bool:
    try:
        return accounts.invite_staff(email, clinic_id)
    except Conflict as error:
        raise AdminError(str(error)) from None


def bootstrap(args, where: dict[str, str]) -> list[str]:
    settings = checked_settings(args)
    bind_to_stage(where)
    created = scheduling.create_clinic(args.clinic_id, settings)
    report = [
        f"Clinic {args.clinic_id}: "
        + (
            "created with the default session classes."
            if created
            else "exists already; its settings were left unchanged."
        )
    ]
    report.append(_staff_line(args.staff_email, invite_staff(args.staff_email, args.clinic_id)))
    if where.get("EndpointURL"):
        report.append(f"The portal: {where['EndpointURL']}")
    return report


def add_staff(args, where: dict[str, str]) -> list[str]:
    try:
        email = inputs.email(args.email, "--email")
    except BadInput as error:
        raise AdminError(str(error)) from None
    bind_to_stage(where)
    try:
        Clinic.get(args.clinic_id, consistent_read=True)
    except Clinic.DoesNotExist:
        raise AdminError(f"There is no clinic {args.clinic_id!r}; run bootstrap first.") from None
    return [_staff_line(email, invite_staff(email, args.clinic_id))]


def reset_staff_mfa(args, where: dict[str, str]) -> list[str]:
    try:
        email = inputs.email(args.email, "--email")
    except BadInput as error:
        raise AdminError(str(error)) from None
    bind_to_stage(where)
    try:
        temporary = accounts.reset_staff_mfa(email)
    except Conflict as error:
        raise AdminError(str(error)) from None
    return [
        f"Staff login {email}: signed out everywhere, second factor removed.",
        f"Temporary password: {temporary}",
        "Give it to them by phone once you are sure who is calling (never by email). At their next login "
        "they choose a new password and set up their authenticator app again.",
    ]


def rotate_signing_key(args, where: dict[str, str], secretsmanager=None) -> list[str]:
    """Adds a new random key to the signing keys secret and makes it current; the older keys stay,
    so cursors and links signed with them still verify."""
    secretsmanager = secretsmanager or operator_client("secretsmanager")
    secret_id = where["SigningKeysSecretArn"]
    keys = json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])
    try:
        signing.check_keys(keys)
    except RuntimeError as error:
        raise AdminError(str(error)) from None
    numbers = [int(key_id[1:]) for key_id in keys if re.fullmatch(r"k[0-9]+", key_id)]
    new_id = f"k{max(numbers, default=0) + 1}"
    keys[new_id] = secrets.token_urlsafe(48)
    keys["current"] = new_id
    secretsmanager.put_secret_value(SecretId=secret_id, SecretString=json.dumps(keys))
    older = sorted((key_id for key_id in keys if key_id not in ("current", new_id)), key=lambda k: (len(k), k))
    return [
        f"Signing key {new_id} is now current; what the older keys signed ({', '.join(older)}) still verifies.",
        f"Running functions sign with it within {signing.CACHE_SECONDS // 60} minutes.",
    ]


def replay_failures(
    args, where: dict[str, str], sqs=None, streams=None, invoke: Callable[[dict], dict] | None = None
) -> list[str]:
    """Sends the records behind each note in the on-failure queue to the stream function again, and
    deletes the note once the function took them all. Its consumers' idempotency stops duplicates."""
    sqs = sqs or operator_client("sqs")
    streams = streams or operator_client("dynamodbstreams")
    queue = where["StreamFailuresQueueUrl"]
    report = []
    for _ in range(args.max_messages):
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=300, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            break
        message = messages[0]
        info = json.loads(message["Body"]).get("DDBStreamBatchInfo") or {}
        first, last = info.get("approximateArrivalOfFirstRecord", "?"), info.get("approximateArrivalOfLastRecord", "?")
        window = f"{first} to {last}"
        records = stream_records(streams, info)
        if records is None:
            report.append(
                f"Kept {message['MessageId']}: the stream no longer has its records ({window}). Check the "
                "visits patients changed then (changed_by = patient) and tell the clinic."
            )
            continue
        # The clinics table's stream goes to the clinic-changes function; the visits table's to visit_changes.
        function = where.get("ClinicChangesFunctionName") if "-clinics/stream/" in info.get("streamArn", "") else None
        send = invoke or _lambda_invoker(function or where["StreamFunctionName"])
        failed = (send({"Records": records}) or {}).get("batchItemFailures") or []
        if failed:
            report.append(
                f"Kept {message['MessageId']}: {len(failed)} of {len(records)} records failed again; "
                "see the stream function's logs."
            )
            continue
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        report.append(f"Replayed {message['MessageId']}: {len(records)} records ({window}).")
    return report or ["The queue is empty: no email is waiting."]


def stream_records(streams, info: dict) -> list[dict] | None:
    """The records a failure note points at, shaped as Lambda delivers them; None when gone."""
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        last = int(info["endSequenceNumber"])
        records = []
        while iterator and len(records) < 10_000:
            page = streams.get_records(ShardIterator=iterator, Limit=100)
            for record in page.get("Records", []):
                if int(record["dynamodb"]["SequenceNumber"]) > last:
                    return records
                records.append(as_lambda_delivers(record, info["streamArn"]))
            if not page.get("Records") or records and int(records[-1]["dynamodb"]["SequenceNumber"]) >= last:
                return records
            iterator = page.get("NextShardIterator")
        return records
    except (KeyError, ValueError):
        raise AdminError(f"Not a DynamoDB stream failure note: {info!r}") from None
    except ClientError as error:
        if error.response["Error"]["Code"] in _RECORDS_GONE:
            return None
        raise


def _lambda_invoker(function_name: str) -> Callable[[dict], dict]:
    def invoke(event: dict) -> dict:
        response = operator_client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return {
                "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]]
            }
        return payload

    return invoke


def _staff_line(email: str, created: bool) -> str:
    if created:
        return (
            f"Staff login {email}: invited. Cognito has emailed a temporary password, valid for 7 days; "
            "the first login also sets up an authenticator app."
        )
    return f"Staff login {email}: exists already, in the clinic-staff group."


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ops.admin", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--stage", default="dev", help="the Chalice stage; its stack is client-portal-<stage>")
    where.add_argument("--stack-name", help="the CloudFormation stack, if not client-portal-<stage>")
    where.add_argument("--clinics-table", help="instead of the stack's ClinicsTableName output")
    where.add_argument("--staff-user-pool-id", help="instead of the stack's StaffUserPoolId output")
    clinic = argparse.ArgumentParser(add_help=False)
    clinic.add_argument("--clinic-id", required=True, help="a short id of your choice, e.g. riverside")

    first = commands.add_parser(
        "bootstrap", parents=[where, clinic], help="create the clinic and its first staff login"
    )
    first.add_argument("--name", required=True, help="the clinic's name, as patients see it")
    first.add_argument("--timezone", required=True, help="IANA time zone, e.g. America/New_York")
    first.add_argument("--admin-email", required=True, help="receives the cancellation emails")
    first.add_argument("--phone", required=True, help="shown to patients, who must call to cancel")
    first.add_argument("--staff-email", required=True, help="the first staff login")
    first.add_argument(
        "--cancel-cutoff-hours",
        type=int,
        default=0,
        help="patients cannot change a visit this many hours before it starts (default 0)",
    )

    more = commands.add_parser("add-staff", parents=[where, clinic], help="add a staff login to an existing clinic")
    more.add_argument("--email", required=True)

    reset = commands.add_parser(
        "reset-staff-mfa",
        parents=[where],
        help="a staff member lost their authenticator: sign them out, remove it, give a temporary password",
    )
    reset.add_argument("--email", required=True)

    rotate = commands.add_parser(
        "rotate-signing-key", parents=[where], help="add a new key for cursors and links and make it current"
    )
    rotate.add_argument("--signing-keys-secret", help="instead of the stack's SigningKeysSecretArn output")

    replay = commands.add_parser(
        "replay-failures",
        parents=[where],
        help="send the records behind the on-failure queue's notes to the stream function again",
    )
    replay.add_argument("--queue-url", help="instead of the stack's StreamFailuresQueueUrl output")
    replay.add_argument("--function-name", help="instead of the stack's StreamFunctionName output")
    replay.add_argument("--clinic-function-name", help="instead of the stack's ClinicChangesFunctionName output")
    replay.add_argument("--max-messages", type=int, default=100)

    kept = commands.add_parser(
        "send-kept-emails",
        parents=[where],
        help="send the clinic emails kept for want of a valid address, once the cause is fixed",
    )
    kept.add_argument("--clinic-id", help="one clinic's kept emails (default: every clinic's)")
    kept.add_argument("--outbox-table", help="instead of the stack's OutboxTableName output")
    kept.add_argument("--idempotency-table", help="instead of the stack's IdempotencyTableName output")
    kept.add_argument("--sender-email", help="instead of the stack's SenderEmail output")
    kept.add_argument("--configuration-set", help="instead of the stack's ConfigurationSetName output")

    patients = argparse.ArgumentParser(add_help=False)
    patients.add_argument("--user-pool-id", help="instead of the stack's UserPoolId output (the patients' pool)")
    patients.add_argument("--patients-table", help="instead of the stack's PatientsTableName output")
    patients.add_argument("--memberships-table", help="instead of the stack's MembershipsTableName output")
    commands.add_parser(
        "migrate-memberships",
        parents=[where, patients],
        help="make the memberships of logins from before memberships were data (safe to run again)",
    )
    remove = commands.add_parser(
        "remove-patient",
        parents=[where, patients, clinic],
        help="end one patient's membership of one clinic (their login and other clinics stay)",
    )
    remove.add_argument("--patient-id", required=True)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logger.setLevel("WARNING")  # the service's own INFO lines would bury the report
    try:
        where = target(args)
        command = {
            "bootstrap": bootstrap,
            "add-staff": add_staff,
            "reset-staff-mfa": reset_staff_mfa,
            "rotate-signing-key": rotate_signing_key,
            "replay-failures": replay_failures,
            "send-kept-emails": send_kept_emails,
            "migrate-memberships": migrate_memberships,
            "remove-patient": remove_patient,
        }[args.command]
        lines = command(args, where)
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
