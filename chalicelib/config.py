"""Where a deployment's resources are: tables, user pool, sender, AWS endpoint.

Nothing here runs at import. `Settings.from_environment()` reads what `.chalice/config.json`
and the stack give each Lambda function; local mode, the tests, the benchmark and the
operations command build their own `Settings`. `chalicelib.runtime.bind` points the
service at one of them.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr

DEFAULT_REGION = "us-east-1"
DEFAULT_TABLE_PREFIX = "portal-dev"
DEFAULT_METRICS_NAMESPACE = "ClientPortal"
# Every table the service uses, by kind; `<prefix>-<kind>` unless `<KIND>_TABLE` names it.
TABLE_KINDS = (
    "clinics",
    "patients",
    "visits",
    "history",
    "idempotency",
    "calendar-feeds",
    "outbox",
    "reminders",
    "memberships",
)


@dataclass(frozen=True)
class Settings:
    region: str = DEFAULT_REGION
    endpoint: str | None = None  # the AWS emulator's URL in local mode and tests; None on AWS
    tables: Mapping[str, str] = field(default_factory=dict)
    # The patients' user pool and its public app client.
    user_pool_id: str = ""
    app_client_id: str = ""
    issuer: str = ""
    jwks_url: str = ""
    # The staff's user pool (TOTP required) and its public app client.
    staff_user_pool_id: str = ""
    staff_app_client_id: str = ""
    staff_issuer: str = ""
    staff_jwks_url: str = ""
    sender_email: str = ""
    configuration_set: str = ""  # the SES configuration set every clinic email names (TLS, events)
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    # The API's public base URL (a custom domain, e.g. https://portal.clinic.example); empty:
    # built from each request (app.py), which is right for the API Gateway address itself.
    public_url: str = ""
    # The Secrets Manager secret (ARN or name) holding the keys that sign cursors and links.
    signing_keys_secret: str = ""

    def table(self, kind: str) -> str:
        return self.tables[kind]

    @property
    def calendar_domain(self) -> str:
        """The right-hand side of every calendar event's UID: the domain of the sender address.
        Every deployment has one and it never changes, so UIDs stay stable even if the portal
        moves to another web address."""
        _, at, domain = parseaddr(self.sender_email)[1].rpartition("@")
        return domain.strip().lower() if at and domain.strip() else "client-portal.invalid"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        pool_id = environ.get("USER_POOL_ID", "")
        issuer = environ.get("TOKEN_ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        staff_pool_id = environ.get("STAFF_USER_POOL_ID", "")
        staff_issuer = (
            environ.get("STAFF_TOKEN_ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{staff_pool_id}"
        )
        return cls(
            region=region,
            endpoint=environ.get("AWS_ENDPOINT_URL") or None,
            tables=table_names(environ.get("TABLE_PREFIX") or DEFAULT_TABLE_PREFIX, environ),
            user_pool_id=pool_id,
            app_client_id=environ.get("APP_CLIENT_ID", ""),
            issuer=issuer,
            # moto signs tokens with the real AWS issuer but serves its key set itself, so the
            # key URL is configurable apart from the issuer.
            jwks_url=environ.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json",
            staff_user_pool_id=staff_pool_id,
            staff_app_client_id=environ.get("STAFF_APP_CLIENT_ID", ""),
            staff_issuer=staff_issuer,
            staff_jwks_url=environ.get("STAFF_JWKS_URL") or f"{staff_issuer}/.well-known/jwks.json",
            sender_email=environ.get("SENDER_EMAIL", ""),
            configuration_set=environ.get("SES_CONFIGURATION_SET", ""),
            metrics_namespace=environ.get("METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
            public_url=environ.get("PUBLIC_URL", "").strip(),
            signing_keys_secret=environ.get("SIGNING_KEYS_SECRET", ""),
        )


def table_names(prefix: str, explicit: Mapping[str, str] = {}) -> dict[str, str]:  # noqa: B006 (read only)
    """`<prefix>-<kind>` for each table, unless `<KIND>_TABLE` in `explicit` names it."""
    return {kind: explicit.get(table_variable(kind)) or f"{prefix}-{kind}" for kind in TABLE_KINDS}


def table_variable(kind: str) -> str:
    """The environment variable that names a kind's table: `CALENDAR_FEEDS_TABLE` for `calendar-feeds`."""
    return f"{kind.upper().replace('-', '_')}_TABLE"


class NotBound(RuntimeError):
    """A function needed the deployment before an entry point bound one (`runtime.bind`)."""


_bound: Settings | None = None


def current() -> Settings:
    """The settings the service is bound to."""
    if _bound is None:
        raise NotBound("The service is not bound to a deployment yet: call chalicelib.runtime.bind() first.")
    return _bound


def is_bound() -> bool:
    return _bound is not None


def use(settings: Settings) -> None:
    """Only `runtime.bind` calls this: the models and clients must follow the same settings."""
    global _bound
    _bound = settings
