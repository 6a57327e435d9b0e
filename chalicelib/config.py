"""Deployment settings, read from the environment that `.chalice/config.json` sets per stage.

Read lazily (`settings()`), never at import, so tests and the local runner can set the
environment first. The pynamodb models are the one exception: pynamodb reads
`Meta.table_name` and `Meta.host` when the class is defined.
"""

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_REGION = "us-east-1"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def aws_endpoint() -> str | None:
    """The AWS emulator's URL in local mode and tests; unset on AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def table_name(kind: str) -> str:
    """Table names follow `<prefix>-<kind>` unless a stage names a table explicitly."""
    explicit = os.environ.get(f"{kind.upper()}_TABLE")
    if explicit:
        return explicit
    return f"{os.environ.get('TABLE_PREFIX', 'portal-dev')}-{kind}"


@dataclass(frozen=True)
class Settings:
    user_pool_id: str
    app_client_id: str
    issuer: str
    jwks_url: str
    sender_email: str


@lru_cache(maxsize=1)
def settings() -> Settings:
    pool_id = os.environ.get("USER_POOL_ID", "")
    issuer = os.environ.get("TOKEN_ISSUER") or f"https://cognito-idp.{region()}.amazonaws.com/{pool_id}"
    # moto signs tokens with the real AWS issuer but serves its JWKS locally, so the
    # key URL is configurable apart from the issuer.
    jwks_url = os.environ.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json"
    return Settings(
        user_pool_id=pool_id,
        app_client_id=os.environ.get("APP_CLIENT_ID", ""),
        issuer=issuer,
        jwks_url=jwks_url,
        sender_email=os.environ.get("SENDER_EMAIL", ""),
    )
