"""Who is calling: Cognito ID tokens verified with PyJWT, in every mode.

Two user pools: the patients' and the staff's (TOTP required). A token names its pool in
`iss`; it is then verified fully against that pool (its keys, issuer and app client), and the
role comes from the pool: staff only from the staff pool (in `clinic-staff`, with a clinic),
a patient only from the patients' pool (with at least one clinic membership). So a patient login can
never become staff, whatever its groups.

A patient's clinics are not in the token: they are data (`chalicelib.memberships`), which the
custom authorizer in `app.py` adds to the verified identity once per token (API Gateway caches
its answer). The result travels to the route handlers as the authorizer context,
`Identity.from_context` reads it back, and `Identity.choosing` picks the membership a request
names (`X-Clinic-Id` or `clinic_id`).
"""

import json
import time
from dataclasses import dataclass, replace
from enum import Enum
from functools import cache

import jwt

from chalicelib import config
from chalicelib.errors import BadInput, NotFound

STAFF_GROUP = "clinic-staff"
# Cognito rotates its signing keys rarely; an unknown `kid` makes PyJWKClient fetch again.
JWKS_CACHE_SECONDS = 12 * 3600
# How long an ID token is honoured after it was issued, whatever its `exp` says: the app
# clients issue 10-minute tokens (deploy/resources.yaml), and this holds the same bound if a
# client is ever configured otherwise (or, locally, where the emulator issues 60-minute ones).
# Access therefore ends at most this long after a user is disabled, signed out or removed.
MAX_TOKEN_AGE_SECONDS = 600
# A request of a person with several clinics must name one; this says so without naming any.
CHOOSE_A_CLINIC = "Choose a clinic: send the X-Clinic-Id header (or the clinic_id query parameter)."
UNKNOWN_CLINIC = "Unknown clinic."


def now() -> float:
    """The clock tokens are judged by (tests move it)."""
    return time.time()


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or for someone else. Never shown."""


class Role(str, Enum):
    PATIENT = "patient"
    STAFF = "staff"
    NONE = "none"


@dataclass(frozen=True)
class Membership:
    """The person is this clinic's patient `patient_id`."""

    clinic_id: str
    patient_id: str


def _memberships_from(value: str | None) -> tuple[Membership, ...]:
    try:
        pairs = json.loads(value or "[]")
        return tuple(Membership(str(clinic_id), str(patient_id)) for clinic_id, patient_id in pairs)
    except (TypeError, ValueError):
        return ()


@dataclass(frozen=True)
class Identity:
    subject: str
    username: str
    role: Role
    # Staff: their clinic. A patient: the chosen membership's clinic and patient (`choosing`),
    # empty until a request has chosen one.
    clinic_id: str
    patient_id: str
    expires_at: int
    # A patient's memberships (`chalicelib.memberships.resolve`); none for staff.
    memberships: tuple[Membership, ...] = ()

    def as_context(self) -> dict[str, str]:
        """API Gateway passes authorizer context values as strings only."""
        return {
            "subject": self.subject,
            "username": self.username,
            "role": self.role.value,
            # For the logs (the access log's clinic, a refused request's caller): a patient's own
            # clinics and patient ids; each /portal request then acts as the one it chooses.
            "clinic_id": self.clinic_id or " ".join(m.clinic_id for m in self.memberships),
            "patient_id": self.patient_id or " ".join(m.patient_id for m in self.memberships),
            "expires_at": str(self.expires_at),
            "memberships": json.dumps([[m.clinic_id, m.patient_id] for m in self.memberships]),
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
            memberships=_memberships_from(context.get("memberships")),
        )

    def with_memberships(self, memberships) -> "Identity":
        """A patient with these memberships; a patient with none has no role (403 everywhere)."""
        memberships = tuple(memberships)
        role = self.role if memberships or self.role is not Role.PATIENT else Role.NONE
        return replace(self, memberships=memberships, role=role)

    def choosing(self, clinic_id: str | None, required: bool = True) -> "Identity":
        """The patient acting as the membership a request names. One membership needs no name; with
        several, a request that names none is BadInput (`required`) or stays unchosen (`/portal/me`).
        A clinic that is not one of theirs is NotFound, as any resource of someone else."""
        if clinic_id:
            chosen = next((m for m in self.memberships if m.clinic_id == clinic_id), None)
            if chosen is None:
                raise NotFound(UNKNOWN_CLINIC)
        elif len(self.memberships) == 1:
            chosen = self.memberships[0]
        elif required:
            raise BadInput(CHOOSE_A_CLINIC)
        else:
            return replace(self, clinic_id="", patient_id="")
        return replace(self, clinic_id=chosen.clinic_id, patient_id=chosen.patient_id)

    def is_expired(self, at: float | None = None) -> bool:
        """API Gateway caches an authorizer's answer for minutes; the token may expire inside that window."""
        return (at if at is not None else now()) >= self.expires_at


@dataclass(frozen=True)
class UserPool:
    """One of the deployment's user pools, and the only role its tokens can carry."""

    role: Role
    pool_id: str
    client_id: str
    issuer: str
    jwks_url: str


def user_pools() -> tuple[UserPool, UserPool]:
    """The patients' pool and the staff pool of the bound deployment."""
    settings = config.current()
    return (
        UserPool(Role.PATIENT, settings.user_pool_id, settings.app_client_id, settings.issuer, settings.jwks_url),
        UserPool(
            Role.STAFF,
            settings.staff_user_pool_id,
            settings.staff_app_client_id,
            settings.staff_issuer,
            settings.staff_jwks_url,
        ),
    )


def user_pool(role: Role) -> UserPool:
    return next(pool for pool in user_pools() if pool.role is role)


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)


def forget_keys() -> None:
    """A new binding may be other user pools: fetch their keys on the next token."""
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


def verify_id_token(header: str | None, pool: UserPool | None = None) -> Identity:
    """The verified caller. `pool` insists on one pool; by default the token's `iss` picks it
    (unverified, only to choose which pool's keys, issuer and client the token must match)."""
    token = bearer_token(header)
    try:
        pool = pool or _pool_named_by(token)
        signing_key = _jwks_client(pool.jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            audience=pool.client_id,
            issuer=pool.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(type(error).__name__) from None
    if claims.get("token_use") != "id":
        raise InvalidToken("not an ID token")
    identity = _identity(claims, pool)
    if identity.is_expired():
        raise InvalidToken("too old")
    return identity


def _pool_named_by(token: str) -> UserPool:
    issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    for pool in user_pools():
        if pool.issuer and issuer == pool.issuer:
            return pool
    raise InvalidToken("unknown issuer")


def _identity(claims: dict, pool: UserPool) -> Identity:
    """Staff: their clinic from the token. A patient: the membership a login made before
    memberships were data carries (`custom:clinic_id`, `custom:patient_id`, immutable), only as
    the fallback `memberships.resolve` uses for a login not yet migrated."""
    clinic_id = str(claims.get("custom:clinic_id") or "")
    patient_id = str(claims.get("custom:patient_id") or "")
    groups = claims.get("cognito:groups") or []
    role = Role.NONE
    legacy: tuple[Membership, ...] = ()
    if pool.role is Role.STAFF and STAFF_GROUP in groups and clinic_id:
        role = Role.STAFF
    elif pool.role is Role.PATIENT:
        role = Role.PATIENT
        legacy = (Membership(clinic_id, patient_id),) if clinic_id and patient_id else ()
    return Identity(
        subject=str(claims["sub"]),
        # The email reads better than Cognito's generated username in audit attributes.
        username=str(claims.get("email") or claims.get("cognito:username") or claims["sub"]),
        role=role,
        clinic_id=clinic_id if role is Role.STAFF else "",
        patient_id="",
        expires_at=min(int(claims["exp"]), int(claims["iat"]) + MAX_TOKEN_AGE_SECONDS),
        memberships=legacy,
    )


class Unauthorized(Exception):
    """Raised by the authorizer: API Gateway answers 401 when a token authorizer fails with
    exactly the message "Unauthorized" (the local gateway in `local/gateway.py` does the same)."""

    def __init__(self):
        super().__init__("Unauthorized")
