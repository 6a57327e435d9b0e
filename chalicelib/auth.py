"""Who is calling: Cognito ID tokens verified with PyJWT, in every mode.

The custom authorizer in `app.py` calls `verify_id_token`; the result travels to the
route handlers as the authorizer context, and `Identity.from_context` reads it back.
"""

import time
from dataclasses import dataclass
from enum import Enum
from functools import cache

import jwt

from chalicelib import config

STAFF_GROUP = "clinic-staff"
# Cognito rotates its signing keys rarely; an unknown `kid` makes PyJWKClient fetch again.
JWKS_CACHE_SECONDS = 12 * 3600


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or for someone else. Never shown."""


class Role(str, Enum):
    PATIENT = "patient"
    STAFF = "staff"
    NONE = "none"


@dataclass(frozen=True)
class Identity:
    subject: str
    username: str
    role: Role
    clinic_id: str
    patient_id: str
    expires_at: int

    def as_context(self) -> dict[str, str]:
        """API Gateway passes authorizer context values as strings only."""
        return {
            "subject": self.subject,
            "username": self.username,
            "role": self.role.value,
            "clinic_id": self.clinic_id,
            "patient_id": self.patient_id,
            "expires_at": str(self.expires_at),
        }

    @classmethod
    def from_context(cls, context: dict[str, str]) -> "Identity":
        return cls(
            subject=context.get("subject", ""),
            username=context.get("username", ""),
            role=Role(context.get("role", Role.NONE.value)),
            clinic_id=context.get("clinic_id", ""),
            patient_id=context.get("patient_id", ""),
            expires_at=int(context.get("expires_at") or 0),
        )

    def is_expired(self, now: float | None = None) -> bool:
        """API Gateway caches an authorizer's answer for minutes; the token may expire inside that window."""
        return (now if now is not None else time.time()) >= self.expires_at


@cache
def _jwks_client() -> jwt.PyJWKClient:
    return jwt.PyJWKClient(config.current().jwks_url, cache_jwk_set=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)


def forget_keys() -> None:
    """A new binding may be another user pool: fetch its keys on the next token."""
    _jwks_client.cache_clear()


def bearer_token(header: str | None) -> str:
    """`Bearer <token>` or the bare token."""
    if not header:
        raise InvalidToken("no token")
    scheme, _, rest = header.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else header.strip()
    if not token or " " in token:
        raise InvalidToken("malformed header")
    return token


def verify_id_token(header: str | None) -> Identity:
    token = bearer_token(header)
    settings = config.current()
    try:
        signing_key = _jwks_client().get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            audience=settings.app_client_id,
            issuer=settings.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(type(error).__name__) from None
    if claims.get("token_use") != "id":
        raise InvalidToken("not an ID token")
    return _identity(claims)


def _identity(claims: dict) -> Identity:
    clinic_id = str(claims.get("custom:clinic_id") or "")
    patient_id = str(claims.get("custom:patient_id") or "")
    groups = claims.get("cognito:groups") or []
    if STAFF_GROUP in groups and clinic_id:
        role = Role.STAFF
    elif clinic_id and patient_id:
        role = Role.PATIENT
    else:
        role = Role.NONE
    return Identity(
        subject=str(claims["sub"]),
        # The email reads better than Cognito's generated username in audit attributes.
        username=str(claims.get("email") or claims.get("cognito:username") or claims["sub"]),
        role=role,
        clinic_id=clinic_id,
        patient_id=patient_id,
        expires_at=int(claims["exp"]),
    )


class Unauthorized(Exception):
    """Raised by the authorizer: API Gateway answers 401 when a token authorizer fails with
    exactly the message "Unauthorized" (the local gateway in `local/gateway.py` does the same)."""

    def __init__(self):
        super().__init__("Unauthorized")
