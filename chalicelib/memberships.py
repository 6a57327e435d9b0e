"""A person's clinics: which clinics' patient a login is, as data (the memberships table).

A login belongs to a person (their email, a Cognito `sub`); each clinic that has them as a
patient holds a membership: the clinic and that clinic's patient id. The authorizer reads a
person's memberships once per token (`resolve`: one Query of their partition; API Gateway caches
the answer), and every patient request acts as the one membership it names.

Logins made before memberships were data carry one membership in their token attributes
(`custom:clinic_id`, `custom:patient_id`). Until the operations command has migrated them
(`python -m ops.admin migrate-memberships`), a login with no membership item at all is read as
that one membership. A removed membership stays as an item with `removed_at`, so a migrated or
removed login never falls back to its token attributes again.
"""

from datetime import datetime

from pynamodb.exceptions import PutError, UpdateError

from chalicelib import times
from chalicelib.auth import Identity, Role
from chalicelib.auth import Membership as Member
from chalicelib.models import Membership

_CONDITION_FAILED = "ConditionalCheckFailedException"
# API Gateway passes the authorizer's context in a few kilobytes: far more clinics than anyone has.
MAX_MEMBERSHIPS = 50


def resolve(identity: Identity) -> Identity:
    """The patient with their memberships (one consistent Query); staff as they are. A patient
    with none is left without a role: every route refuses them."""
    if identity.role is not Role.PATIENT:
        return identity
    items = list(Membership.query(identity.subject, consistent_read=True, limit=MAX_MEMBERSHIPS * 2))
    if not items:
        return identity.with_memberships(identity.memberships)  # not migrated yet: the token's own
    current = [Member(item.clinic_id, item.patient_id) for item in items if item.patient_id and not item.removed_at]
    return identity.with_memberships(current[:MAX_MEMBERSHIPS])


def new(user_id: str, clinic_id: str, patient_id: str, now: datetime) -> Membership:
    return Membership(user_id, clinic_id, patient_id=patient_id, created_at=times.format_instant(now))


def may_add():
    """A person is a clinic's patient once: a new membership only where there is none, or a removed one."""
    return Membership.user_id.does_not_exist() | Membership.removed_at.exists()


def keep(user_id: str, member: Member, now: datetime) -> bool:
    """Stores a membership a login's token attributes carry, unless the person has an item for that
    clinic already (a removed one stays removed). True when it was stored now."""
    try:
        new(user_id, member.clinic_id, member.patient_id, now).save(condition=Membership.user_id.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) == _CONDITION_FAILED:
            return False
        raise
    return True


def remove(user_id: str, clinic_id: str, patient_id: str, now: datetime) -> bool:
    """Ends that one membership (the login and the person's other clinics stay). The item stays
    with `removed_at`, so a login from before memberships were data cannot fall back to its token's
    clinic. False when it was removed already."""
    try:
        Membership(user_id, clinic_id).update(
            actions=[
                Membership.patient_id.set(patient_id),
                Membership.removed_at.set(times.format_instant(now)),
            ],
            condition=Membership.removed_at.does_not_exist()
            & (Membership.user_id.does_not_exist() | (Membership.patient_id == patient_id)),
        )
    except UpdateError as error:
        if getattr(error, "cause_response_code", None) == _CONDITION_FAILED:
            return False
        raise
    return True
