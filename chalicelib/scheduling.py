"""Visits, patients and clinic settings in DynamoDB: the queries and the conditional writes.

Every state change is a conditional write that re-asserts, at the moment of the write, what
the rules decided on: a race with staff (completing, cancelling, moving the visit) or with
the patient's other tab makes the write fail instead of recording an answer the rules
forbid. Patient requests cost two DynamoDB round trips: one transactional read of the
clinic and the visit, one conditional write; a third read only after a lost race.

Every write of a visit carries the writer's stamp (`_stamped`): who, when, a new change id,
and one more revision (the calendar events' SEQUENCE).
"""

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import AddAction
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import accounts, aws, history, inputs, outbox, rules, times
from chalicelib.auth import Identity
from chalicelib.domain import (
    DEFAULT_SESSION_CLASSES,
    PATIENT_ACTOR,
    ClinicContext,
    ClinicSettings,
    PatientProfile,
    Schedule,
    ScheduledVisit,
    VisitHistory,
    readable_visits,
    revision_of,
    staff_actor,
    visit_state,
)
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import Clinic, Patient, SessionClass, TypedByHand, Visit, as_read

_CONDITION_FAILED = "ConditionalCheckFailedException"
# Stands for a start typed into the console that cannot be read, while staff give the visit a new one.
_UNREADABLE_START = datetime(1900, 1, 1, tzinfo=UTC)
# What staff may set on a visit as given; a new date or time is a move (`rules.decide_staff_change`).
_STAFF_FIELDS = ("session_class", "completed", "duration_minutes", "provider", "location")


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


def clinic_settings(clinic_id: str) -> ClinicSettings:
    """The settings, and how many emails are kept for the clinic (one Query of its outbox partition)."""
    return ClinicSettings(clinic_context(clinic_id), outbox.count(clinic_id))


def _clinic_and(identity: Identity, model, *key) -> tuple[ClinicContext, object | None]:
    """The caller's clinic and one more item of theirs, in a single round trip."""
    return _clinic_and_item(identity.clinic_id, model, *key)


def _clinic_and_item(clinic_id: str, model, *key) -> tuple[ClinicContext, object | None]:
    """A clinic and one more item of that clinic, in a single round trip."""
    with TransactGet(connection=aws.transactions()) as reads:
        clinic_future = reads.get(Clinic, clinic_id)
        item_future = reads.get(model, *key)
    try:
        context = ClinicContext.of(clinic_future.get())
    except DoesNotExist:
        raise NotFound("Unknown clinic.") from None
    try:
        item = item_future.get()
    except DoesNotExist:
        item = None
    if item is not None and getattr(item, "clinic_id", None) != clinic_id:
        item = None  # another clinic's item reads exactly like a missing one
    return context, item


def patient_profile(identity: Identity) -> PatientProfile:
    return clinic_patient(identity.clinic_id, identity.patient_id)


def clinic_patient(clinic_id: str, patient_id: str) -> PatientProfile:
    """A patient and their clinic, in one round trip; a patient of another clinic is NotFound."""
    context, patient = _clinic_and_item(clinic_id, Patient, patient_id)
    if patient is None:
        raise NotFound("Unknown patient.")
    return PatientProfile(patient, context)


def patient_visits(identity: Identity, from_value: str | None, to_value: str | None, now: datetime) -> Schedule:
    """One Query on the patient's own partition, bounded by the range: nothing read is thrown away."""
    context = clinic_context(identity.clinic_id)
    first_day, last_day, starts_between = _date_range(context, from_value, to_value, now)
    items = Visit.by_start.query(identity.patient_id, starts_between, consistent_read=True)
    visits = readable_visits(context, (item for item in items if item.clinic_id == identity.clinic_id))
    return Schedule(context, first_day, last_day, visits)


def clinic_visits(identity: Identity, from_value: str | None, to_value: str | None, now: datetime) -> Schedule:
    context = clinic_context(identity.clinic_id)
    first_day, last_day, starts_between = _date_range(context, from_value, to_value, now)
    visits = readable_visits(context, Visit.by_clinic_start.query(identity.clinic_id, starts_between))
    return Schedule(context, first_day, last_day, visits)


def _date_range(context: ClinicContext, from_value: str | None, to_value: str | None, now: datetime):
    """The requested days (the clinic's "today" by default) and the matching key condition."""
    first_day, last_day = rules.date_range(from_value, to_value, context.today(now))
    first, last = times.day_bounds_utc(first_day, last_day, context.tz)
    return first_day, last_day, Visit.starts_at.between(times.format_instant(first), times.format_instant(last))


def patient_visit(identity: Identity, visit_id: str) -> ScheduledVisit:
    """The caller's own visit (one round trip); another patient's, another clinic's or an
    unreadable one is NotFound, as on every visit route."""
    return _patient_visit(identity, visit_id)


def _patient_visit(identity: Identity, visit_id: str) -> ScheduledVisit:
    """The caller's own visit; another patient's, another clinic's or an unreadable one is NotFound."""
    context, item = _clinic_and(identity, Visit, identity.patient_id, visit_id)
    state = visit_state(item) if item is not None else None
    if state is None:
        raise NotFound("Unknown visit.")
    return ScheduledVisit(context, item, state)


# --- Visit history ---------------------------------------------------------------------


def patient_history(identity: Identity, visit_id: str) -> VisitHistory:
    """The patient's own visit's history; 404 exactly as for the visit itself."""
    visit = _patient_visit(identity, visit_id)
    return VisitHistory(visit.clinic, history.events_of(visit.item.visit_id))


def staff_history(identity: Identity, visit_id: str) -> VisitHistory:
    """Also for a visit whose start was edited into something unreadable: its history says how."""
    context, item = _staff_item(identity, visit_id)
    return VisitHistory(context, history.events_of(item.visit_id))


# --- What every write of a visit is built from ------------------------------------------


def _stamp(actor: str, now: datetime) -> dict:
    """Who makes this write and when, with a new change id."""
    return {"changed_by": actor, "changed_at": times.format_instant(now), "change_id": new_id("chg")}


def _stamped(actor: str, now: datetime) -> list:
    """The stamp as update actions, and one more revision: every write of ours changes the
    visit's calendar SEQUENCE, which so never goes backwards (ADD is atomic)."""
    return [*(getattr(Visit, name).set(value) for name, value in _stamp(actor, now).items()), Visit.revision.add(1)]


def _write(item: Visit, actions: list, condition) -> None:
    """A conditional update of a visit. A revision typed by hand in the console cannot take
    `ADD revision 1`: it is set to the number read plus one instead."""
    if isinstance(item.revision, TypedByHand):
        actions = [action for action in actions if not isinstance(action, AddAction)]
        actions.append(Visit.revision.set(revision_of(item) + 1))
    item.update(actions=actions, condition=condition)


def _answer_cleared() -> list:
    """The patient's answer removed, with everything that came with it."""
    return [Visit.patient_response.remove(), Visit.responded_at.remove(), Visit.cancel_reason.remove()]


def _where_and_when_as_read(item: Visit):
    """The visit still belongs to the clinic and starts when it did when it was read."""
    return as_read(item, Visit.clinic_id) & as_read(item, Visit.starts_at)


def _still_as_read(visit: ScheduledVisit, now: datetime):
    """A patient's answer holds only while the visit is as read and still open."""
    policy = visit.clinic.policy
    condition = _where_and_when_as_read(visit.item)
    condition &= Visit.starts_at > times.format_instant(now + timedelta(hours=policy.cancel_cutoff_hours))
    condition &= ~(Visit.completed == True)  # noqa: E712 (a DynamoDB condition, not a Python test)
    condition &= as_read(visit.item, Visit.patient_response)
    if policy.cancelled_classes:
        condition &= ~Visit.session_class.is_in(*sorted(policy.cancelled_classes))
    return condition


# --- Patient answers -------------------------------------------------------------------

# A rule that decides on a visit: True to write, False when there is nothing to change;
# raises when the change is not allowed (rules.check_can_respond / check_can_clear).
Decision = Callable[[rules.VisitState, rules.ClinicPolicy], bool]


def respond(identity: Identity, visit_id: str, request: inputs.ResponseRequest, now: datetime) -> ScheduledVisit:
    # inputs.response_request only lets a reason come with a cancellation.
    actions = [
        Visit.patient_response.set(request.response.value),
        Visit.responded_at.set(times.format_instant(now)),
        Visit.cancel_reason.set(request.reason) if request.reason else Visit.cancel_reason.remove(),
    ]

    def decide(state: rules.VisitState, policy: rules.ClinicPolicy) -> bool:
        return rules.check_can_respond(state, policy, now, request.response)

    return _patient_change(identity, visit_id, now, actions, decide)


def clear_response(identity: Identity, visit_id: str, now: datetime) -> ScheduledVisit:

    def decide(state: rules.VisitState, policy: rules.ClinicPolicy) -> bool:
        return rules.check_can_clear(state, policy, now)

    return _patient_change(identity, visit_id, now, _answer_cleared(), decide)


def _patient_change(identity: Identity, visit_id: str, now: datetime, actions: list, decide: Decision):
    visit = _patient_visit(identity, visit_id)
    if not decide(visit.state, visit.clinic.policy):
        return visit  # the same answer again: nothing changes, no email
    try:
        _write(visit.item, actions + _stamped(PATIENT_ACTOR, now), _still_as_read(visit, now))
    except UpdateError as error:
        if not _failed_condition(error):
            raise
        # Someone changed the visit between our read and our write: answer from what is there now.
        fresh = _patient_visit(identity, visit_id)
        if decide(fresh.state, fresh.clinic.policy):  # raises NotOpen / Conflict / Forbidden for a visit that moved on
            raise Conflict("This visit changed while you were answering. Please reload and try again.") from None
        return fresh
    return ScheduledVisit(visit.clinic, visit.item, visit_state(visit.item))


# --- Clinic settings -------------------------------------------------------------------


def new_clinic(clinic_id: str, settings: dict) -> Clinic:
    """A clinic item: patient cancellation on, no cutoff and the default session classes, unless
    `settings` (in the form `inputs.settings_patch` gives) says otherwise."""
    values = {
        "patient_cancel_enabled": True,
        "cancel_cutoff_hours": 0,
        "session_classes": DEFAULT_SESSION_CLASSES,
        **settings,
    }
    values["session_classes"] = [SessionClass(name=name, cancelled=c) for name, c in values["session_classes"]]
    return Clinic(clinic_id, **values)


def create_clinic(clinic_id: str, settings: dict) -> bool:
    """Stores a new clinic (`new_clinic`); False when it exists already (it is left as it is)."""
    try:
        new_clinic(clinic_id, settings).save(condition=Clinic.clinic_id.does_not_exist())
    except PutError as error:
        if _failed_condition(error):
            return False
        raise
    return True


def update_settings(identity: Identity, patch: dict) -> ClinicSettings:
    context = clinic_context(identity.clinic_id)
    clinic = context.clinic
    actions = []
    for field, value in patch.items():
        if field == "session_classes":
            _check_classes_removable(identity.clinic_id, context, {name for name, _ in value})
            value = [SessionClass(name=name, cancelled=cancelled) for name, cancelled in value]
        actions.append(getattr(Clinic, field).set(value))
    try:
        if "version" in clinic.raw_values:
            # A version typed by hand: this save sets it to 1 again, if no one saved meanwhile.
            clinic.update(actions=actions, condition=as_read(clinic, Clinic.version), add_version_condition=False)
        else:
            clinic.update(actions=actions)  # the version attribute makes this conditional
    except UpdateError as error:
        if _failed_condition(error):
            raise Conflict("The settings were changed by someone else meanwhile. Reload and try again.") from None
        raise
    return ClinicSettings(ClinicContext.of(clinic), outbox.count(identity.clinic_id))


def _check_classes_removable(clinic_id: str, context: ClinicContext, kept: set) -> None:
    for name in sorted(context.policy.session_classes - kept):
        in_use = Visit.by_clinic_class.query(clinic_id, Visit.session_class == name, limit=1)
        if next(iter(in_use), None) is not None:
            raise Conflict(f'The session class "{name}" is still used by visits; move them to another class first.')


# --- Patients --------------------------------------------------------------------------


def create_patient(identity: Identity, name: str, email: str, now: datetime) -> Patient:
    clinic_context(identity.clinic_id)
    patient = Patient(
        new_id("pat"), clinic_id=identity.clinic_id, name=name, email=email, created_at=times.format_instant(now)
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


def create_visit(identity: Identity, fields: dict, now: datetime) -> ScheduledVisit:
    context, patient = _clinic_and(identity, Patient, fields["patient_id"])
    if patient is None:
        raise NotFound("Unknown patient.")
    rules.check_known_class(context.policy, fields["session_class"])
    item = Visit(
        patient.patient_id,
        new_id("vis"),
        clinic_id=identity.clinic_id,
        patient_name=patient.name,
        starts_at=times.format_instant(times.local_to_utc(fields["date"], fields["start_time"], context.tz)),
        duration_minutes=fields["duration_minutes"],
        provider=fields["provider"],
        location=fields["location"],
        session_class=fields["session_class"],
        completed=False,
        created_at=times.format_instant(now),
        revision=1,
        **_stamp(staff_actor(identity.username), now),
    )
    try:
        with TransactWrite(connection=aws.transactions()) as write:
            # The class was checked against these settings; they must not change underneath.
            write.condition_check(Clinic, identity.clinic_id, condition=as_read(context.clinic, Clinic.version))
            write.save(item, condition=Visit.visit_id.does_not_exist())
    except TransactWriteError:
        raise Conflict("The clinic settings changed meanwhile. Please try again.") from None
    return ScheduledVisit(context, item, visit_state(item))


def _staff_item(identity: Identity, visit_id: str) -> tuple[ClinicContext, Visit]:
    """A visit of the staff member's clinic, as stored; another clinic's is NotFound."""
    # The index is only used to find the partition; the item itself is read consistently.
    for key in Visit.by_visit_id.query(visit_id, limit=1):
        context, item = _clinic_and(identity, Visit, key.patient_id, visit_id)
        if item is not None:
            return context, item
    raise NotFound("Unknown visit.")


def _staff_visit(identity: Identity, visit_id: str, repairs_start: bool = False) -> ScheduledVisit:
    """The clinic's visit. One whose start cannot be read is a Conflict, unless this edit gives it a
    new date and start time (`repairs_start`): then it is read as if it started at `_UNREADABLE_START`."""
    context, item = _staff_item(identity, visit_id)
    state = visit_state(item)
    if state is None and repairs_start:
        state = rules.VisitState(_UNREADABLE_START, item.session_class or "", bool(item.completed), None)
    if state is None:
        raise Conflict("This visit's start time cannot be read; give it a new date and start_time.")
    return ScheduledVisit(context, item, state)


def update_visit(identity: Identity, visit_id: str, patch: dict, now: datetime) -> ScheduledVisit:
    visit = _staff_visit(identity, visit_id, repairs_start="date" in patch and "start_time" in patch)
    change = rules.decide_staff_change(visit.state, patch, visit.clinic.tz, now)
    if "session_class" in patch:
        rules.check_known_class(visit.clinic.policy, patch["session_class"])
    actions = _stamped(staff_actor(identity.username), now)
    if change.moved:
        # Any answer was for the old time; the new time needs a new one. Cleared even when
        # none was read: the patient's answer may land between our read and this write.
        actions += [Visit.starts_at.set(times.format_instant(change.starts_at)), *_answer_cleared()]
    actions += [getattr(Visit, field).set(patch[field]) for field in _STAFF_FIELDS if field in patch]
    try:
        _write(visit.item, actions, _where_and_when_as_read(visit.item))
    except UpdateError as error:
        if _failed_condition(error):
            raise Conflict("This visit was changed by someone else meanwhile. Reload and try again.") from None
        raise
    return ScheduledVisit(visit.clinic, visit.item, visit_state(visit.item))
