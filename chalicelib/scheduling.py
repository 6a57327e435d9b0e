"""Visits, patients and clinic settings in DynamoDB: the queries and the conditional writes.

Every state change is a conditional write that re-asserts, at the moment of the write, what
the rules decided on: a race with staff (completing, cancelling, moving the visit) or with
the patient's other tab makes the write fail instead of recording an answer the rules
forbid. Patient requests cost two DynamoDB round trips: one transactional read of the
clinic and the visit, one conditional write; a third read only after a lost race.

Every write of a visit carries the writer's stamp (`_stamped`): who, when, a new change id,
and one more revision (the calendar events' SEQUENCE). A patient's change also counts against
the visit's answer-change limit, in the same conditional write, so no number of concurrent
requests gets past it.

Staff lists come in pages; the cursor of the next page is signed (`signing`) and bound to the
clinic and the query it continues.
"""

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import AddAction
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import accounts, added_email, aws, history, inputs, memberships, outbox, rules, signing, times
from chalicelib.auth import Identity
from chalicelib.domain import (
    DEFAULT_SESSION_CLASSES,
    PATIENT_ACTOR,
    ClinicContext,
    ClinicSettings,
    PatientPage,
    PatientProfile,
    PersonsClinics,
    Schedule,
    ScheduledVisit,
    VisitHistory,
    language_of,
    readable_visits,
    staff_actor,
    visit_state,
)
from chalicelib.errors import BadInput, Conflict, NotFound, TooManyChanges
from chalicelib.logs import touched
from chalicelib.models import Clinic, Patient, ReminderSettings, SessionClass, TypedByHand, Visit, as_read

_CONDITION_FAILED = "ConditionalCheckFailedException"
# Stands for a start typed into the console that cannot be read, while staff give the visit a new one.
_UNREADABLE_START = datetime(1900, 1, 1, tzinfo=UTC)
# A patient may change their answer this often per visit (until staff move it): enough for
# any honest change of mind, and a bound on the clinic emails one patient can cause.
MAX_ANSWER_CHANGES = 6
TOO_MANY_CHANGES = "This visit's answer has been changed too many times online. Please call the clinic to change it."
# What a cursor may be used for: a cursor of one list is refused by the other.
VISITS_CURSOR, PATIENTS_CURSOR = "clinic-visits-page", "clinic-patients-page"
BAD_CURSOR = "cursor is not a cursor this API gave out for this list and query."
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


def persons_clinics(identity: Identity) -> PersonsClinics:
    """The chosen membership (one round trip) and the names of all the person's clinics: with one
    membership that is the same clinic, read once; with several, one batch read of their names."""
    chosen = patient_profile(identity) if identity.clinic_id else None
    if chosen is not None and len(identity.memberships) <= 1:
        return PersonsClinics(chosen, [(chosen.clinic.clinic.clinic_id, chosen.clinic.clinic.name or "")])
    wanted = sorted({membership.clinic_id for membership in identity.memberships})
    found = Clinic.batch_get(wanted, attributes_to_get=["clinic_id", "name"]) if wanted else []
    # A membership of a clinic that no longer exists is left out: there is nothing to choose there.
    clinics = sorted(((clinic.clinic_id, clinic.name or "") for clinic in found), key=lambda c: (c[1].lower(), c[0]))
    return PersonsClinics(chosen, clinics)


def patient_language(identity: Identity) -> str:
    """The language the patient reads their calendar text, reminders and link pages in."""
    return language_of(clinic_patient(identity.clinic_id, identity.patient_id).patient)


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


def clinic_visits(
    identity: Identity, from_value: str | None, to_value: str | None, page: inputs.PageRequest, now: datetime
) -> Schedule:
    """One page of the clinic's visits in the range, by start: one Query of `limit` + 1 items
    (the extra one only says whether there is more). The next page's cursor carries the range
    it continues, so a default range stays the same range across midnight."""
    context = clinic_context(identity.clinic_id)
    query = [from_value, to_value]
    after = None
    if page.cursor:
        state = _read_cursor(VISITS_CURSOR, page.cursor, identity, query)
        try:
            first_day, last_day = (date.fromisoformat(day) for day in state["range"])
            after = {"clinic_id": identity.clinic_id, **{k: state["after"][k] for k in _VISIT_PAGE_KEY}}
        except (KeyError, TypeError, ValueError):
            raise BadInput(BAD_CURSOR) from None
    else:
        first_day, last_day = rules.date_range(from_value, to_value, context.today(now))
    first, last = times.day_bounds_utc(first_day, last_day, context.tz)
    starts_between = Visit.starts_at.between(times.format_instant(first), times.format_instant(last))
    items, more = _page(Visit.by_clinic_start, identity.clinic_id, starts_between, page.limit, after)
    next_cursor = None
    if more:
        last_item = items[-1]
        state = {
            "range": [first_day.isoformat(), last_day.isoformat()],
            "after": {key: getattr(last_item, key) for key in _VISIT_PAGE_KEY},
        }
        next_cursor = _cursor(VISITS_CURSOR, identity, query, state)
    touched(records=len(items))
    return Schedule(context, first_day, last_day, readable_visits(context, items), next_cursor)


_VISIT_PAGE_KEY = ("starts_at", "patient_id", "visit_id")  # with clinic_id: the index's and table's keys
_PATIENT_PAGE_KEY = ("name", "patient_id")


def _page(index, hash_key: str, range_condition, limit: int, after: dict | None) -> tuple[list, bool]:
    """Up to `limit` items after `after` (an item's key values), and whether more follow."""
    start_key = {name: {"S": str(value)} for name, value in after.items()} if after else None
    items = list(
        index.query(hash_key, range_condition, limit=limit + 1, page_size=limit + 1, last_evaluated_key=start_key)
    )
    return items[:limit], len(items) > limit


def _cursor(purpose: str, identity: Identity, query: list, state: dict) -> str:
    """Bound to the clinic and the query, so it cannot be replayed against another of either."""
    return signing.sign(purpose, {"clinic": identity.clinic_id, "query": query, **state})


def _read_cursor(purpose: str, cursor: str, identity: Identity, query: list) -> dict:
    try:
        state = signing.verify(purpose, cursor)
    except signing.BadSignature:
        raise BadInput(BAD_CURSOR) from None
    if state.get("clinic") != identity.clinic_id or state.get("query") != query:
        raise BadInput(BAD_CURSOR)
    return state


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
    touched(visit_id=visit_id)
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
    """A conditional update of a visit. A counter (`revision`, `answer_changes`) typed by hand
    in the console as text cannot take `ADD`: it is set to the number read plus one instead."""
    item.update(actions=[_counted_from_what_was_read(item, action) for action in actions], condition=condition)


def _counted_from_what_was_read(item: Visit, action):
    if not isinstance(action, AddAction):
        return action
    name = action.values[0].path[0]
    read = getattr(item, name, None)
    if not isinstance(read, TypedByHand):
        return action
    return getattr(Visit, name).set(int(read) + 1)


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


def respond(
    identity: Identity, visit_id: str, request: inputs.ResponseRequest, now: datetime, actor: str = PATIENT_ACTOR
) -> ScheduledVisit:
    """The patient's answer, from the portal or (`actor` reminder-link) through a reminder's link."""
    # inputs.response_request only lets a reason come with a cancellation.
    actions = [
        Visit.patient_response.set(request.response.value),
        Visit.responded_at.set(times.format_instant(now)),
        Visit.cancel_reason.set(request.reason) if request.reason else Visit.cancel_reason.remove(),
    ]

    def decide(state: rules.VisitState, policy: rules.ClinicPolicy) -> bool:
        return rules.check_can_respond(state, policy, now, request.response)

    return _patient_change(identity, visit_id, now, actions, decide, actor)


def clear_response(identity: Identity, visit_id: str, now: datetime, actor: str = PATIENT_ACTOR) -> ScheduledVisit:
    def decide(state: rules.VisitState, policy: rules.ClinicPolicy) -> bool:
        return rules.check_can_clear(state, policy, now)

    return _patient_change(identity, visit_id, now, _answer_cleared(), decide, actor)


def _patient_change(identity: Identity, visit_id: str, now: datetime, actions: list, decide: Decision, actor: str):
    visit = _patient_visit(identity, visit_id)
    if not decide(visit.state, visit.clinic.policy):
        return visit  # the same answer again: nothing changes, no email, not counted
    _check_changes_left(visit)
    counted = [Visit.answer_changes.add(1)]
    try:
        _write(
            visit.item,
            actions + counted + _stamped(actor, now),
            _still_as_read(visit, now) & _below_limit(visit),
        )
    except UpdateError as error:
        if not _failed_condition(error):
            raise
        # Someone changed the visit between our read and our write: answer from what is there now.
        fresh = _patient_visit(identity, visit_id)
        if decide(fresh.state, fresh.clinic.policy):  # raises NotOpen / Conflict / Forbidden for a visit that moved on
            _check_changes_left(fresh)
            raise Conflict("This visit changed while you were answering. Please reload and try again.") from None
        return fresh
    return ScheduledVisit(visit.clinic, visit.item, visit_state(visit.item))


def _below_limit(visit: ScheduledVisit):
    """The answer-change limit, held by the write itself. A count typed by hand as text was checked
    as read, and the write turns it back into a number (`_write`): it must still be text then."""
    if isinstance(visit.item.answer_changes, TypedByHand):
        return Visit.answer_changes.exists() & ~Visit.answer_changes.is_type()
    return Visit.answer_changes.does_not_exist() | (Visit.answer_changes < MAX_ANSWER_CHANGES)


def _check_changes_left(visit: ScheduledVisit) -> None:
    if answer_changes(visit.item) >= MAX_ANSWER_CHANGES:
        raise TooManyChanges(TOO_MANY_CHANGES)


def answer_changes(item: Visit) -> int:
    """The visit's answer changes so far; a value typed by hand that is not a number counts as none."""
    try:
        return int(float(item.answer_changes or 0))
    except (TypeError, ValueError):
        return 0


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
        if field == "reminders":
            value = reminder_settings(value, context.reminder_policy)
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


def reminder_settings(changes: dict, current: rules.ReminderPolicy | None = None) -> ReminderSettings:
    """The whole `reminders` map: the parts given over the clinic's settings as they apply now (the
    contract's defaults for a new clinic), so a part typed into something unusable in the console
    is stored clean again."""
    current = current or rules.ReminderPolicy()
    quiet = current.quiet_hours
    stored = {
        "enabled": current.enabled,
        "hours_before": list(current.hours_before),
        "quiet_hours": {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")},
        "show_provider": current.show_provider,
        **changes,
    }
    return ReminderSettings(**stored)


def _check_classes_removable(clinic_id: str, context: ClinicContext, kept: set) -> None:
    for name in sorted(context.policy.session_classes - kept):
        in_use = Visit.by_clinic_class.query(clinic_id, Visit.session_class == name, limit=1)
        if next(iter(in_use), None) is not None:
            raise Conflict(f'The session class "{name}" is still used by visits; move them to another class first.')


# --- Patients --------------------------------------------------------------------------


def create_patient(identity: Identity, new: inputs.NewPatient, now: datetime, portal_url: str) -> Patient:
    """A patient of the clinic, and their membership of it for the email's login: a new login
    (Cognito emails the invitation), or the person's existing one, linked (they get an email that
    the clinic added them). Both ways cost the same: one look-up of the login, one email-sending
    call, one transaction, and the answer is the same, so staff cannot tell whether an email has a
    login elsewhere. The same person twice in one clinic is a Conflict."""
    context = clinic_context(identity.clinic_id)
    email = new.email
    patient = Patient(
        new_id("pat"),
        clinic_id=identity.clinic_id,
        name=new.name,
        email=email,
        language=new.language,
        created_at=times.format_instant(now),
    )
    touched(patient_id=patient.patient_id)
    login = accounts.patient_login(email)
    if login is None:
        try:
            login = accounts.invite_patient(email)
        except accounts.LoginExists:  # made meanwhile by someone else
            login = accounts.patient_login(email)
    if login is None:
        raise Conflict("This email's login changed meanwhile. Please try again.")
    if login.legacy is not None:
        # A login from before memberships were data: its first clinic becomes an item first, so
        # the same person cannot be added to that clinic a second time.
        memberships.keep(login.user_id, login.legacy, now)
    patient.user_id = login.user_id
    try:
        with TransactWrite(connection=aws.transactions()) as write:
            write.save(
                memberships.new(login.user_id, identity.clinic_id, patient.patient_id, now),
                condition=memberships.may_add(),
            )
            write.save(patient, condition=Patient.patient_id.does_not_exist())
    except TransactWriteError as error:
        if login.new:
            accounts.remove_login(email)
        reasons = error.cancellation_reasons or []
        if reasons and getattr(reasons[0], "code", None) == "ConditionalCheckFailed":  # the membership's condition
            raise Conflict("This person is already a patient of this clinic.") from None
        raise
    if not login.new:
        clinic = context.clinic
        message = added_email.compose(clinic.name, clinic.phone, email, portal_url, language_of(patient), now)
        added_email.send(message, identity.clinic_id, patient.patient_id)
    return patient


def patient_preferences(identity: Identity) -> Patient:
    return _own_patient(identity)


def update_preferences(identity: Identity, patch: dict) -> Patient:
    """The patient's own choices (reminder emails, language); nothing else of the item changes."""
    patient = _own_patient(identity)
    try:
        patient.update(
            actions=[getattr(Patient, field).set(value) for field, value in patch.items()],
            condition=Patient.clinic_id == identity.clinic_id,
        )
    except UpdateError as error:
        if _failed_condition(error):
            raise NotFound("Unknown patient.") from None
        raise
    return patient


def _own_patient(identity: Identity) -> Patient:
    try:
        patient = Patient.get(identity.patient_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("Unknown patient.") from None
    if patient.clinic_id != identity.clinic_id:
        raise NotFound("Unknown patient.")
    touched(patient_id=patient.patient_id)
    return patient


def clinic_patients(identity: Identity, page: inputs.PageRequest) -> PatientPage:
    """One page of the clinic's patients, by name."""
    after = None
    if page.cursor:
        state = _read_cursor(PATIENTS_CURSOR, page.cursor, identity, [])
        try:
            after = {"clinic_id": identity.clinic_id, **{k: str(state["after"][k]) for k in _PATIENT_PAGE_KEY}}
        except (KeyError, TypeError):
            raise BadInput(BAD_CURSOR) from None
    patients, more = _page(Patient.by_clinic, identity.clinic_id, None, page.limit, after)
    next_cursor = None
    if more:
        state = {"after": {key: getattr(patients[-1], key) for key in _PATIENT_PAGE_KEY}}
        next_cursor = _cursor(PATIENTS_CURSOR, identity, [], state)
    touched(records=len(patients))
    return PatientPage(patients, next_cursor)


# --- Visits, for staff -----------------------------------------------------------------


def create_visit(identity: Identity, fields: dict, now: datetime) -> ScheduledVisit:
    context, patient = _clinic_and(identity, Patient, fields["patient_id"])
    if patient is None:
        raise NotFound("Unknown patient.")
    rules.check_known_class(context.policy, fields["session_class"])
    visit_id = new_id("vis")
    touched(patient_id=patient.patient_id, visit_id=visit_id)
    item = Visit(
        patient.patient_id,
        visit_id,
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
    touched(visit_id=visit_id)
    for key in Visit.by_visit_id.query(visit_id, limit=1):
        context, item = _clinic_and(identity, Visit, key.patient_id, visit_id)
        if item is not None:
            touched(patient_id=item.patient_id)
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
        # none was read: the patient's answer may land between our read and this write. The
        # patient's answer changes start a new count.
        actions += [
            Visit.starts_at.set(times.format_instant(change.starts_at)),
            *_answer_cleared(),
            Visit.answer_changes.remove(),
        ]
    actions += [getattr(Visit, field).set(patch[field]) for field in _STAFF_FIELDS if field in patch]
    try:
        _write(visit.item, actions, _where_and_when_as_read(visit.item))
    except UpdateError as error:
        if _failed_condition(error):
            raise Conflict("This visit was changed by someone else meanwhile. Reload and try again.") from None
        raise
    return ScheduledVisit(visit.clinic, visit.item, visit_state(visit.item))
