"""Reading a visits-stream record: its images, who wrote the change, and when.

Images are raw DynamoDB JSON, and an item may have been edited by hand in the console, so
every read here is tolerant: a value of an unexpected type reads as absent. Pure (no AWS).
"""

from datetime import UTC, datetime
from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer

from chalicelib import times
from chalicelib.domain import CONSOLE_ACTOR, KNOWN_ACTORS, STAFF_ACTOR_PREFIX, SYSTEM_ACTOR

INSERT, MODIFY, REMOVE = "INSERT", "MODIFY", "REMOVE"
_DESERIALIZER = TypeDeserializer()


def images(record: dict) -> tuple[dict, dict]:
    """(old image, new image); an empty dict for the one a record has not (INSERT, REMOVE)."""
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    return (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})


def text(image: dict, name: str) -> str | None:
    """A string attribute; None when absent or of another type (console edits)."""
    value = image.get(name) if isinstance(image, dict) else None
    found = value.get("S") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def plain(image: dict, name: str):
    """An attribute as plain JSON-able Python (text, number, bool, None, list, dict); absent → None."""
    if name not in image:
        return None
    try:
        return _jsonable(_DESERIALIZER.deserialize(image[name]))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None  # not DynamoDB JSON at all


def _jsonable(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return [_jsonable(item) for item in sorted(value, key=str)]
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def is_stamped(record: dict) -> bool:
    """Did the service make this write? Every write of ours sets a new `change_id`; a console
    edit leaves it as it was (and a console-made item has none)."""
    old, new = images(record)
    change_id = text(new, "change_id")
    return bool(change_id) and change_id != text(old, "change_id")


def writer(record: dict) -> str:
    """Who made the change: an actor of ours (`patient`, `staff:<login>`, `reminder-link`,
    `system`), or `console` for a change the service did not stamp."""
    if record.get("eventName") == REMOVE or not is_stamped(record):
        return CONSOLE_ACTOR
    actor = text(images(record)[1], "changed_by") or ""
    if actor in KNOWN_ACTORS or (actor.startswith(STAFF_ACTOR_PREFIX) and len(actor) > len(STAFF_ACTOR_PREFIX)):
        return actor
    return SYSTEM_ACTOR


def written_at(record: dict) -> str:
    """When the change was made: our stamp's time, else when the stream saw it (stored form)."""
    if is_stamped(record):
        stamp = text(images(record)[1], "changed_at")
        try:
            return times.format_instant(times.parse_instant(stamp))
        except (TypeError, ValueError, AttributeError):
            pass
    return instant_of((record.get("dynamodb") or {}).get("ApproximateCreationDateTime"))


def instant_of(epoch_seconds) -> str:
    try:
        return times.format_instant(datetime.fromtimestamp(float(epoch_seconds), tz=UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
