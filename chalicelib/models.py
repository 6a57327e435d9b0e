"""The DynamoDB items, as pynamodb models. One table per kind of thing, plain words.

Nothing is bound when this module is imported: `bind(settings)` (called by
`chalicelib.runtime.bind`) gives each model its table name, region and endpoint.

Clinic operations staff read and edit these items in the AWS console, so attribute names
are words, instants are ISO-8601 UTC text (`2026-12-01T14:00:00Z`), and every item is read
tolerantly: a value of the wrong DynamoDB type, or text where a number or a Boolean belongs
that cannot be read as one, falls back to the field's default and is logged once, as a
WARNING naming the table, the key and the field, never the value (it may be PHI). The value
as stored is kept on the item (`raw_value`), so a conditional write can still name it, and a
write through the service repairs it.

Visits are keyed by patient so that a patient's list is one strongly consistent Query on
the `by_start` local index, and a patient can only ever address their own items.
"""

import contextvars
from decimal import Decimal, InvalidOperation

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.constants import BOOLEAN, MAP, NULL, NUMBER, STRING
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import Settings
from chalicelib.logs import logger

KEPT = "kept"

# --- Reading what a person may have typed in the console ----------------------------------

# The item being read (table, key), so that a field deep in a map reports where it is.
_reading: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("reading", default=None)
# Where a map inside the item is (`session_classes[2].`), for the fields of that map.
_prefix: contextvars.ContextVar[str] = contextvars.ContextVar("prefix", default="")
_reported: set[tuple[str, str, str]] = set()
_MAX_REPORTED = 10_000  # a long-lived container forgets, and reports again, rather than grow without end


class Unreadable(ValueError):
    """A stored value that cannot be read as its field's type."""


def report_unreadable(table: str, key: str, field: str) -> None:
    """Logs, once per container and (table, key, field), that a stored value was not usable."""
    where = (table or "?", key or "?", field)
    if where in _reported:
        return
    if len(_reported) >= _MAX_REPORTED:
        _reported.clear()
    _reported.add(where)
    logger.warning(
        "A stored value cannot be read; its default is used until it is fixed",
        extra={"table": where[0], "key": where[1], "field": field},
    )


def unreadable(item, field: str) -> None:
    """`report_unreadable` for a field of a model instance the domain could not use (a time zone...)."""
    model = type(item)
    keys = [name for name in (model._hash_keyname, model._range_keyname) if name]
    report_unreadable(item.Meta.table_name, ",".join(f"{name}={getattr(item, name, '?')}" for name in keys), field)


class _ReadsTolerantly:
    """Reads an item (or a map inside one) field by field; a field that cannot be read keeps its
    default, is reported, and its stored value is kept in `raw_values`."""

    @classmethod
    def _instantiate(cls, attribute_values):
        # pynamodb's own `_instantiate` calls AttributeContainer's deserializer directly.
        instance = cls(_user_instantiated=False)
        instance._container_deserialize(attribute_values)
        return instance

    def _container_deserialize(self, attribute_values) -> None:
        token = None
        if isinstance(self, Model):
            token = _reading.set((self.Meta.table_name, _key_of(type(self), attribute_values)))
        try:
            self.attribute_values = {}
            self._set_discriminator()
            self._set_defaults(_user_instantiated=False)
            raw_values = {}
            for name, attr in self.get_attributes().items():
                stored = attribute_values.get(attr.attr_name)
                if not stored:
                    continue
                if NULL in stored:  # the service never writes NULL: a person typed it
                    raw_values[name] = stored
                    if hasattr(attr, "read_null"):
                        setattr(self, name, attr.read_null())
                    if not attr.null:
                        _report(attr.attr_name)
                    continue
                try:
                    value = attr.deserialize(attr.get_value(stored))
                except Exception:  # any type, any junk: the field's default, never a failed request
                    raw_values[name] = stored
                    _report(attr.attr_name)
                    continue
                setattr(self, name, value)
            self._raw_values = raw_values
        finally:
            if token is not None:
                _reading.reset(token)

    @property
    def raw_values(self) -> dict:
        """The stored DynamoDB values of the fields that could not be read, by attribute name."""
        return getattr(self, "_raw_values", {})


def _key_of(model, attribute_values) -> str:
    """`name=value` of the item's key attributes, from the raw item (ids only: safe to log)."""
    parts = []
    for name in (model._hash_keyname, model._range_keyname):
        if name:
            stored = attribute_values.get(name) or {}
            parts.append(f"{name}={stored.get(STRING, '?')}")
    return ",".join(parts)


def _report(field: str) -> None:
    table, key = _reading.get() or ("?", "?")
    report_unreadable(table, key, _prefix.get() + field)


def as_read(item, attribute) -> Condition:
    """ "This attribute is still what was read": its value, its stored form if that could not be
    read (so a repair is still conditional), or its absence."""
    name = attribute.attr_name
    if name in item.raw_values:
        return attribute == item.raw_values[name]
    value = getattr(item, name, None)
    return attribute.does_not_exist() if value is None else attribute == value


class LenientBooleanAttribute(BooleanAttribute):
    """A Boolean that also reads true/false, yes/no, on/off or 1/0 typed as text, or a number."""

    _WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}

    def get_value(self, value):
        if BOOLEAN in value:
            return value[BOOLEAN]
        if STRING in value and value[STRING].strip().lower() in self._WORDS:
            return self._WORDS[value[STRING].strip().lower()]
        if NUMBER in value:
            return _number(value[NUMBER]) != 0
        raise Unreadable(self.attr_name)

    def deserialize(self, value):
        return bool(value)


class LenientNumberAttribute(NumberAttribute):
    """A number that also reads digits typed as text; anything else is unreadable."""

    def get_value(self, value):
        if NUMBER in value:
            return value[NUMBER]
        if STRING in value:
            return value[STRING]
        raise Unreadable(self.attr_name)

    def deserialize(self, value):
        number = _number(value)
        return int(number) if number == number.to_integral_value() else float(number)


def _number(text) -> Decimal:
    try:
        number = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise Unreadable("not a number") from None
    if not number.is_finite():
        raise Unreadable("not a finite number")
    return number


class LenientVersionAttribute(VersionAttribute):
    """The settings' version: a whole number, or unreadable (then `raw_values` holds what is stored,
    and the next save of the settings repairs it, conditioned on that stored value)."""

    def deserialize(self, value):
        number = _number(value)
        if number != number.to_integral_value():
            raise Unreadable(self.attr_name)
        return int(number)


class LenientListAttribute(ListAttribute):
    """A list of maps that skips (and reports) an element that is not a readable map."""

    def deserialize(self, values):
        element_attr = self.element_type()
        element_attr._make_attribute()
        readable = []
        for index, stored in enumerate(values):
            if not isinstance(stored, dict) or MAP not in stored:
                _report(f"{self.attr_name}[{index}]")
                continue
            element_attr.attr_name = f"{self.attr_name}[{index}]"
            token = _prefix.set(f"{_prefix.get()}{self.attr_name}[{index}].")
            try:
                readable.append(element_attr.deserialize(element_attr.get_value(stored)))
            finally:
                _prefix.reset(token)
        if values and not readable:
            raise Unreadable(self.attr_name)  # nothing usable at all: the whole field is unreadable
        return readable


class TypedByHand(int):
    """A counter's value that was stored as something other than a number (typed in the console)."""


class CounterAttribute(NumberAttribute):
    """A whole number the service counts up with `ADD`. Stored as another type (text typed in the
    console, say) it reads as `TypedByHand` (the number in the text, else 0), which writers set
    instead of adding to: DynamoDB refuses to ADD to anything but a number."""

    def get_value(self, value):
        if NUMBER in value:
            return value[NUMBER]
        try:
            return TypedByHand(max(int(str(value.get(STRING, "")).strip()), 0))
        except ValueError:
            return TypedByHand(0)

    def read_null(self):
        return TypedByHand(0)  # NULL typed in the console: DynamoDB cannot ADD to it either

    def deserialize(self, value):
        if isinstance(value, TypedByHand):
            return value
        try:
            return super().deserialize(value)
        except ValueError:
            return TypedByHand(0)


class _Meta:
    """Shared table settings. `bind()` sets the table name, region and host of each model."""

    table_name = None
    region = None
    host = None
    billing_mode = "PAY_PER_REQUEST"


class SessionClass(_ReadsTolerantly, MapAttribute):
    name = UnicodeAttribute(null=True)
    cancelled = LenientBooleanAttribute(default=False)


class ReminderSettings(_ReadsTolerantly, MapAttribute):
    """The clinic's `reminders` map: on or off, the lead times (`hours_before`, a list of whole
    hours), the quiet hours (`{"start": "HH:MM", "end": "HH:MM"}`, at the clinic) and whether
    reminders and calendar events name the provider. A value that is not a map reads as unset;
    what each part means, and its defaults, is `domain.ClinicContext.reminder_policy`."""

    enabled = LenientBooleanAttribute(null=True)
    hours_before = ListAttribute(null=True)
    quiet_hours = MapAttribute(null=True)
    show_provider = LenientBooleanAttribute(null=True)

    def get_value(self, value):
        return value.get(MAP, {})


class Clinic(_ReadsTolerantly, Model):
    class Meta(_Meta):
        # Saving a valid admin_email sends the clinic's kept emails, and changed reminder settings
        # re-arm its upcoming visits' reminders (the `clinic_changes` function compares old and new).
        stream_view_type = "NEW_AND_OLD_IMAGES"

    clinic_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    phone = UnicodeAttribute(default="")
    admin_email = UnicodeAttribute(default="")
    patient_cancel_enabled = LenientBooleanAttribute(default=True)
    cancel_cutoff_hours = LenientNumberAttribute(default=0)
    cancel_notice = UnicodeAttribute(null=True)
    session_classes = LenientListAttribute(of=SessionClass, default=list)
    reminders = ReminderSettings(null=True)
    # Settings edits are optimistic: two staff saving at once cannot overwrite each other,
    # and a visit is only created against the settings it was validated with.
    version = LenientVersionAttribute()


class PatientsByClinic(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_clinic"
        projection = AllProjection()

    clinic_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


class Patient(_ReadsTolerantly, Model):
    class Meta(_Meta):
        pass

    patient_id = UnicodeAttribute(hash_key=True)
    clinic_id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # The SHA-256 of the patient's current calendar feed secret (the key of its CalendarFeed),
    # absent when they have none: a new feed and "stop sharing" replace it conditionally.
    calendar_feed_hash = UnicodeAttribute(null=True)
    # The patient's own choices: reminder emails (on unless they turned them off) and the
    # language they read the portal, reminders and calendar text in ("en" or "es").
    email_reminders = LenientBooleanAttribute(default=True)
    language = UnicodeAttribute(null=True)
    # What SES reported about the patient's address (`bouncing`, `complained`), and for which
    # address: a new email address (staff change it) is "ok" again without anyone resetting this.
    email_status = UnicodeAttribute(null=True)
    email_status_address = UnicodeAttribute(null=True)
    # The login (Cognito `sub`) whose membership this patient is: see `Membership`.
    user_id = UnicodeAttribute(null=True)
    by_clinic = PatientsByClinic()


class Membership(_ReadsTolerantly, Model):
    """A login's membership of a clinic: the person (Cognito `sub`) is that clinic's patient
    `patient_id`. A person's memberships are one Query of their partition (the authorizer's, once
    per token). A removed membership stays as a record with `removed_at` set and gives no access;
    adding the person to that clinic again replaces it."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(hash_key=True)
    clinic_id = UnicodeAttribute(range_key=True)
    patient_id = UnicodeAttribute(default="")
    created_at = UnicodeAttribute(default="")
    removed_at = UnicodeAttribute(null=True)


class VisitsByStart(LocalSecondaryIndex):
    """A patient's visits in start order: the patient's list is one Query on this."""

    class Meta:
        index_name = "by_start"
        projection = AllProjection()

    patient_id = UnicodeAttribute(hash_key=True)
    starts_at = UnicodeAttribute(range_key=True)


class ClinicVisitsByStart(GlobalSecondaryIndex):
    """A clinic's schedule in start order, for staff."""

    class Meta:
        index_name = "by_clinic_start"
        projection = AllProjection()

    clinic_id = UnicodeAttribute(hash_key=True)
    starts_at = UnicodeAttribute(range_key=True)


class VisitsById(GlobalSecondaryIndex):
    """Staff address a visit by its id alone; this finds the patient it belongs to."""

    class Meta:
        index_name = "by_visit_id"
        projection = KeysOnlyProjection()

    visit_id = UnicodeAttribute(hash_key=True)


class VisitsByClass(GlobalSecondaryIndex):
    """Answers "does any visit still use this session class?" with one small Query."""

    class Meta:
        index_name = "by_clinic_class"
        projection = KeysOnlyProjection()

    clinic_id = UnicodeAttribute(hash_key=True)
    session_class = UnicodeAttribute(range_key=True)


class Visit(_ReadsTolerantly, Model):
    class Meta(_Meta):
        # The email trigger compares the old and new item of every change.
        stream_view_type = "NEW_AND_OLD_IMAGES"

    patient_id = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)
    clinic_id = UnicodeAttribute()
    patient_name = UnicodeAttribute(default="")
    starts_at = UnicodeAttribute()
    duration_minutes = LenientNumberAttribute(default=50)
    provider = UnicodeAttribute(default="")
    location = UnicodeAttribute(default="")
    session_class = UnicodeAttribute(default="")
    completed = LenientBooleanAttribute(default=False)
    patient_response = UnicodeAttribute(null=True)
    responded_at = UnicodeAttribute(null=True)
    cancel_reason = UnicodeAttribute(null=True)
    # The stamp of the last write the service made: who (`patient`, `staff:<login>`...),
    # when, and an id that is new on every such write. Stream consumers read it to tell a
    # patient's own action from staff or console edits (a console edit keeps the old id),
    # and the id makes each action's email idempotent.
    changed_by = UnicodeAttribute(null=True)
    changed_at = UnicodeAttribute(null=True)
    change_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    # 1 at creation, +1 on every write of the service (the stamp adds it): the calendar
    # events' SEQUENCE. A console edit leaves it as it is.
    revision = CounterAttribute(null=True)
    # How many times the patient changed their answer since the visit was scheduled or last
    # moved: the conditional write refuses a change past `scheduling.MAX_ANSWER_CHANGES`.
    answer_changes = CounterAttribute(null=True)

    by_start = VisitsByStart()
    by_clinic_start = ClinicVisitsByStart()
    by_visit_id = VisitsById()
    by_clinic_class = VisitsByClass()


class HistoryEvent(_ReadsTolerantly, Model):
    """One change to a visit, as the visits stream showed it. Append-only, kept for years: the
    service only ever adds items (a conditional put, so a redelivered record adds nothing).
    One visit's history is one Query on its `visit_id`, oldest first by `event_key`."""

    class Meta(_Meta):
        pass

    visit_id = UnicodeAttribute(hash_key=True)
    # "<at>#<stream sequence number>": in time order, and one key per stream record.
    event_key = UnicodeAttribute(range_key=True)
    at = UnicodeAttribute()
    by = UnicodeAttribute()  # patient, staff:<login>, reminder-link, system or console
    what = UnicodeAttribute()  # created, confirmed, cancel_requested, ... (chalicelib/history.py)
    # The visit's fields that changed, in their stored names and values: {field: [before, after]}.
    changes = MapAttribute(default=dict)
    reason = UnicodeAttribute(null=True)  # what the patient wrote with a cancellation
    clinic_id = UnicodeAttribute(default="")
    patient_id = UnicodeAttribute(default="")
    change_id = UnicodeAttribute(null=True)  # the write's stamp; none for a console edit
    stream_event_id = UnicodeAttribute(default="")


class CalendarFeed(_ReadsTolerantly, Model):
    """A patient's private calendar feed, found by the SHA-256 of the secret in its address (the
    secret itself is stored nowhere). At most one per patient: the patient item names it."""

    class Meta(_Meta):
        pass

    feed_hash = UnicodeAttribute(hash_key=True)
    patient_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class KeptEmailsByAge(GlobalSecondaryIndex):
    """Every kept email, oldest first: for the daily report and `send-kept-emails` without a clinic."""

    class Meta:
        index_name = "by_age"
        projection = KeysOnlyProjection()

    kept = UnicodeAttribute(hash_key=True)
    kept_at = UnicodeAttribute(range_key=True)


class KeptEmail(_ReadsTolerantly, Model):
    """An email to a clinic that could not be sent as things stand (no admin_email, one that is not
    an address, one SES refused for good), with what the patient did, until it is sent.

    The action is kept as the stream showed it, so the email describes what the patient did even
    if the visit changed since; it is sent under the same idempotency key as the first try.
    """

    class Meta(_Meta):
        pass

    clinic_id = UnicodeAttribute(hash_key=True)
    change_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # "cancel" or "uncancel"
    visit_id = UnicodeAttribute(default="")
    patient_id = UnicodeAttribute(default="")
    patient_name = UnicodeAttribute(default="")
    starts_at = UnicodeAttribute(default="")
    provider = UnicodeAttribute(default="")
    location = UnicodeAttribute(default="")
    acted_at = UnicodeAttribute(default="")
    reason = UnicodeAttribute(default="")
    problem = UnicodeAttribute(default="")  # why it could not be sent, in words (no address, no value)
    kept_at = UnicodeAttribute()
    kept = UnicodeAttribute(default=KEPT)  # the one partition of `by_age`
    # Well past the 30 days the contract promises; the daily report names every email older than 30 days.
    expires_at = TTLAttribute(null=True)

    by_age = KeptEmailsByAge()


class Reminder(_ReadsTolerantly, Model):
    """One reminder email a visit is to get, `hours_before` its start: put when the visit is
    scheduled or moved (or the clinic's reminder settings change), then sent once, or skipped, by
    the sweep that runs every minute. Keyed by the UTC day it falls due, so the sweep reads a day
    at a time from where it stopped; the key also names the visit, the lead and the start."""

    class Meta(_Meta):
        pass

    due_day = UnicodeAttribute(hash_key=True)  # "2026-12-08", UTC
    reminder_key = UnicodeAttribute(range_key=True)  # "<due_at>#<visit_id>#<hours_before>#<starts_at>"
    due_at = UnicodeAttribute()  # when it goes out: the planned time, or later if it was armed late
    planned_at = UnicodeAttribute()  # `hours_before` the start, out of the quiet hours, as armed
    visit_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()  # the visit's start it is for: a moved visit's old reminders never go
    hours_before = LenientNumberAttribute()
    state = UnicodeAttribute(default="due")  # due, sending, sent, skipped
    claimed_at = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    skipped_because = UnicodeAttribute(null=True)  # in words, no personal data
    message_id = UnicodeAttribute(null=True)
    # Gone 60 days after it fell due (the visit's history keeps that it was sent).
    expires_at = TTLAttribute(null=True)


class ReminderSweep(_ReadsTolerantly, Model):
    """Where the reminder sweep stopped: one item in the reminders table (`due_day` "sweep"), so a
    sweep after an outage starts where the last one ended and sends what fell due meanwhile."""

    class Meta(_Meta):
        pass

    due_day = UnicodeAttribute(hash_key=True)
    reminder_key = UnicodeAttribute(range_key=True)
    swept_until = UnicodeAttribute(null=True)


# Each model and the kind of table it lives in (`Settings.table(kind)`).
TABLES = {
    Clinic: "clinics",
    Patient: "patients",
    Visit: "visits",
    HistoryEvent: "history",
    CalendarFeed: "calendar-feeds",
    KeptEmail: "outbox",
    Reminder: "reminders",
    ReminderSweep: "reminders",
    Membership: "memberships",
}
ALL_MODELS = tuple(TABLES)


def bind(settings: Settings) -> None:
    """Points every model at the deployment's tables. pynamodb caches a model's connection and
    rebuilds it only when the table name changes, so the cached one is dropped here."""
    for model, kind in TABLES.items():
        model.Meta.table_name = settings.table(kind)
        model.Meta.region = settings.region
        model.Meta.host = settings.endpoint
        model._connection = None
