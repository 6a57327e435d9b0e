"""Demo data for local mode only: Demo Family Therapy with a staff login and two patients with
visits in every status, and Northside Counseling with its own staff login; Riley Brooks is a
patient of both (one login, two memberships). Dated relative to today. Written directly as the clinic's own records, so
seeding sends no email. Reminders are on (48 and 2 hours before, no quiet hours, so the demo
works at any hour), and one of Alex's visits starts a little over two hours from now: its
reminder goes out within two minutes of `make run` starting.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib import rules, scheduling, times
from chalicelib.models import Patient
from local import records

CLINIC_ID = "demo-clinic"
CLINIC_NAME = "Demo Family Therapy"
CLINIC_PHONE = "(555) 010-2040"
TIMEZONE = "America/New_York"
STAFF_LOGIN = ("staff@demo-clinic.example", "Demo-Staff-2026!")
PATIENT_PASSWORD = "Demo-Patient-2026!"
ALEX = ("pat_demo_alex", "Alex Rivera", "alex@demo-clinic.example")
SAM = ("pat_demo_sam", "Sam Chen", "sam@demo-clinic.example")
# Riley is a patient of both clinics: one login, a patient id at each.
RILEY_EMAIL = "riley@demo-clinic.example"
RILEY = ("pat_demo_riley", "Riley Brooks", RILEY_EMAIL)
NORTHSIDE_ID = "northside"
NORTHSIDE_NAME = "Northside Counseling"
NORTHSIDE_PHONE = "(555) 010-3300"
NORTHSIDE_TIMEZONE = "America/Chicago"
NORTHSIDE_STAFF_LOGIN = ("staff@northside.example", "Demo-Staff-2026!")
NORTHSIDE_RILEY = ("pat_north_riley", "Riley Brooks", RILEY_EMAIL)

INDIVIDUAL, FAMILY = "Individual therapy", "Family therapy"
CANCELLED_BY_CLIENT, CANCELLED_BY_CLINIC = "Cancelled by client", "Cancelled by clinic"
PATEL, LEE = "Dr. Maya Patel", "Jordan Lee, LMFT"
MAIN_ST, TELEHEALTH = "Room 2, 120 Main St", "Telehealth (video)"
OKAFOR, LAKE_ST = "Dr. Ada Okafor", "Suite 300, 45 Lake St"

REMINDERS = {"enabled": True, "hours_before": [48, 2], "quiet_hours": {"start": "00:00", "end": "00:00"}}
# The visit whose 2-hour reminder falls due soon after the demo starts: it starts this long from now.
SOON = timedelta(hours=2, minutes=2)

# (patient, days from today, local start, class, provider, location, completed, response, reason)
VISITS = [
    (ALEX, -14, "10:00", INDIVIDUAL, PATEL, MAIN_ST, True, None, None),
    (ALEX, -7, "10:00", CANCELLED_BY_CLINIC, PATEL, MAIN_ST, False, None, None),
    (ALEX, 2, "09:00", INDIVIDUAL, PATEL, MAIN_ST, False, None, None),
    (ALEX, 5, "14:00", FAMILY, LEE, TELEHEALTH, False, rules.PatientResponse.CONFIRMED, None),
    (ALEX, 9, "09:00", INDIVIDUAL, PATEL, MAIN_ST, False, None, None),
    (ALEX, 12, "11:30", FAMILY, LEE, MAIN_ST, False, rules.PatientResponse.CANCELLED, "Family trip that week."),
    (ALEX, 16, "09:00", INDIVIDUAL, PATEL, TELEHEALTH, False, None, None),
    (ALEX, 23, "09:00", INDIVIDUAL, PATEL, MAIN_ST, False, None, None),
    (SAM, 3, "15:00", INDIVIDUAL, LEE, MAIN_ST, False, None, None),
    (SAM, 10, "15:00", INDIVIDUAL, LEE, MAIN_ST, False, None, None),
    (SAM, 17, "15:00", FAMILY, LEE, TELEHEALTH, False, None, None),
    (RILEY, 4, "16:00", INDIVIDUAL, PATEL, MAIN_ST, False, None, None),
    (RILEY, 11, "16:00", INDIVIDUAL, PATEL, TELEHEALTH, False, None, None),
]
# Riley's visits at Northside Counseling (its own clinic, time zone and numbering).
NORTHSIDE_VISITS = [
    (NORTHSIDE_RILEY, 6, "10:00", INDIVIDUAL, OKAFOR, LAKE_ST, False, None, None),
    (NORTHSIDE_RILEY, 13, "10:00", FAMILY, OKAFOR, LAKE_ST, False, None, None),
    (NORTHSIDE_RILEY, 20, "10:00", INDIVIDUAL, OKAFOR, TELEHEALTH, False, None, None),
]


def seed(now: datetime = None) -> dict[str, str]:
    """Seeds the demo; returns each staff login's TOTP secret (its authenticator is set up), in the
    contract's order: staff@demo-clinic, then staff@northside."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(TIMEZONE)
    today = now.astimezone(tz).date()
    records.clinic(
        CLINIC_ID,
        name=CLINIC_NAME,
        timezone=TIMEZONE,
        phone=CLINIC_PHONE,
        admin_email="frontdesk@demo-clinic.example",
        reminders=scheduling.reminder_settings(REMINDERS),
    ).save()
    records.clinic(
        NORTHSIDE_ID,
        name=NORTHSIDE_NAME,
        timezone=NORTHSIDE_TIMEZONE,
        phone=NORTHSIDE_PHONE,
        admin_email="office@northside.example",
    ).save()
    staff_secrets = {STAFF_LOGIN[0]: records.staff_login(STAFF_LOGIN[0], CLINIC_ID, STAFF_LOGIN[1])}
    staff_secrets[NORTHSIDE_STAFF_LOGIN[0]] = records.staff_login(
        NORTHSIDE_STAFF_LOGIN[0], NORTHSIDE_ID, NORTHSIDE_STAFF_LOGIN[1]
    )
    for clinic_id, (patient_id, name, email) in (
        (CLINIC_ID, ALEX),
        (CLINIC_ID, SAM),
        (CLINIC_ID, RILEY),
        (NORTHSIDE_ID, NORTHSIDE_RILEY),
    ):
        user_id = records.patient_login(email, clinic_id, patient_id, PATIENT_PASSWORD, now)
        Patient(
            patient_id,
            clinic_id=clinic_id,
            name=name,
            email=email,
            created_at=times.format_instant(now),
            user_id=user_id,
        ).save()
    _seed_visits(VISITS, CLINIC_ID, "vis_demo", tz, today, now)
    _seed_visits(NORTHSIDE_VISITS, NORTHSIDE_ID, "vis_north", ZoneInfo(NORTHSIDE_TIMEZONE), today, now)
    soon = (now + SOON).replace(second=0, microsecond=0)  # its reminder: due 1 to 2 minutes from now
    records.visit(
        ALEX[0], f"vis_demo_{len(VISITS) + 1:02d}", clinic_id=CLINIC_ID, patient_name=ALEX[1], starts_at=soon, now=now,
        provider=PATEL, location=MAIN_ST, session_class=INDIVIDUAL,
    ).save()  # fmt: skip
    return staff_secrets


def _seed_visits(visits: list, clinic_id: str, prefix: str, tz: ZoneInfo, today: date, now: datetime) -> None:
    for number, (patient, days, start, session_class, provider, location, completed, response, reason) in enumerate(
        visits, start=1
    ):
        patient_id, name, _ = patient
        records.visit(
            patient_id,
            f"{prefix}_{number:02d}",
            clinic_id=clinic_id,
            patient_name=name,
            starts_at=times.local_to_utc(today + timedelta(days=days), time.fromisoformat(start), tz),
            now=now,
            provider=provider,
            location=location,
            session_class=session_class,
            completed=completed,
            response=response.value if response else None,
            reason=reason,
        ).save()
