"""The JSON shapes of the contract (Visit, ClinicVisit, settings, ...), from the services' results."""

from datetime import datetime

from chalicelib import history, rules, times
from chalicelib.domain import (
    PATIENT_ACTOR,
    REMINDER_LINK_ACTOR,
    ClinicContext,
    ClinicSettings,
    PatientPage,
    PatientProfile,
    PersonsClinics,
    Schedule,
    ScheduledVisit,
    VisitHistory,
    email_status_of,
    language_of,
    responded_at,
)
from chalicelib.models import Clinic, HistoryEvent, Patient


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


def clinic_schedule_view(schedule: Schedule, now: datetime) -> dict:
    """One page of the clinic's visits; `next_cursor` continues it (null on the last page)."""
    return {**schedule_view(schedule, now, view=clinic_visit_view), "next_cursor": schedule.next_cursor}


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
        "reminders": _reminders(clinic.reminder_policy),
    }


def _reminders(policy: rules.ReminderPolicy) -> dict:
    return {
        "enabled": policy.enabled,
        "hours_before": list(policy.hours_before),
        "quiet_hours": {
            "start": policy.quiet_hours.start.strftime("%H:%M"),
            "end": policy.quiet_hours.end.strftime("%H:%M"),
        },
        "show_provider": policy.show_provider,
    }


def preferences_view(patient: Patient) -> dict:
    return {"email_reminders": bool(patient.email_reminders), "language": language_of(patient)}


def me_view(person: PersonsClinics) -> dict:
    """The chosen clinic and the patient there (both null while a person of several clinics has not
    chosen one), and every clinic of theirs."""
    clinics = [{"id": clinic_id, "name": name} for clinic_id, name in person.clinics]
    if person.chosen is None:
        return {"patient": None, "clinic": None, "clinics": clinics}
    return {**_profile_view(person.chosen), "clinics": clinics}


def _profile_view(profile: PatientProfile) -> dict:
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


# --- Visit history ---------------------------------------------------------------------

# A patient reads "you" for what they did (in the portal or through a reminder's link) and
# "clinic" for everything else: staff, the service, edits in the console.
_THE_PATIENT = frozenset({PATIENT_ACTOR, REMINDER_LINK_ACTOR})


def staff_history_view(visit_history: VisitHistory) -> dict:
    """Everything: who exactly, and every field that changed (a start as date and time at the clinic)."""
    tz = visit_history.clinic.tz
    events = []
    for event in visit_history.events:
        view = {"at": event.at, "by": event.by, "what": event.what, "changes": _changes_at_the_clinic(event, tz)}
        if event.reason:
            view["reason"] = event.reason
        events.append(view)
    return {"events": events}


def patient_history_view(visit_history: VisitHistory) -> dict:
    """What the patient may see: you or the clinic, a move's old and new date and time, their own reason."""
    tz = visit_history.clinic.tz
    events = []
    for event in visit_history.events:
        by = "you" if event.by in _THE_PATIENT else "clinic"
        changes = _changes_at_the_clinic(event, tz) if event.what == history.MOVED else {}
        view = {"at": event.at, "by": by, "what": event.what, "changes": _only_when(changes)}
        if by == "you" and event.reason:
            view["reason"] = event.reason
        events.append(view)
    return {"events": events}


def _only_when(changes: dict) -> dict:
    return {field: changes[field] for field in ("date", "start_time") if field in changes}


def _changes_at_the_clinic(event: HistoryEvent, tz) -> dict:
    """The stored fields that changed, with a start shown as the API shows it: date and time at the clinic."""
    stored = event.changes.as_dict() if hasattr(event.changes, "as_dict") else {}
    changes = {}
    for field, pair in stored.items():
        before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, None)
        if field == "starts_at":
            (day_before, time_before), (day_after, time_after) = _local(before, tz), _local(after, tz)
            changes["date"], changes["start_time"] = [day_before, day_after], [time_before, time_after]
        else:
            changes[field] = [before, after]
    return changes


def _local(instant, tz) -> tuple[str | None, str | None]:
    try:
        return times.utc_to_local(times.parse_instant(instant), tz)
    except (TypeError, ValueError, AttributeError):
        return None, None


def patient_view(patient: Patient) -> dict:
    return {"id": patient.patient_id, "name": patient.name or "", "email": patient.email or ""}


def feed_view(url: str) -> dict:
    return {"url": url}


def patient_page_view(page: PatientPage) -> dict:
    return {"patients": [_listed_patient(p) for p in page.patients], "next_cursor": page.next_cursor}


def _listed_patient(patient: Patient) -> dict:
    """A patient as staff see them in the list: also whether reminders reach them."""
    return dict(
        patient_view(patient), email_status=email_status_of(patient), email_reminders=bool(patient.email_reminders)
    )
