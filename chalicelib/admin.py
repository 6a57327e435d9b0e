"""Day-one operations on a deployed stage, run by the clinic's IT person with their own AWS credentials.

Nobody can log in to a fresh stack, so `bootstrap` creates the clinic (its settings and default
session classes) and its first staff login; Cognito emails that person a temporary password.
`add-staff` adds another staff login to an existing clinic. Both are safe to run again: what
already exists is reported and left as it is.

    python -m chalicelib.admin bootstrap --stage prod --clinic-id riverside \\
        --name "Riverside Family Therapy" --timezone America/Chicago \\
        --admin-email frontdesk@riverside.example --phone "(555) 010-2040" \\
        --staff-email manager@riverside.example
    python -m chalicelib.admin add-staff --stage prod --clinic-id riverside --email front@riverside.example

The table and user pool come from the outputs of the stage's CloudFormation stack (named
`client-portal-<stage>` unless --stack-name says otherwise), or from --clinics-table and
--user-pool-id. AWS_ENDPOINT_URL points everything at an emulator (the tests do).
"""
import argparse
import os
import re
import sys
from typing import Dict, List, Optional

from botocore.exceptions import ClientError

STACK_NAME = "client-portal-{stage}"
DEFAULT_SESSION_CLASSES = [
    ("Individual therapy", False),
    ("Family therapy", False),
    ("Cancelled by client", True),
    ("Cancelled by clinic", True),
]
_CLINIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AdminError(Exception):
    """Stops the command with a message for the operator."""


def stack_outputs(cloudformation, stack_name: str) -> Dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise AdminError(f"Cannot read the stack {stack_name!r}: {error.response['Error'].get('Message', error)}. "
                         "Pass --stack-name, or --clinics-table and --user-pool-id.") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def target(args, cloudformation=None) -> Dict[str, str]:
    """The clinics table and user pool to write to (and the API's address, when known)."""
    if args.clinics_table and args.user_pool_id:
        return {"ClinicsTableName": args.clinics_table, "UserPoolId": args.user_pool_id}
    from chalicelib import aws

    stack_name = args.stack_name or STACK_NAME.format(stage=args.stage)
    outputs = stack_outputs(cloudformation or aws.client("cloudformation"), stack_name)
    missing = [key for key in ("ClinicsTableName", "UserPoolId") if key not in outputs]
    if missing:
        raise AdminError(f"The stack {stack_name!r} has no output {missing[0]}; is it the portal's stack?")
    return dict(outputs, ClinicsTableName=args.clinics_table or outputs["ClinicsTableName"],
                UserPoolId=args.user_pool_id or outputs["UserPoolId"])


def use(where: Dict[str, str]) -> None:
    """Points chalicelib at the stage. pynamodb reads table names when the models are first
    imported, so this runs before anything imports chalicelib.models."""
    os.environ["CLINICS_TABLE"] = where["ClinicsTableName"]
    os.environ["USER_POOL_ID"] = where["UserPoolId"]
    from chalicelib import config

    config.settings.cache_clear()
    from chalicelib.models import Clinic

    if Clinic.Meta.table_name != where["ClinicsTableName"]:
        raise AdminError("chalicelib.models was imported before the stage was chosen.")


def checked_settings(args) -> Dict:
    from chalicelib import inputs
    from chalicelib.errors import BadInput

    if not _CLINIC_ID.match(args.clinic_id):
        raise AdminError("--clinic-id: use 1 to 64 letters, digits, '-' or '_'.")
    try:
        settings = inputs.settings_patch({"name": args.name, "timezone": args.timezone, "phone": args.phone,
                                          "admin_email": args.admin_email,
                                          "cancel_cutoff_hours": args.cancel_cutoff_hours})
        inputs.email(args.staff_email, "--staff-email")
    except BadInput as error:
        raise AdminError(str(error)) from None
    return settings


def create_clinic(clinic_id: str, settings: Dict) -> bool:
    """Creates the clinic; False when it exists already (it is then left unchanged)."""
    from pynamodb.exceptions import PutError

    from chalicelib.models import Clinic, SessionClass

    clinic = Clinic(clinic_id, patient_cancel_enabled=True,
                    session_classes=[SessionClass(name=n, cancelled=c) for n, c in DEFAULT_SESSION_CLASSES],
                    **settings)
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


def bootstrap(args, where: Dict[str, str]) -> List[str]:
    settings = checked_settings(args)
    use(where)
    report = [f"Clinic {args.clinic_id}: " + ("created with the default session classes."
                                              if create_clinic(args.clinic_id, settings)
                                              else "exists already; its settings were left unchanged.")]
    report.append(_staff_line(args.staff_email, ensure_staff_login(args.staff_email, args.clinic_id)))
    if where.get("EndpointURL"):
        report.append(f"The portal: {where['EndpointURL']}")
    return report


def add_staff(args, where: Dict[str, str]) -> List[str]:
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
    where.add_argument("--clinic-id", required=True, help="a short id of your choice, e.g. riverside")

    first = commands.add_parser("bootstrap", parents=[where], help="create the clinic and its first staff login")
    first.add_argument("--name", required=True, help="the clinic's name, as patients see it")
    first.add_argument("--timezone", required=True, help="IANA time zone, e.g. America/New_York")
    first.add_argument("--admin-email", required=True, help="receives the cancellation emails")
    first.add_argument("--phone", required=True, help="shown to patients, who must call to cancel")
    first.add_argument("--staff-email", required=True, help="the first staff login")
    first.add_argument("--cancel-cutoff-hours", type=int, default=0,
                       help="patients cannot change a visit this many hours before it starts (default 0)")

    more = commands.add_parser("add-staff", parents=[where], help="add a staff login to an existing clinic")
    more.add_argument("--email", required=True)
    return top


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        where = target(args)
        lines = (bootstrap if args.command == "bootstrap" else add_staff)(args, where)
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
