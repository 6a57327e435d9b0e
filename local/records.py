"""Clinics and visits as the clinic's own records, for the demo, the benchmark and the tests.

Items are built here and written by the caller straight to the tables (no API, so no email),
stamped as the service's own (`system`). Never shipped to Lambda.
"""

import time
from datetime import UTC, datetime

import pyotp

from chalicelib import accounts, memberships, scheduling, times
from chalicelib.domain import SYSTEM_ACTOR
from chalicelib.models import Clinic, Visit

DEFAULT_PHONE = "(555) 010-2040"


def clinic(clinic_id: str, *, name: str, timezone: str, admin_email: str, **settings) -> Clinic:
    """A clinic as `scheduling.new_clinic` makes them (the default session classes...), with a phone."""
    return scheduling.new_clinic(
        clinic_id, {"name": name, "timezone": timezone, "admin_email": admin_email, "phone": DEFAULT_PHONE, **settings}
    )


def visit(
    patient_id: str,
    visit_id: str,
    *,
    clinic_id: str,
    patient_name: str,
    starts_at: datetime,
    now: datetime,
    provider: str = "Dr. Maya Patel",
    location: str = "Room 2, 120 Main St",
    session_class: str = "Individual therapy",
    duration_minutes: int = 50,
    completed: bool = False,
    response: str | None = None,
    reason: str | None = None,
) -> Visit:
    """A visit; with `response` (stored form, e.g. `CLIENT_CONFIRMED`) as if the patient had answered at `now`."""
    stamp = times.format_instant(now)
    item = Visit(
        patient_id,
        visit_id,
        clinic_id=clinic_id,
        patient_name=patient_name,
        starts_at=times.format_instant(starts_at),
        duration_minutes=duration_minutes,
        provider=provider,
        location=location,
        session_class=session_class,
        completed=completed,
        created_at=stamp,
        changed_by=SYSTEM_ACTOR,
        changed_at=stamp,
        change_id=f"chg_seed_{visit_id}",
        revision=1,
    )
    if response:
        item.patient_response = response
        item.responded_at = stamp
        item.cancel_reason = reason
    return item


def patient_login(email: str, clinic_id: str, patient_id: str, password: str, now: datetime | None = None) -> str:
    """The person's login (made if the email has none yet, with a permanent password) and their
    membership of the clinic as patient `patient_id`; the patient item is the caller's. Returns the
    login's user id."""
    now = now or datetime.now(UTC)
    login = accounts.patient_login(email)
    if login is None:
        login = accounts.invite_patient(email)
        accounts.set_permanent_password(email, password)
    memberships.new(login.user_id, clinic_id, patient_id, now).save()
    return login.user_id


def staff_login(email: str, clinic_id: str, password: str) -> str:
    """A staff login that has done its first login already: password chosen, authenticator app
    set up (through the service's own login steps, as a person would). Returns the TOTP secret,
    from which `totp_code` computes the codes its later logins need."""
    temporary = accounts.temporary_password()
    accounts.create_staff_login(email, clinic_id, temporary_password=temporary)
    challenge = accounts.log_in(email, temporary)
    challenge = accounts.set_first_password(email, challenge["session"], password)
    secret = challenge["secret_code"]
    accounts.complete_mfa_setup(email, challenge["session"], totp_code(secret))
    return secret


def totp_code(secret: str) -> str:
    """The authenticator's current code. A code is good for its 30-second step only (the emulator
    allows no drift), so one about to change is waited out instead of being sent stale."""
    if 30 - time.time() % 30 < 2:
        time.sleep(30 - time.time() % 30 + 0.1)
    return pyotp.TOTP(secret).now()
