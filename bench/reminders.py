"""The reminders' figures: AWS requests to arm a visit's reminder and to send one, on the small
table and again with 100,000 visits in it. They must be the same at both sizes: a reminder is an
item keyed by the day it falls due, armed from the visit's own stream record, never searched for
among visits.

Each measurement makes BATCH new visits of the answering patient starting together, arms them
through the visits-stream consumer (records shaped as the stream delivers them) and then runs the
every-minute sweep at the moment they fall due, its cursor where the sweep a minute earlier left
it — the steady state. The emails must all reach the emulator's SES, once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import reminders, scheduling, stream_images, times
from chalicelib.models import Clinic, ReminderSweep, Visit
from local import emulator, records

BATCH = 25
LEAD_HOURS = 48
STREAM_SECONDS_BEHIND = 2  # the stream hands a record to the consumer a moment after the write


class RemindersBroken(Exception):
    """Reminders were not armed or sent as they must be (another count, a duplicate)."""


@dataclass(frozen=True)
class Bench:
    clinic_id: str
    patient: tuple[str, str, str]  # id, name, email


def turn_reminders_on(bench: Bench) -> None:
    """The bench clinic reminds 48 hours before, at any hour (no quiet hours)."""
    clinic = Clinic.get(bench.clinic_id, consistent_read=True)
    clinic.reminders = scheduling.reminder_settings(
        {"enabled": True, "hours_before": [LEAD_HOURS], "quiet_hours": {"start": "00:00", "end": "00:00"}}
    )
    clinic.save()


def measure(counter, bench: Bench, now: datetime, label: str, days_ahead: int) -> dict:
    """Arms and sends BATCH reminders for visits starting `days_ahead` days from `now`."""
    starts_at = (now + timedelta(days=days_ahead)).replace(second=0, microsecond=0)
    visits = _new_visits(bench, starts_at, now, label)
    with counter.measure() as arming:
        armed = sum(reminders.arm(_insert_record(visit, now)) for visit in visits)
    if armed != BATCH:
        raise RemindersBroken(f"{armed} reminders armed for {BATCH} new visits")

    due = starts_at - timedelta(hours=LEAD_HOURS)
    sweep_at = due + timedelta(seconds=30)
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(sweep_at - timedelta(minutes=1))).save()
    emails_before = len(emulator.sent_emails())
    with counter.measure() as sweeping:
        report = reminders.send_due(sweep_at)
    sent = len(emulator.sent_emails()) - emails_before
    if report.sent != BATCH or sent != BATCH:
        raise RemindersBroken(f"the sweep reported {report.sent} sent and SES got {sent}, for {BATCH} due")
    if reminders.send_due(sweep_at + timedelta(minutes=1)).sent or len(emulator.sent_emails()) != emails_before + BATCH:
        raise RemindersBroken("a second sweep sent a reminder again")
    return {
        f"reminder_arm_requests_{label}": round(arming.requests() / BATCH, 2),
        f"reminder_send_requests_{label}": round(sweeping.requests() / BATCH, 2),
        f"reminder_sweep_dynamodb_{label}": sweeping.requests("dynamodb"),
        f"reminder_sweep_scans_{label}": sweeping.count("Scan"),
    }


def _new_visits(bench: Bench, starts_at: datetime, now: datetime, label: str) -> list[Visit]:
    patient_id, name, _ = bench.patient
    visits = [
        records.visit(
            patient_id,
            f"vis_bench_reminded_{label}_{k:02d}",
            clinic_id=bench.clinic_id,
            patient_name=name,
            starts_at=starts_at,
            now=now,
        )
        for k in range(BATCH)
    ]
    with Visit.batch_write() as batch:
        for visit in visits:
            batch.save(visit)
    return visits


def _insert_record(visit: Visit, now: datetime) -> dict:
    """The visits-stream record of the visit's creation, as Lambda receives it."""
    seen_at = now + timedelta(seconds=STREAM_SECONDS_BEHIND)
    return {
        "eventName": stream_images.INSERT,
        "dynamodb": {
            "Keys": {"patient_id": {"S": visit.patient_id}, "visit_id": {"S": visit.visit_id}},
            "NewImage": visit.serialize(),
            "ApproximateCreationDateTime": seen_at.timestamp(),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
