"""Stored items turned into the JSON shapes of the contract (Visit, ClinicVisit, settings...)."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalicelib import rules
from chalicelib.errors import BadInput
from chalicelib.inputs import MAX_CUTOFF_HOURS
from chalicelib.logs import logger
from chalicelib.models import Clinic, Patient, Visit


@dataclass(frozen=True)
class ClinicContext:
    """A clinic item read once per request, with what every visit view needs from it."""

    clinic: Clinic
    tz: ZoneInfo
    policy: rules.ClinicPolicy

    @classmethod
    def of(cls, clinic: Clinic) -> "ClinicContext":
        try:
            tz = rules.parse_timezone(clinic.timezone)
        except BadInput:
            # A time zone mistyped in the console must not take the portal down.
            logger.error(
                "Clinic has an unknown time zone; showing UTC",
                extra={"clinic_id": clinic.clinic_id, "timezone": clinic.timezone},
            )
            tz = ZoneInfo("UTC")
        classes = [(c.name, bool(c.cancelled)) for c in clinic.session_classes or [] if c.name]
        policy = rules.ClinicPolicy(
            cancelled_classes=rules.cancelled_class_names(classes),
            patient_cancel_enabled=bool(clinic.patient_cancel_enabled),
            cancel_cutoff_hours=_whole_hours(clinic.cancel_cutoff_hours),
        )
        return cls(clinic, tz, policy)

    @property
    def cancel_notice(self) -> str:
        return (self.clinic.cancel_notice or "").strip() or rules.DEFAULT_CANCEL_NOTICE

    def today(self, now: datetime):
        return rules.today_in(self.tz, now)


def _whole_hours(value) -> int:
    try:
        return min(max(int(value or 0), 0), MAX_CUTOFF_HOURS)
    except (TypeError, ValueError):
        return 0


def visit_state(visit: Visit) -> rules.VisitState | None:
    """None when the item was edited into something that cannot be read (logged)."""
    try:
        starts_at = rules.parse_instant(visit.starts_at)
    except (TypeError, ValueError, AttributeError):
        logger.error(
            "Visit has an unreadable starts_at; left out",
            extra={"visit_id": visit.visit_id, "starts_at": visit.starts_at},
        )
        return None
    return rules.VisitState(
        starts_at=starts_at,
        session_class=visit.session_class or "",
        completed=bool(visit.completed),
        response=rules.PatientResponse.from_stored(visit.patient_response),
    )


def visit_view(visit: Visit, state: rules.VisitState, context: ClinicContext, now: datetime) -> dict:
    day, start_time = rules.utc_to_local(state.starts_at, context.tz)
    return {
        "id": visit.visit_id,
        "date": day,
        "start_time": start_time,
        "provider": visit.provider or "",
        "location": visit.location or "",
        "status": rules.visit_status(state, context.policy).value,
        "actions": [action.value for action in rules.available_actions(state, context.policy, now)],
        "responded_at": visit.responded_at if state.response else None,
    }


def clinic_visit_view(visit: Visit, state: rules.VisitState, context: ClinicContext, now: datetime) -> dict:
    view = visit_view(visit, state, context, now)
    view.update(
        patient_id=visit.patient_id,
        patient_name=visit.patient_name or "",
        session_class=visit.session_class or "",
        completed=state.completed,
        duration_minutes=_whole_minutes(visit.duration_minutes),
        patient_response=state.response.value if state.response else None,
        cancel_reason=visit.cancel_reason if state.response is rules.PatientResponse.CANCELLED else None,
    )
    return view


def _whole_minutes(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def schedule_view(context: ClinicContext, dates: tuple[date, date], visits, now: datetime, view=visit_view) -> dict:
    """A date range of visits, by start. Items edited into something unreadable are skipped (and logged)."""
    rows = []
    for visit in visits:
        state = visit_state(visit)
        if state is not None:
            rows.append((state.starts_at, view(visit, state, context, now)))
    rows.sort(key=lambda row: (row[0], row[1]["id"]))
    start, end = dates
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": context.tz.key,
        "sessions": [row for _, row in rows],
    }


def settings_view(clinic: Clinic) -> dict:
    context = ClinicContext.of(clinic)
    return {
        "name": clinic.name,
        "timezone": clinic.timezone,
        "phone": clinic.phone or "",
        "admin_email": clinic.admin_email or "",
        "patient_cancel_enabled": context.policy.patient_cancel_enabled,
        "cancel_cutoff_hours": context.policy.cancel_cutoff_hours,
        "cancel_notice": context.cancel_notice,
        "session_classes": [{"name": c.name, "cancelled": bool(c.cancelled)} for c in clinic.session_classes or []],
    }


def me_view(patient: Patient, clinic: Clinic) -> dict:
    settings = settings_view(clinic)
    return {
        "patient": {"id": patient.patient_id, "name": patient.name},
        "clinic": {
            "id": clinic.clinic_id,
            "name": settings["name"],
            "timezone": settings["timezone"],
            "phone": settings["phone"],
            "patient_cancel_enabled": settings["patient_cancel_enabled"],
            "cancel_cutoff_hours": settings["cancel_cutoff_hours"],
        },
    }


def patient_view(patient: Patient) -> dict:
    return {"id": patient.patient_id, "name": patient.name, "email": patient.email}
