"""The stream figures, from the visits-stream function (`visit_changes` in `app.py`): AWS
requests for a record that needs no email (only its history event), history writes per
record, and clinic emails sent per second.

The handler is invoked as Lambda invokes it, with hand-built DynamoDB stream events whose
images are the service's own items, serialized by pynamodb.
"""

import copy
import json
import time
import uuid

from chalicelib.domain import PATIENT_ACTOR, staff_actor
from chalicelib.rules import PatientResponse

HANDLER = "visit_changes"
BATCH_SIZE = 10  # records per invocation, as an event source mapping batches them
ROOM_CHANGES = 12  # staff changes to one visit, so that its history has something to page through
SEND_OPERATIONS = (("ses", "SendEmail"), ("ses", "SendRawEmail"), ("ses", "SendTemplatedEmail"), ("sesv2", "SendEmail"))


def record(old, new, stream_arn: str, region: str, sequence: int) -> dict:
    """One MODIFY record as Lambda delivers it (stream view NEW_AND_OLD_IMAGES)."""
    images = {"NewImage": new.serialize(), "OldImage": old.serialize()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": stream_arn,
        "awsRegion": region,
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": len(json.dumps(images)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "Keys": {"patient_id": {"S": new.patient_id}, "visit_id": {"S": new.visit_id}},
            **images,
        },
    }


def staff_moves_room(visit, now: str, room: int = 5):
    """Staff edit the location: a change that sends no email, and one history event."""
    new = copy.deepcopy(visit)
    new.location = f"Room {room}, 120 Main St"
    new.changed_by, new.changed_at, new.change_id = staff_actor("front@bench.example"), now, _change_id()
    return visit, new


def patient_cancels(visit, now: str):
    """The patient cancels a visit that had no answer: one email to the clinic."""
    new = copy.deepcopy(visit)
    new.patient_response, new.responded_at = PatientResponse.CANCELLED.value, now
    new.cancel_reason = "Feeling unwell."
    new.changed_by, new.changed_at, new.change_id = PATIENT_ACTOR, now, _change_id()
    return visit, new


def _change_id() -> str:
    return f"chg_{uuid.uuid4().hex[:16]}"


def _failed_records(payload) -> int:
    return len(payload.get("batchItemFailures") or []) if isinstance(payload, dict) else 0


def measure(client, counter, visits: list, stream_arn: str, region: str, now: str) -> dict:
    """`visits`: stored visits awaiting an answer. The first gets ROOM_CHANGES staff room changes,
    one record per invocation; each of the others a patient cancel, sent in batches of BATCH_SIZE."""
    quiet, *cancelled = visits
    failed, requests, history_writes = 0, [], []
    before = quiet
    for room in range(ROOM_CHANGES):
        old, new = staff_moves_room(before, now, room=room + 5)
        with counter.measure() as idle:
            payload = client.lambda_.invoke(
                HANDLER, {"Records": [record(old, new, stream_arn, region, room + 1)]}
            ).payload
        failed += _failed_records(payload)
        requests.append(idle.requests())
        history_writes.append(idle.count("PutItem"))
        before = new

    records = [
        record(*patient_cancels(visit, now), stream_arn, region, sequence)
        for sequence, visit in enumerate(cancelled, start=ROOM_CHANGES + 1)
    ]
    with counter.measure() as sending:
        started = time.perf_counter()
        for first in range(0, len(records), BATCH_SIZE):
            payload = client.lambda_.invoke(HANDLER, {"Records": records[first : first + BATCH_SIZE]}).payload
            failed += _failed_records(payload)
        elapsed = time.perf_counter() - started
    emails = sum(sending.calls[operation] for operation in SEND_OPERATIONS)
    return {
        "stream_requests_no_email": max(requests),
        "stream_calls_no_email": idle.summary(),
        "history_writes_per_record": max(history_writes),
        "history_visit": quiet.visit_id,
        "history_events_written": ROOM_CHANGES,
        "emails_per_s": round(emails / elapsed, 1),
        "emails_sent": emails,
        "emails_expected": len(records),
        "stream_requests_per_email": round(sending.requests() / emails, 2) if emails else None,
        "stream_failed_records": failed,
    }
