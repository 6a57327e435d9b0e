"""The embedded AWS for local mode and tests: moto's server, and the tables, user pool and
verified sender that a deployed stack gets from its CloudFormation template.

Import order matters: `use_emulator()` sets the environment before anything imports
`chalicelib.models`, because pynamodb reads the table names and the endpoint when the
model classes are defined.
"""

import email
import email.policy
import logging
import os
import socket
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
STAFF_GROUP = "clinic-staff"
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int) -> ThreadedMotoServer:
    # The server logs every request; the stream poller's polling would bury the console.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def use_emulator(endpoint: str, table_prefix: str = "portal-local") -> None:
    """Points every AWS client of this process at the emulator, with throwaway credentials."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # botocore >= 1.44.4 otherwise sends Streams calls to a host moto does not know.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_PREFIX": table_prefix,
        }
    )
    for name in ("CLINICS_TABLE", "PATIENTS_TABLE", "VISITS_TABLE", "IDEMPOTENCY_TABLE"):
        os.environ.pop(name, None)


def provision(endpoint: str, sender_email: str) -> dict[str, str]:
    """Creates what the service needs and returns the settings that point it there.

    The settings include `VISITS_STREAM_ARN`, which `app.py` reads at import: put them in
    the environment before importing `app`.
    """
    from chalicelib import config
    from chalicelib.models import ALL_MODELS, Visit  # only now: see the module docstring

    for model in ALL_MODELS:
        model.create_table(wait=True)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    # Powertools' idempotency records for the clinic emails: its default key and TTL attributes.
    idempotency_table = config.table_name("idempotency")
    dynamodb.create_table(
        TableName=idempotency_table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=idempotency_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    stream_arn = dynamodb.describe_table(TableName=Visit.Meta.table_name)["Table"]["LatestStreamArn"]
    cognito = boto3.client("cognito-idp", region_name=REGION, endpoint_url=endpoint)
    pool_id = cognito.create_user_pool(
        PoolName="client-portal-local",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        Schema=[
            {"Name": "clinic_id", "AttributeDataType": "String", "Mutable": False},
            {"Name": "patient_id", "AttributeDataType": "String", "Mutable": False},
        ],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="client-portal",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName=STAFF_GROUP, Description="Clinic operations staff")
    boto3.client("ses", region_name=REGION, endpoint_url=endpoint).verify_email_identity(EmailAddress=sender_email)
    return {
        "USER_POOL_ID": pool_id,
        "APP_CLIENT_ID": client_id,
        # moto signs with the real AWS issuer but serves the keys itself.
        "TOKEN_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "JWKS_URL": f"{endpoint}/{pool_id}/.well-known/jwks.json",
        "SENDER_EMAIL": sender_email,
        "VISITS_STREAM_ARN": stream_arn,
    }


@dataclass(frozen=True)
class SentEmail:
    """One email as SES received it, with its parts decoded."""

    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


def sent_emails() -> list[SentEmail]:
    """Every email the emulator's SES accepted, oldest first.

    Read from moto's backend, so only in the process that runs the emulator (local mode and
    tests). The same messages are at `GET {endpoint}/moto-api/data.json` → `ses`.
    """
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    return [_decoded(message) for message in list(get_backend("ses")[DEFAULT_ACCOUNT_ID][REGION].sent_messages)]


def _decoded(message) -> SentEmail:
    raw = getattr(message, "raw_data", None)
    if raw is None:  # SendEmail with simple content: moto keeps one body only
        to = tuple(message.destinations.get("ToAddresses", []))
        return SentEmail(message.source, to, message.subject, message.body, message.body)
    mime = email.message_from_string(raw, policy=email.policy.default)
    parts = {part: mime.get_body((part,)) for part in ("plain", "html")}
    return SentEmail(
        sender=str(mime["From"] or message.source),
        to=tuple(address.addr_spec for address in mime["To"].addresses) if mime["To"] else (),
        subject=str(mime["Subject"] or ""),
        text=parts["plain"].get_content() if parts["plain"] else "",
        html=parts["html"].get_content() if parts["html"] else "",
    )
