"""The JSON shapes of the contract (Visit, ClinicVisit, settings, ...), from the services' results."""

from datetime import datetime

from chalicelib import rules, times
from chalicelib.domain import ClinicContext, ClinicSettings, PatientProfile, Schedule, ScheduledVisit, responded_at
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
        "responded_at": responded_at(item) if state.response else None,
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


def settings_view(settings: ClinicSettings) -> dict:
    """The staff's settings page: the settings as the portal applies them, and the emails kept unsent."""
    return dict(_settings(settings.clinic), undelivered_emails=settings.undelivered_emails)


def _settings(clinic: ClinicContext) -> dict:
    item: Clinic = clinic.clinic
    return {
        "name": clinic.name,
        "timezone": clinic.tz.key,
        "phone": item.phone or "",
        "admin_email": item.admin_email or "",
        "patient_cancel_enabled": clinic.policy.patient_cancel_enabled,
        "cancel_cutoff_hours": clinic.policy.cancel_cutoff_hours,
        "cancel_notice": clinic.cancel_notice,
        "session_classes": [{"name": name, "cancelled": cancelled} for name, cancelled in clinic.classes],
    }


def me_view(profile: PatientProfile) -> dict:
    settings = _settings(profile.clinic)
    return {
        "patient": {"id": profile.patient.patient_id, "name": profile.patient.name or ""},
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
    return {"id": patient.patient_id, "name": patient.name or "", "email": patient.email or ""}
