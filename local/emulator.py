"""The embedded AWS for local mode and tests: moto's server, and the tables, user pool and
verified sender that a deployed stack gets from its CloudFormation template.

Import order matters: `use_emulator()` sets the environment before anything imports
`chalicelib.models`, because pynamodb reads the table names and the endpoint when the
model classes are defined.
"""
import logging
import os
import socket
from typing import Dict

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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per emulated AWS call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def use_emulator(endpoint: str, table_prefix: str = "portal-local") -> None:
    """Points every AWS client of this process at the emulator, with throwaway credentials."""
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # botocore >= 1.44.4 otherwise sends Streams calls to a host moto does not know.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "TABLE_PREFIX": table_prefix,
    })
    for name in ("CLINICS_TABLE", "PATIENTS_TABLE", "VISITS_TABLE"):
        os.environ.pop(name, None)


def provision(endpoint: str, sender_email: str) -> Dict[str, str]:
    """Creates what the service needs and returns the settings that point it there."""
    from chalicelib.models import ALL_MODELS  # only now: see the module docstring

    for model in ALL_MODELS:
        model.create_table(wait=True)
    cognito = boto3.client("cognito-idp", region_name=REGION, endpoint_url=endpoint)
    pool_id = cognito.create_user_pool(
        PoolName="client-portal-local",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        Schema=[
            {"Name": "clinic_id", "AttributeDataType": "String", "Mutable": True},
            {"Name": "patient_id", "AttributeDataType": "String", "Mutable": True},
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
    }
