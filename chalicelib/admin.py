"""Day-one operations on a deployed stage, run by the clinic's IT person with their own AWS credentials.

Nobody can log in to a fresh stack, so `bootstrap` creates the clinic (its settings and default
session classes) and its first staff login; Cognito emails that person a temporary password.
`add-staff` adds another staff login to an existing clinic. Both are safe to run again: what
already exists is reported and left as it is. `replay-failures` sends the stream records behind
the notes in the email function's on-failure queue to the function again.

    python -m chalicelib.admin bootstrap --stage prod --clinic-id riverside \\
        --name "Riverside Family Therapy" --timezone America/Chicago \\
        --admin-email frontdesk@riverside.example --phone "(555) 010-2040" \\
        --staff-email manager@riverside.example
    python -m chalicelib.admin add-staff --stage prod --clinic-id riverside --email front@riverside.example
    python -m chalicelib.admin replay-failures --stage prod

The table and user pool come from the outputs of the stage's CloudFormation stack (named
`client-portal-<stage>` unless --stack-name says otherwise), or from --clinics-table and
--user-pool-id. AWS_ENDPOINT_URL points everything at an emulator (the tests do).
"""

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime

from botocore.exceptions import ClientError

STACK_NAME = "client-portal-{stage}"
DEFAULT_SESSION_CLASSES = [
    ("Individual therapy", False),
    ("Family therapy", False),
    ("Cancelled by client", True),
    ("Cancelled by clinic", True),
]
_CLINIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NEEDS = {
    "bootstrap": ("ClinicsTableName", "UserPoolId"),
    "add-staff": ("ClinicsTableName", "UserPoolId"),
    "replay-failures": ("EmailFailuresQueueUrl", "EmailsFunctionName"),
}
_FLAGS = {
    "ClinicsTableName": "clinics_table",
    "UserPoolId": "user_pool_id",
    "EmailFailuresQueueUrl": "queue_url",
    "EmailsFunctionName": "function_name",
}
# The stream no longer has the records (it keeps them 24 hours), or the shard is gone.
_RECORDS_GONE = {"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"}


class AdminError(Exception):
    """Stops the command with a message for the operator."""


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise AdminError(
            f"Cannot read the stack {stack_name!r}: {error.response['Error'].get('Message', error)}. "
            "Pass --stack-name, or --clinics-table and --user-pool-id."
        ) from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def target(args, cloudformation=None) -> dict[str, str]:
    """What the command works on: the stack's outputs, overridden by the flags given."""
    given = {key: getattr(args, flag, None) for key, flag in _FLAGS.items() if getattr(args, flag, None)}
    needed = _NEEDS[args.command]
    if all(key in given for key in needed):
        return given
    from chalicelib import aws

    stack_name = args.stack_name or STACK_NAME.format(stage=args.stage)
    outputs = stack_outputs(cloudformation or aws.client("cloudformation"), stack_name)
    missing = [key for key in needed if key not in outputs and key not in given]
    if missing:
        raise AdminError(f"The stack {stack_name!r} has no output {missing[0]}; is it the portal's stack?")
    return dict(outputs, **given)


def use(where: dict[str, str]) -> None:
    """Points chalicelib at the stage. pynamodb reads table names when the models are first
    imported, so this runs before anything imports chalicelib.models."""
    os.environ["CLINICS_TABLE"] = where["ClinicsTableName"]
    os.environ["USER_POOL_ID"] = where["UserPoolId"]
    from chalicelib import config

    config.settings.cache_clear()
    from chalicelib.models import Clinic

    if Clinic.Meta.table_name != where["ClinicsTableName"]:
        raise AdminError("chalicelib.models was imported before the stage was chosen.")


def checked_settings(args) -> dict:
    from chalicelib import inputs
    from chalicelib.errors import BadInput

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


def create_clinic(clinic_id: str, settings: dict) -> bool:
    """Creates the clinic; False when it exists already (it is then left unchanged)."""
    from pynamodb.exceptions import PutError

    from chalicelib.models import Clinic, SessionClass

    clinic = Clinic(
        clinic_id,
        patient_cancel_enabled=True,
        session_classes=[SessionClass(name=n, cancelled=c) for n, c in DEFAULT_SESSION_CLASSES],
        **settings,
    )
    try:
        clinic.save(condition=Clinic.clinic_id.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def ensure_staff_login(email: str, clinic_id: str) -> bool:
    """Invites a staff login for the clinic; False when that login exists already (for this clinic)."""
    from chalicelib import accounts, aws, config
    from chalicelib.auth import STAFF_GROUP

    try:
        accounts.create_staff_login(email, clinic_id)  # no password: Cognito emails the invitation
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "UsernameExistsException":
            raise
    pool = config.settings().user_pool_id
    user = aws.cognito().admin_get_user(UserPoolId=pool, Username=email)
    clinic_of_user = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}.get("custom:clinic_id")
    if clinic_of_user != clinic_id:
        raise AdminError(f"{email} already has a login for another clinic ({clinic_of_user or 'a patient login'}).")
    aws.cognito().admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=STAFF_GROUP)
    return False


def bootstrap(args, where: dict[str, str]) -> list[str]:
    settings = checked_settings(args)
    use(where)
    report = [
        f"Clinic {args.clinic_id}: "
        + (
            "created with the default session classes."
            if create_clinic(args.clinic_id, settings)
            else "exists already; its settings were left unchanged."
        )
    ]
    report.append(_staff_line(args.staff_email, ensure_staff_login(args.staff_email, args.clinic_id)))
    if where.get("EndpointURL"):
        report.append(f"The portal: {where['EndpointURL']}")
    return report


def add_staff(args, where: dict[str, str]) -> list[str]:
    from chalicelib import inputs
    from chalicelib.errors import BadInput

    try:
        email = inputs.email(args.email, "--email")
    except BadInput as error:
        raise AdminError(str(error)) from None
    use(where)
    from chalicelib.models import Clinic

    try:
        Clinic.get(args.clinic_id, consistent_read=True)
    except Clinic.DoesNotExist:
        raise AdminError(f"There is no clinic {args.clinic_id!r}; run bootstrap first.") from None
    return [_staff_line(email, ensure_staff_login(email, args.clinic_id))]


def replay_failures(
    args, where: dict[str, str], sqs=None, streams=None, invoke: Callable[[dict], dict] | None = None
) -> list[str]:
    """Sends the records behind each note in the on-failure queue to the email function again, and
    deletes the note once the function took them all. Its idempotency stops duplicate emails."""
    from chalicelib import aws

    sqs = sqs or aws.client("sqs")
    streams = streams or aws.client("dynamodbstreams")
    invoke = invoke or _lambda_invoker(where["EmailsFunctionName"])
    queue = where["EmailFailuresQueueUrl"]
    report = []
    for _ in range(args.max_messages):
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=300, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            break
        message = messages[0]
        info = json.loads(message["Body"]).get("DDBStreamBatchInfo") or {}
        window = (
            f"{info.get('approximateArrivalOfFirstRecord', '?')} to {info.get('approximateArrivalOfLastRecord', '?')}"
        )
        records = stream_records(streams, info)
        if records is None:
            report.append(
                f"Kept {message['MessageId']}: the stream no longer has its records ({window}). Check the "
                "visits patients changed then (response_changed_by = patient) and tell the clinic."
            )
            continue
        failed = (invoke({"Records": records}) or {}).get("batchItemFailures") or []
        if failed:
            report.append(
                f"Kept {message['MessageId']}: {len(failed)} of {len(records)} records failed again; "
                "see the email function's logs."
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
                records.append(_as_lambda_delivers(record, info["streamArn"]))
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


def _as_lambda_delivers(record: dict, stream_arn: str) -> dict:
    record = dict(record, eventSourceARN=stream_arn)
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # boto3 parses it; Lambda sends epoch seconds
        record["dynamodb"] = dict(record["dynamodb"], ApproximateCreationDateTime=created.timestamp())
    return record


def _lambda_invoker(function_name: str) -> Callable[[dict], dict]:
    from chalicelib import aws

    def invoke(event: dict) -> dict:
        response = aws.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return {
                "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]]
            }
        return payload

    return invoke


def _staff_line(email: str, created: bool) -> str:
    if created:
        return f"Staff login {email}: invited. Cognito has emailed a temporary password, valid for 7 days."
    return f"Staff login {email}: exists already, in the clinic-staff group."


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--stage", default="dev", help="the Chalice stage; its stack is client-portal-<stage>")
    where.add_argument("--stack-name", help="the CloudFormation stack, if not client-portal-<stage>")
    where.add_argument("--clinics-table", help="instead of the stack's ClinicsTableName output")
    where.add_argument("--user-pool-id", help="instead of the stack's UserPoolId output")
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

    replay = commands.add_parser(
        "replay-failures",
        parents=[where],
        help="send the records behind the on-failure queue's notes to the email function again",
    )
    replay.add_argument("--queue-url", help="instead of the stack's EmailFailuresQueueUrl output")
    replay.add_argument("--function-name", help="instead of the stack's EmailsFunctionName output")
    replay.add_argument("--max-messages", type=int, default=100)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        where = target(args)
        lines = {"bootstrap": bootstrap, "add-staff": add_staff, "replay-failures": replay_failures}[args.command](
            args, where
        )
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
