"""Visit history: every change to a visit, recorded from the visits table's stream.

Recording from the stream covers every writer (the portal, staff, reminder links, the
operations command, and people editing items in the AWS console) without any of them
remembering to log. `describe` derives one event from a stream record's images (pure);
`record_change` is the stream consumer that stores it exactly once; `events_of` reads a
visit's history back (one Query). What each reader may see is in `views.py`.
"""

from dataclasses import asdict, dataclass

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import stream_images
from chalicelib.domain import SYSTEM_ACTOR, ClinicContext
from chalicelib.logs import logger
from chalicelib.models import Clinic, HistoryEvent
from chalicelib.rules import PatientResponse

CREATED = "created"
CONFIRMED = "confirmed"
CANCEL_REQUESTED = "cancel_requested"
ANSWER_REMOVED = "answer_removed"
MOVED = "moved"
CANCELLED = "cancelled"  # moved into a cancelled-type session class
COMPLETED = "completed"
DETAILS_CHANGED = "details_changed"
REMINDER_SENT = "reminder_sent"
# A visit deleted by hand in the console: kept in the table for the record, never shown by the
# API (the visit, and so its history route, is gone).
DELETED = "deleted"
SHOWN = (
    CREATED,
    CONFIRMED,
    CANCEL_REQUESTED,
    ANSWER_REMOVED,
    MOVED,
    CANCELLED,
    COMPLETED,
    DETAILS_CHANGED,
    REMINDER_SENT,
)

# Attributes that record who wrote and when, or that follow from another change: never a
# change of the visit by themselves.
_BOOKKEEPING = frozenset(
    {"patient_id", "visit_id", "changed_by", "changed_at", "change_id", "revision", "answer_changes", "responded_at",
     "created_at"}
)  # fmt: skip
_RESPONSES = {PatientResponse.CONFIRMED.value: CONFIRMED, PatientResponse.CANCELLED.value: CANCEL_REQUESTED}


@dataclass(frozen=True)
class Event:
    visit_id: str
    event_key: str
    at: str
    by: str
    what: str
    changes: dict
    reason: str | None
    clinic_id: str
    patient_id: str
    change_id: str | None
    stream_event_id: str


# --- What a record means (pure) -----------------------------------------------------------


def changed_fields(old: dict, new: dict) -> dict[str, list]:
    """{field: [before, after]} for every attribute of the visit that differs, as plain values."""
    names = (set(old) | set(new)) - _BOOKKEEPING
    return {
        name: [stream_images.plain(old, name), stream_images.plain(new, name)]
        for name in sorted(names)
        if old.get(name) != new.get(name)
    }


def what_happened(event_name: str, changes: dict, cancelled_classes: frozenset) -> str | None:
    """The one word for a change, the most telling first; None when nothing of the visit changed."""
    if event_name == stream_images.INSERT:
        return CREATED
    if event_name == stream_images.REMOVE:
        return DELETED
    if not changes:
        return None
    if "session_class" in changes:
        before, after = changes["session_class"]
        if after in cancelled_classes and before not in cancelled_classes:
            return CANCELLED
    if "completed" in changes and _yes(changes["completed"][1]) and not _yes(changes["completed"][0]):
        return COMPLETED
    if "starts_at" in changes:
        return MOVED
    if "patient_response" in changes:
        before, after = changes["patient_response"]
        if after in _RESPONSES:
            return _RESPONSES[after]
        if before in _RESPONSES:
            return ANSWER_REMOVED
    return DETAILS_CHANGED


def _yes(value) -> bool:
    """`completed` as the console may hold it: a Boolean, "true" typed as text, or 1."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value) and value is not None


def describe(record: dict, cancelled_classes: frozenset = frozenset()) -> Event | None:
    """The history event of one stream record; None for a write that changed nothing of the visit."""
    event_name = record.get("eventName")
    old, new = stream_images.images(record)
    changes = changed_fields(old, new) if event_name == stream_images.MODIFY else {}
    what = what_happened(event_name, changes, cancelled_classes)
    if what is None:
        return None
    change = record.get("dynamodb") or {}
    image = new or old
    at = stream_images.written_at(record)
    return Event(
        visit_id=stream_images.text(change.get("Keys") or {}, "visit_id") or "",
        event_key=f"{at}#{change.get('SequenceNumber', '')}",
        at=at,
        by=stream_images.writer(record),
        what=what,
        changes=changes,
        reason=_reason(new) if what == CANCEL_REQUESTED else None,
        clinic_id=stream_images.text(image, "clinic_id") or "",
        patient_id=stream_images.text(image, "patient_id") or "",
        change_id=stream_images.text(new, "change_id") if stream_images.is_stamped(record) else None,
        stream_event_id=str(record.get("eventID") or ""),
    )


def _reason(new: dict) -> str | None:
    return (stream_images.text(new, "cancel_reason") or "").strip() or None


# --- Recording (the stream consumer) ------------------------------------------------------


def record_change(record: dict) -> Event | None:
    """Stores the record's event once: a redelivered record finds its key taken and adds nothing.
    Raises (so the record is retried) when the write fails."""
    cancelled_classes = frozenset()
    if record.get("eventName") == stream_images.MODIFY:
        old, new = stream_images.images(record)
        if old.get("session_class") != new.get("session_class"):
            cancelled_classes = _cancelled_classes(stream_images.text(new, "clinic_id"))
    event = describe(record, cancelled_classes)
    if event is None or not event.visit_id:
        return None
    try:
        HistoryEvent(**asdict(event)).save(condition=HistoryEvent.event_key.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return None  # recorded already, by an earlier delivery of this record
    logger.info(
        "Visit history recorded", extra={"visit_id": event.visit_id, "what": event.what, "by_role": _role(event.by)}
    )
    return event


def _cancelled_classes(clinic_id: str | None) -> frozenset:
    """Which session classes are cancelled-type, now; a missing clinic has none."""
    if not clinic_id:
        return frozenset()
    try:
        return ClinicContext.of(Clinic.get(clinic_id, consistent_read=True)).policy.cancelled_classes
    except DoesNotExist:
        return frozenset()


def _role(by: str) -> str:
    """A log line names the kind of writer, never a login (an email address)."""
    return by.split(":", 1)[0]


def record_reminder(reminder, sent_at: str) -> None:
    """A reminder emailed to the patient: not a change of the visit (so not on its stream), but part
    of its history. Keyed by the reminder (its lead time and the start it was for): written once."""
    lead = int(reminder.hours_before)
    event = HistoryEvent(
        reminder.visit_id,
        f"{sent_at}#reminder-{lead}h-{reminder.starts_at}",
        at=sent_at,
        by=SYSTEM_ACTOR,
        what=REMINDER_SENT,
        changes={},
        clinic_id=reminder.clinic_id,
        patient_id=reminder.patient_id,
    )
    try:
        event.save(condition=HistoryEvent.event_key.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


# --- Reading ----------------------------------------------------------------------------


def events_of(visit_id: str) -> list[HistoryEvent]:
    """A visit's shown events, oldest first: one Query."""
    return [event for event in HistoryEvent.query(visit_id, consistent_read=True) if event.what in SHOWN]
