"""AWS clients, created lazily and once per binding; never at import.

They follow the bound settings (`chalicelib.runtime.bind`): the emulator's endpoint in local
mode and tests, AWS itself when deployed. Binding again drops them (`reset_clients`).
"""

from functools import cache

import boto3
from botocore.config import Config
from pynamodb.connection import Connection

from chalicelib import config

_RETRIES = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str):
    settings = config.current()
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.endpoint, config=_RETRIES
    )


def cognito():
    return client("cognito-idp")


def sesv2():
    """SES through its v2 API: one SendEmail action (`ses:SendEmail`), raw MIME content."""
    return client("sesv2")


@cache
def transactions() -> Connection:
    """pynamodb's transactions need a connection of their own (pointed at the emulator locally)."""
    settings = config.current()
    return Connection(region=settings.region, host=settings.endpoint)


def reset_clients() -> None:
    client.cache_clear()
    transactions.cache_clear()
