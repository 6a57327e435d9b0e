"""The DynamoDB items, as pynamodb models. One table per kind of thing, plain words.

Nothing is bound when this module is imported: `bind(settings)` (called by
`chalicelib.runtime.bind`) gives each model its table name, region and endpoint.

Clinic operations staff read and edit these items in the AWS console, so attribute names
are words, instants are ISO-8601 UTC text (`2026-12-01T14:00:00Z`), and booleans and
numbers that a person typed as text are still read correctly.

Visits are keyed by patient so that a patient's list is one strongly consistent Query on
the `by_start` local index, and a patient can only ever address their own items.
"""

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.constants import BOOLEAN, MAP, NUMBER, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import Settings


class LenientBooleanAttribute(BooleanAttribute):
    """A Boolean that also reads "true"/"false" text or 1/0, as typed by hand in the console."""

    def get_value(self, value):
        if BOOLEAN in value:
            return value[BOOLEAN]
        if STRING in value:
            return value[STRING].strip().lower() in ("true", "yes", "1")
        if NUMBER in value:
            return value[NUMBER].strip() not in ("0", "0.0")
        return super().get_value(value)


class LenientNumberAttribute(NumberAttribute):
    """A number that also reads digits typed as text in the console."""

    def get_value(self, value):
        if STRING in value:
            return value[STRING].strip()
        return super().get_value(value)


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


class SessionClass(MapAttribute):
    name = UnicodeAttribute()
    cancelled = LenientBooleanAttribute(default=False)


class ReminderSettings(MapAttribute):
    """The clinic's `reminders` map. Only `show_provider` is read so far (the calendar events
    name the provider unless the clinic hides it); a value that is not a map reads as unset."""

    show_provider = LenientBooleanAttribute(null=True)

    def get_value(self, value):
        return value.get(MAP, {})


class Clinic(Model):
    class Meta(_Meta):
        pass

    clinic_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    phone = UnicodeAttribute(default="")
    admin_email = UnicodeAttribute(default="")
    patient_cancel_enabled = LenientBooleanAttribute(default=True)
    cancel_cutoff_hours = LenientNumberAttribute(default=0)
    cancel_notice = UnicodeAttribute(null=True)
    session_classes = ListAttribute(of=SessionClass, default=list)
    reminders = ReminderSettings(null=True)
    # Settings edits are optimistic: two staff saving at once cannot overwrite each other,
    # and a visit is only created against the settings it was validated with.
    version = VersionAttribute()


class PatientsByClinic(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_clinic"
        projection = AllProjection()

    clinic_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


class Patient(Model):
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
    by_clinic = PatientsByClinic()


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


class Visit(Model):
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


class HistoryEvent(Model):
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


class CalendarFeed(Model):
    """A patient's private calendar feed, found by the SHA-256 of the secret in its address (the
    secret itself is stored nowhere). At most one per patient: the patient item names it."""

    class Meta(_Meta):
        pass

    feed_hash = UnicodeAttribute(hash_key=True)
    patient_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


# Each model and the kind of table it lives in (`Settings.table(kind)`).
TABLES = {
    Clinic: "clinics",
    Patient: "patients",
    Visit: "visits",
    HistoryEvent: "history",
    CalendarFeed: "calendar-feeds",
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
