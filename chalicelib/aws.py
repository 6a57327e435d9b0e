"""AWS clients, created lazily and once per container; never at import.

Tests and the local runner point them at the emulator through `AWS_ENDPOINT_URL`.
`reset_clients()` drops them when the environment changes (tests).
"""

from functools import cache

import boto3
from botocore.config import Config

from chalicelib import config

_RETRIES = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str):
    return boto3.session.Session().client(
        service, region_name=config.region(), endpoint_url=config.aws_endpoint(), config=_RETRIES
    )


def cognito():
    return client("cognito-idp")


def sesv2():
    """SES through its v2 API: one SendEmail action (`ses:SendEmail`), raw MIME content."""
    return client("sesv2")


def reset_clients() -> None:
    client.cache_clear()
