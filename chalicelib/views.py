"""The JSON shapes of the contract (Visit, ClinicVisit, settings, ...), from the services' results."""

from datetime import datetime

from chalicelib import rules, times
from chalicelib.domain import ClinicContext, PatientPage, PatientProfile, Schedule, ScheduledVisit
from chalicelib.models import Clinic, Patient


def visit_view(visit: ScheduledVisit, now: datetime) -> dict:
    state, item, clinic = visit.state, visit.item, visit.clinic
    day, start_time = times.utc_to_local(state.starts_at, clinic.tz)
    return {
        "id": item.visit_id,
        "date": day,
        "start_time": start_time,
        "provider": item.provider or "",
        "location": item.location or "",
        "status": rules.visit_status(state, clinic.policy).value,
        "actions": [action.value for action in rules.available_actions(state, clinic.policy, now)],
        "responded_at": item.responded_at if state.response else None,
    }


def answer_view(visit: ScheduledVisit, now: datetime, with_notice: bool) -> dict:
    """The visit after the patient's answer; a cancellation also carries the clinic's notice."""
    view = visit_view(visit, now)
    if with_notice:
        view["notice"] = visit.clinic.cancel_notice
    return view


def clinic_visit_view(visit: ScheduledVisit, now: datetime) -> dict:
    state, item = visit.state, visit.item
    view = visit_view(visit, now)
    view.update(
        patient_id=item.patient_id,
        patient_name=item.patient_name or "",
        session_class=item.session_class or "",
        completed=state.completed,
        duration_minutes=_whole_minutes(item.duration_minutes),
        patient_response=state.response.value if state.response else None,
        cancel_reason=item.cancel_reason if state.response is rules.PatientResponse.CANCELLED else None,
    )
    return view


def _whole_minutes(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def schedule_view(schedule: Schedule, now: datetime, view=visit_view) -> dict:
    return {
        "from": schedule.first_day.isoformat(),
        "to": schedule.last_day.isoformat(),
        "timezone": schedule.clinic.tz.key,
        "sessions": [view(visit, now) for visit in schedule.visits],
    }


def clinic_schedule_view(schedule: Schedule, now: datetime) -> dict:
    """One page of the clinic's visits; `next_cursor` continues it (null on the last page)."""
    return {**schedule_view(schedule, now, view=clinic_visit_view), "next_cursor": schedule.next_cursor}


def settings_view(clinic: ClinicContext) -> dict:
    item: Clinic = clinic.clinic
    return {
        "name": item.name,
        "timezone": item.timezone,
        "phone": item.phone or "",
        "admin_email": item.admin_email or "",
        "patient_cancel_enabled": clinic.policy.patient_cancel_enabled,
        "cancel_cutoff_hours": clinic.policy.cancel_cutoff_hours,
        "cancel_notice": clinic.cancel_notice,
        "session_classes": [{"name": c.name, "cancelled": bool(c.cancelled)} for c in item.session_classes or []],
    }


def me_view(profile: PatientProfile) -> dict:
    settings = settings_view(profile.clinic)
    return {
        "patient": {"id": profile.patient.patient_id, "name": profile.patient.name},
        "clinic": {
            "id": profile.clinic.clinic.clinic_id,
            "name": settings["name"],
            "timezone": settings["timezone"],
            "phone": settings["phone"],
            "patient_cancel_enabled": settings["patient_cancel_enabled"],
            "cancel_cutoff_hours": settings["cancel_cutoff_hours"],
        },
    }


def patient_view(patient: Patient) -> dict:
    return {"id": patient.patient_id, "name": patient.name, "email": patient.email}


def patient_page_view(page: PatientPage) -> dict:
    return {"patients": [patient_view(p) for p in page.patients], "next_cursor": page.next_cursor}
