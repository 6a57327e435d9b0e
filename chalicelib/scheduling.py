"""Visits, patients and clinic settings in DynamoDB: the queries and the conditional writes.

Every state change is a conditional write that re-asserts, at the moment of the write, what
the rules decided on: a race with staff (completing, cancelling, moving the visit) or with
the patient's other tab makes the write fail instead of recording an answer the rules
forbid. Patient requests cost two DynamoDB round trips: one transactional read of the
clinic and the visit, one conditional write; a third read only after a lost race.
"""

import secrets
from datetime import date, datetime, timedelta
from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import accounts, config, inputs, rules
from chalicelib.auth import Identity
from chalicelib.errors import BadInput, Conflict, NotFound
from chalicelib.models import Clinic, Patient, SessionClass, Visit
from chalicelib.views import ClinicContext, visit_state

PATIENT_ACTOR = "patient"
_CONDITION_FAILED = "ConditionalCheckFailedException"


@lru_cache(maxsize=1)
def _connection() -> Connection:
    """Transactions need a connection of their own (pointed at the emulator locally)."""
    return Connection(region=config.region(), host=config.aws_endpoint())


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _failed_condition(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == _CONDITION_FAILED


# --- Reads -----------------------------------------------------------------------------


def clinic_context(clinic_id: str) -> ClinicContext:
    try:
        return ClinicContext.of(Clinic.get(clinic_id, consistent_read=True))
    except DoesNotExist:
        raise NotFound("Unknown clinic.") from None


def _clinic_and(identity: Identity, model, *key) -> tuple[ClinicContext, object | None]:
    """The caller's clinic and one more item of theirs, in a single round trip."""
    with TransactGet(connection=_connection()) as reads:
        clinic_future = reads.get(Clinic, identity.clinic_id)
        item_future = reads.get(model, *key)
    try:
        context = ClinicContext.of(clinic_future.get())
    except DoesNotExist:
        raise NotFound("Unknown clinic.") from None
    try:
        item = item_future.get()
    except DoesNotExist:
        item = None
    if item is not None and getattr(item, "clinic_id", None) != identity.clinic_id:
        item = None  # another clinic's item reads exactly like a missing one
    return context, item


def patient_and_clinic(identity: Identity) -> tuple[Patient, Clinic]:
    context, patient = _clinic_and(identity, Patient, identity.patient_id)
    if patient is None:
        raise NotFound("Unknown patient.")
    return patient, context.clinic


def patient_visits(
    identity: Identity, from_value: str | None, to_value: str | None, now: datetime
) -> tuple[ClinicContext, tuple[date, date], list[Visit]]:
    """One Query on the patient's own partition, bounded by the range: nothing read is thrown away."""
    context, dates, starts_between = _date_range(identity, from_value, to_value, now)
    visits = Visit.by_start.query(identity.patient_id, starts_between, consistent_read=True)
    return context, dates, [v for v in visits if v.clinic_id == identity.clinic_id]


def clinic_visits(
    identity: Identity, from_value: str | None, to_value: str | None, now: datetime
) -> tuple[ClinicContext, tuple[date, date], list[Visit]]:
    context, dates, starts_between = _date_range(identity, from_value, to_value, now)
    return context, dates, list(Visit.by_clinic_start.query(identity.clinic_id, starts_between))


def _date_range(identity: Identity, from_value: str | None, to_value: str | None, now: datetime):
    """The caller's clinic, the requested days (its "today" by default) and the matching key condition."""
    context = clinic_context(identity.clinic_id)
    start, end = rules.date_range(from_value, to_value, context.today(now))
    first, last = rules.range_bounds_utc(start, end, context.tz)
    return context, (start, end), Visit.starts_at.between(rules.format_instant(first), rules.format_instant(last))


def _patient_visit(identity: Identity, visit_id: str) -> tuple[ClinicContext, Visit, rules.VisitState]:
    context, visit = _clinic_and(identity, Visit, identity.patient_id, visit_id)
    state = visit_state(visit) if visit is not None else None
    if state is None:
        raise NotFound("Unknown visit.")
    return context, visit, state


# --- Patient answers -------------------------------------------------------------------


def respond(
    identity: Identity, visit_id: str, request: inputs.ResponseRequest, now: datetime
) -> tuple[ClinicContext, Visit, rules.VisitState]:
    context, visit, state = _patient_visit(identity, visit_id)
    if not rules.check_can_respond(state, context.policy, now, request.response):
        return context, visit, state  # the same answer again: nothing changes, no email
    actions = [
        Visit.patient_response.set(request.response.value),
        Visit.responded_at.set(rules.format_instant(now)),
        # inputs.response_request only lets a reason come with a cancellation.
        Visit.cancel_reason.set(request.reason) if request.reason else Visit.cancel_reason.remove(),
    ] + _patient_change(now)
    return _write_patient_change(
        identity,
        context,
        visit,
        state,
        now,
        actions,
        decide=lambda fresh: rules.check_can_respond(fresh, context.policy, now, request.response),
    )


def clear_response(identity: Identity, visit_id: str, now: datetime) -> tuple[ClinicContext, Visit, rules.VisitState]:
    context, visit, state = _patient_visit(identity, visit_id)
    if not rules.check_can_clear(state, context.policy, now):
        return context, visit, state
    actions = [
        Visit.patient_response.remove(),
        Visit.responded_at.remove(),
        Visit.cancel_reason.remove(),
    ] + _patient_change(now)
    return _write_patient_change(
        identity,
        context,
        visit,
        state,
        now,
        actions,
        decide=lambda fresh: rules.check_can_clear(fresh, context.policy, now),
    )


def _patient_change(now: datetime) -> list:
    stamp = rules.format_instant(now)
    return [
        Visit.response_changed_by.set(PATIENT_ACTOR),
        Visit.response_changed_at.set(stamp),
        Visit.response_change_id.set(new_id("chg")),
        Visit.updated_at.set(stamp),
    ]


def _still_as_read(visit: Visit, context: ClinicContext, now: datetime):
    """The rules' decision holds only while the visit is as read and still open."""
    condition = (Visit.clinic_id == visit.clinic_id) & (Visit.starts_at == visit.starts_at)
    condition &= Visit.starts_at > rules.format_instant(now + timedelta(hours=context.policy.cancel_cutoff_hours))
    condition &= ~(Visit.completed == True)  # noqa: E712 (a DynamoDB condition, not a Python test)
    if visit.patient_response is None:
        condition &= Visit.patient_response.does_not_exist()
    else:
        condition &= Visit.patient_response == visit.patient_response
    if context.policy.cancelled_classes:
        condition &= ~Visit.session_class.is_in(*sorted(context.policy.cancelled_classes))
    return condition


def _write_patient_change(identity, context, visit, state, now, actions, decide):
    try:
        visit.update(actions=actions, condition=_still_as_read(visit, context, now))
    except UpdateError as error:
        if not _failed_condition(error):
            raise
        return _after_lost_race(identity, context, visit.visit_id, now, decide)
    return context, visit, visit_state(visit)


def _after_lost_race(identity, context, visit_id, now, decide):
    """Someone changed the visit between our read and our write: answer from what is there now."""
    try:
        fresh = Visit.get(identity.patient_id, visit_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("Unknown visit.") from None
    state = visit_state(fresh)
    if state is None or fresh.clinic_id != identity.clinic_id:
        raise NotFound("Unknown visit.")
    if decide(state):  # raises NotOpen / Conflict / Forbidden for a visit that moved on
        raise Conflict("This visit changed while you were answering. Please reload and try again.")
    return context, fresh, state


# --- Clinic settings -------------------------------------------------------------------


def update_settings(identity: Identity, patch: dict) -> Clinic:
    clinic = clinic_context(identity.clinic_id).clinic
    actions = []
    for field, value in patch.items():
        if field == "session_classes":
            _check_classes_removable(identity.clinic_id, clinic, {name for name, _ in value})
            value = [SessionClass(name=name, cancelled=cancelled) for name, cancelled in value]
        actions.append(getattr(Clinic, field).set(value))
    try:
        clinic.update(actions=actions)  # the version attribute makes this conditional
    except UpdateError as error:
        if _failed_condition(error):
            raise Conflict("The settings were changed by someone else meanwhile. Reload and try again.") from None
        raise
    return clinic


def _check_classes_removable(clinic_id: str, clinic: Clinic, kept: set) -> None:
    for session_class in clinic.session_classes or []:
        if session_class.name in kept:
            continue
        in_use = Visit.by_clinic_class.query(clinic_id, Visit.session_class == session_class.name, limit=1)
        if next(iter(in_use), None) is not None:
            raise Conflict(
                f'The session class "{session_class.name}" is still used by visits; move them to another class first.'
            )


# --- Patients --------------------------------------------------------------------------


def create_patient(identity: Identity, name: str, email: str, now: datetime) -> Patient:
    clinic_context(identity.clinic_id)
    patient = Patient(
        new_id("pat"), clinic_id=identity.clinic_id, name=name, email=email, created_at=rules.format_instant(now)
    )
    accounts.invite_patient(email, identity.clinic_id, patient.patient_id)
    try:
        patient.save(condition=Patient.patient_id.does_not_exist())
    except PutError:
        accounts.remove_login(email)
        raise
    return patient


def clinic_patients(identity: Identity) -> list[Patient]:
    return list(Patient.by_clinic.query(identity.clinic_id))


# --- Visits, for staff -----------------------------------------------------------------


def create_visit(identity: Identity, fields: dict, now: datetime) -> tuple[ClinicContext, Visit]:
    context, patient = _clinic_and(identity, Patient, fields["patient_id"])
    if patient is None:
        raise NotFound("Unknown patient.")
    _check_known_class(context, fields["session_class"])
    starts_at = rules.local_to_utc(fields["date"], fields["start_time"], context.tz)
    stamp = rules.format_instant(now)
    visit = Visit(
        patient.patient_id,
        new_id("vis"),
        clinic_id=identity.clinic_id,
        patient_name=patient.name,
        starts_at=rules.format_instant(starts_at),
        duration_minutes=fields["duration_minutes"],
        provider=fields["provider"],
        location=fields["location"],
        session_class=fields["session_class"],
        completed=False,
        created_at=stamp,
        updated_at=stamp,
    )
    try:
        with TransactWrite(connection=_connection()) as write:
            # The class was checked against these settings; they must not change underneath.
            write.condition_check(Clinic, identity.clinic_id, condition=Clinic.version == context.clinic.version)
            write.save(visit, condition=Visit.visit_id.does_not_exist())
    except TransactWriteError:
        raise Conflict("The clinic settings changed meanwhile. Please try again.") from None
    return context, visit


def _check_known_class(context: ClinicContext, name: str) -> None:
    if name not in {c.name for c in context.clinic.session_classes or []}:
        raise BadInput(f'Unknown session class "{name}".')


def _staff_visit(identity: Identity, visit_id: str) -> tuple[ClinicContext, Visit]:
    # The index is only used to find the partition; the item itself is read consistently.
    for key in Visit.by_visit_id.query(visit_id, limit=1):
        context, visit = _clinic_and(identity, Visit, key.patient_id, visit_id)
        if visit is not None:
            return context, visit
    raise NotFound("Unknown visit.")


def update_visit(identity: Identity, visit_id: str, patch: dict, now: datetime) -> tuple[ClinicContext, Visit]:
    context, visit = _staff_visit(identity, visit_id)
    state = visit_state(visit)
    if state is None:
        raise Conflict("This visit's start time cannot be read; fix starts_at in the console first.")
    stamp = rules.format_instant(now)
    actions = [Visit.updated_at.set(stamp)]
    condition = (Visit.clinic_id == identity.clinic_id) & (Visit.starts_at == visit.starts_at)

    new_start = state.starts_at
    if "date" in patch or "start_time" in patch:
        local_day, local_time = rules.utc_to_local(state.starts_at, context.tz)
        new_start = rules.local_to_utc(
            patch.get("date") or rules.parse_date(local_day, "date"),
            patch.get("start_time") or rules.parse_clock_time(local_time),
            context.tz,
        )
    if new_start != state.starts_at:
        # Any answer was for the old time; the new time needs a new one. Cleared even when
        # none was read: the patient's answer may land between our read and this write.
        actions += [
            Visit.starts_at.set(rules.format_instant(new_start)),
            Visit.patient_response.remove(),
            Visit.responded_at.remove(),
            Visit.cancel_reason.remove(),
            Visit.response_changed_by.set(f"staff:{identity.username}"),
            Visit.response_changed_at.set(stamp),
            Visit.response_change_id.set(new_id("chg")),
        ]
    if patch.get("completed") is True and new_start > now:
        raise Conflict("A visit cannot be completed before it has started.")
    if "session_class" in patch:
        _check_known_class(context, patch["session_class"])
    for field in ("session_class", "completed", "duration_minutes", "provider", "location"):
        if field in patch:
            actions.append(getattr(Visit, field).set(patch[field]))
    try:
        visit.update(actions=actions, condition=condition)
    except UpdateError as error:
        if _failed_condition(error):
            raise Conflict("This visit was changed by someone else meanwhile. Reload and try again.") from None
        raise
    return context, visit
