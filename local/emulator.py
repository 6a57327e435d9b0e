"""The embedded AWS for local mode, tests and the benchmark: moto's server, and the tables,
user pools, signing keys and verified sender that a deployed stack gets from its
CloudFormation template.

`provision()` creates them and binds the service to them (`chalicelib.runtime.bind`).

Where moto 5.2.5 falls short of Cognito, `start()` closes the gap: TOTP codes are checked
(`MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP`), and RevokeToken, which moto lacks, revokes a
refresh token as Cognito does. moto issues 60-minute tokens whatever the app client says; the
service honours a token 10 minutes at most anyway (`auth.MAX_TOKEN_AGE_SECONDS`).
"""

import email
import email.policy
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass, replace

import boto3
from moto.server import ThreadedMotoServer

from chalicelib import accounts, auth, config, runtime
from chalicelib.auth import STAFF_GROUP
from chalicelib.config import Settings
from chalicelib.models import ALL_MODELS, Clinic, Visit

REGION = "us-east-1"
CONFIGURATION_SET = "client-portal-local"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int) -> ThreadedMotoServer:
    # The server logs every request; the stream poller's polling would bury the console.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Staff's TOTP codes are really checked (moto reads this on every check).
    os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
    _add_revoke_token()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def _add_revoke_token() -> None:
    """Cognito's RevokeToken, which moto 5.2.5 does not have: the refresh token, given with the
    app client it was issued to, stops working (refresh then answers NotAuthorizedException).
    A token that is unknown, revoked already or another client's is left alone, as Cognito does."""
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    if hasattr(CognitoIdpResponse, "revoke_token"):
        return

    def revoke_token(self):
        token, client_id = self._get_param("Token"), self._get_param("ClientId")
        for pool in cognitoidp_backends[self.current_account][self.region].user_pools.values():
            held = pool.refresh_tokens.get(token)
            if held and held[0] == client_id:
                pool.refresh_tokens[token] = None
        return EmptyResult()

    CognitoIdpResponse.revoke_token = revoke_token


def use_throwaway_credentials() -> None:
    """boto3 needs credentials and a region even for the emulator; these reach nothing real."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            # botocore >= 1.44.4 otherwise sends Streams calls to a host moto does not know.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )


@dataclass(frozen=True)
class Provisioned:
    settings: Settings
    visits_stream_arn: str
    clinics_stream_arn: str


def provision(endpoint: str, table_prefix: str, sender_email: str, public_url: str = "") -> Provisioned:
    """Creates what the service needs in the emulator and binds the service to it. `public_url` is
    where the API answers (the links in reminder emails point there)."""
    use_throwaway_credentials()
    settings = runtime.bind(Settings(region=REGION, endpoint=endpoint, tables=config.table_names(table_prefix)))
    for model in ALL_MODELS:
        model.create_table(wait=True)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    # Powertools' idempotency records for the clinic emails: its default key and TTL attributes.
    idempotency_table = settings.table("idempotency")
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
    clinics_stream_arn = dynamodb.describe_table(TableName=Clinic.Meta.table_name)["Table"]["LatestStreamArn"]
    cognito = boto3.client("cognito-idp", region_name=REGION, endpoint_url=endpoint)
    pool_id, client_id = _user_pool(cognito, f"{table_prefix}-patients", ("clinic_id", "patient_id"), mfa=False)
    staff_pool_id, staff_client_id = _user_pool(cognito, f"{table_prefix}-staff", ("clinic_id",), mfa=True)
    cognito.create_group(UserPoolId=staff_pool_id, GroupName=STAFF_GROUP, Description="Clinic operations staff")
    boto3.client("ses", region_name=REGION, endpoint_url=endpoint).verify_email_identity(EmailAddress=sender_email)
    # The stack's configuration set requires TLS and reports deliveries and bounces; moto keeps its name only.
    boto3.client("sesv2", region_name=REGION, endpoint_url=endpoint).create_configuration_set(
        ConfigurationSetName=CONFIGURATION_SET, DeliveryOptions={"TlsPolicy": "REQUIRE"}
    )
    # As the stack's GenerateSecretString makes it: key ids, the current one, random keys.
    secret_arn = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint).create_secret(
        Name=f"{table_prefix}-signing-keys",
        SecretString=json.dumps({"current": "k1", "k1": secrets.token_urlsafe(48)}),
    )["ARN"]
    settings = replace(
        settings,
        user_pool_id=pool_id,
        app_client_id=client_id,
        issuer=_issuer(pool_id),
        jwks_url=f"{endpoint}/{pool_id}/.well-known/jwks.json",  # moto serves the keys itself
        staff_user_pool_id=staff_pool_id,
        staff_app_client_id=staff_client_id,
        staff_issuer=_issuer(staff_pool_id),
        staff_jwks_url=f"{endpoint}/{staff_pool_id}/.well-known/jwks.json",
        sender_email=sender_email,
        configuration_set=CONFIGURATION_SET,
        signing_keys_secret=secret_arn,
        public_url=public_url,
    )
    return Provisioned(runtime.bind(settings), stream_arn, clinics_stream_arn)


def _issuer(pool_id: str) -> str:
    return f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"  # moto signs with the real AWS issuer


def _user_pool(cognito, name: str, attributes: tuple[str, ...], mfa: bool) -> tuple[str, str]:
    """A user pool and its public app client, set up as deploy/resources.yaml sets them up."""
    pool_id = cognito.create_user_pool(
        PoolName=name,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        MfaConfiguration="ON" if mfa else "OFF",
        Policies={"PasswordPolicy": accounts.PASSWORD_POLICY},
        Schema=[{"Name": attribute, "AttributeDataType": "String", "Mutable": False} for attribute in attributes],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    if mfa:
        cognito.set_user_pool_mfa_config(
            UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
    minutes = auth.MAX_TOKEN_AGE_SECONDS // 60
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="portal",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
        IdTokenValidity=minutes,
        AccessTokenValidity=minutes,
        RefreshTokenValidity=7,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"},
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


@dataclass(frozen=True)
class SentEmail:
    """One email as SES received it, with its parts decoded."""

    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...] = ()  # every header, as (name, value)
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (file name, content type, content)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def sent_emails() -> list[SentEmail]:
    """Every email the emulator's SES accepted, oldest first.

    Read from moto's backend, so only in the process that runs the emulator (local mode and
    tests). The same messages are at `GET {endpoint}/moto-api/data.json` → `ses`.
    """
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    messages = list(get_backend("ses")[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
    return [_decoded(message) for message in messages]


_DECODED: dict[str, SentEmail] = {}


def _decoded(message) -> SentEmail:
    """Each message is decoded once (the tests and the pollers read the whole list again and again)."""
    key = getattr(message, "id", None)
    if key is None:
        return _decode(message)
    if key not in _DECODED:
        _DECODED[key] = _decode(message)
    return _DECODED[key]


def _decode(message) -> SentEmail:
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
        headers=tuple((name, str(value)) for name, value in mime.items()),
        attachments=tuple(
            (part.get_filename() or "", part.get_content_type(), part.get_payload(decode=True) or b"")
            for part in mime.iter_attachments()
        ),
    )
