"""A patient's private calendar feed: an address with a long random secret in it, which calendar
apps poll without logging in (they cannot), and which the patient can replace or stop.

Only the secret's SHA-256 is stored: as the key of the feed's item (`CalendarFeed`, naming the
patient and clinic) and on the patient's item (`calendar_feed_hash`), so neither the tables, a
backup nor the console ever hold a working address. 256 random bits need no slow hash: nobody
can guess one, however fast they hash. Issuing a new feed and stopping one are each one
transaction that moves the patient's item from the feed it was read with to the next one and
deletes the old feed's item: there is never a moment in which two of a patient's feeds work.

Reading a feed is three round trips: the feed's item, then its clinic and patient together
(the patient's item decides: a feed it no longer names is gone, whatever a stale read of the
feed's item says), then one Query of the patient's visits in the feed's window.
"""

import hashlib
import re
import secrets
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, rules, scheduling, times
from chalicelib.auth import Identity
from chalicelib.domain import FeedSchedule, Schedule, language_of, last_change, readable_visits
from chalicelib.errors import Conflict, NotFound
from chalicelib.logs import logger
from chalicelib.models import CalendarFeed, Patient, Visit

SECRET_BYTES = 32  # 256 bits; `secrets.token_urlsafe` writes them as 43 characters
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
# Transactions that lose a race with the patient's other tab are tried again with what is there now.
_ATTEMPTS = 3
_RACE_LOST = {"ConditionalCheckFailed", "TransactionConflict"}
UNKNOWN_FEED = "Unknown calendar feed."


def feed_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_feed(identity: Identity, now: datetime) -> str:
    """A new secret for the patient's feed; the feed they had stops working in the same transaction."""
    for _ in range(_ATTEMPTS):
        patient = scheduling.patient_profile(identity).patient
        secret = secrets.token_urlsafe(SECRET_BYTES)
        feed = CalendarFeed(
            feed_hash(secret),
            patient_id=patient.patient_id,
            clinic_id=patient.clinic_id,
            created_at=times.format_instant(now),
        )
        if _replace(patient, feed):
            logger.info("Calendar feed issued", extra=_ids(patient))
            return secret
    raise Conflict("Your calendar feed changed meanwhile. Please try again.")


def stop_feed(identity: Identity) -> None:
    """The patient's feed stops working; nothing to do when they have none."""
    for _ in range(_ATTEMPTS):
        patient = scheduling.patient_profile(identity).patient
        if patient.calendar_feed_hash is None:
            return
        if _replace(patient, None):
            logger.info("Calendar feed stopped", extra=_ids(patient))
            return
    raise Conflict("Your calendar feed changed meanwhile. Please try again.")


def _ids(patient: Patient) -> dict:
    """What a log line may say: ids, never the secret nor its hash."""
    return {"patient_id": patient.patient_id, "clinic_id": patient.clinic_id}


def _replace(patient: Patient, feed: CalendarFeed | None) -> bool:
    """Moves the patient from the feed they had when read to `feed` (None: no feed), deleting the
    old feed's item, in one transaction. False when something changed since the read."""
    old = patient.calendar_feed_hash
    condition = Patient.clinic_id == patient.clinic_id  # also: the patient still exists
    condition &= Patient.calendar_feed_hash == old if old else Patient.calendar_feed_hash.does_not_exist()
    action = Patient.calendar_feed_hash.set(feed.feed_hash) if feed else Patient.calendar_feed_hash.remove()
    try:
        with TransactWrite(connection=aws.transactions()) as write:
            write.update(patient, actions=[action], condition=condition)
            if feed is not None:
                write.save(feed, condition=CalendarFeed.feed_hash.does_not_exist())
            if old:
                write.delete(CalendarFeed(old))
    except TransactWriteError as error:
        reasons = {reason.code for reason in getattr(error.cause, "cancellation_reasons", None) or [] if reason}
        if reasons & _RACE_LOST:
            return False
        raise
    return True


def feed_schedule(secret: str, now: datetime) -> FeedSchedule:
    """The visits a feed shows: its patient's, at its clinic, from 30 days before the clinic's
    today to 180 days after. Unknown, replaced and stopped secrets are all the same NotFound."""
    if not _SECRET.match(secret):
        raise NotFound(UNKNOWN_FEED)
    key = feed_hash(secret)
    try:
        # Eventually consistent is enough: the patient's item, read transactionally, decides.
        feed = CalendarFeed.get(key)
    except DoesNotExist:
        raise NotFound(UNKNOWN_FEED) from None
    try:
        profile = scheduling.clinic_patient(feed.clinic_id, feed.patient_id)
    except NotFound:
        raise NotFound(UNKNOWN_FEED) from None
    if profile.patient.calendar_feed_hash != key:
        raise NotFound(UNKNOWN_FEED)
    clinic = profile.clinic
    today = clinic.today(now)
    first_day, last_day = rules.feed_range(today)
    first, last = times.day_bounds_utc(first_day, last_day, clinic.tz)
    starts_between = Visit.starts_at.between(times.format_instant(first), times.format_instant(last))
    items = Visit.by_start.query(feed.patient_id, starts_between)
    visits = readable_visits(clinic, (item for item in items if item.clinic_id == feed.clinic_id))
    # The window moves at the clinic's midnight: what the feed holds may change then too.
    window_moved, _ = times.day_bounds_utc(today, today, clinic.tz)
    last_modified = min(max([window_moved, *(last_change(visit) for visit in visits)]), now)
    return FeedSchedule(Schedule(clinic, first_day, last_day, visits), last_modified, language_of(profile.patient))
