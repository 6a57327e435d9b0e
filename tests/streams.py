"""A pytest plugin (loaded by conftest.py): stream records built from real items, and the fixtures that
deliver them to the stream functions as Lambda's event source mappings do."""

import itertools
import time
import uuid

import boto3
import pytest

from chalicelib.models import Clinic, Visit

# The handlers read the images, not which stream they came from.
STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/portal-test-visits/stream/2026-01-01T00:00:00.000"
CLINICS_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/portal-test-clinics/stream/2026-01-01T00:00:00.000"
_SEQUENCE = itertools.count(1)


@pytest.fixture(scope="session")
def dynamodb(aws):
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws.endpoint)


@pytest.fixture
def snapshot(dynamodb):
    """The visit item as DynamoDB holds it: a stream image."""

    def read(world, visit_id, patient="Alex"):
        key = {"patient_id": {"S": world.patients[patient]}, "visit_id": {"S": visit_id}}
        return dynamodb.get_item(TableName=Visit.Meta.table_name, Key=key, ConsistentRead=True).get("Item")

    return read


@pytest.fixture
def changed(snapshot):
    """The stream record of one write: the item before and after `write()`."""

    def record_of(world, visit_id, write, patient="Alex"):
        before = snapshot(world, visit_id, patient)
        write()
        return stream_record(before, snapshot(world, visit_id, patient))

    return record_of


def stream_record(old=None, new=None, event_name=None):
    """A DynamoDB stream record as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    image = new or old or {}
    change = {
        "ApproximateCreationDateTime": time.time(),
        "SequenceNumber": f"{next(_SEQUENCE):021d}",
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Keys": {key: image[key] for key in ("patient_id", "visit_id") if key in image},
    }
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name or ("MODIFY" if old and new else "INSERT" if new else "REMOVE"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
        "dynamodb": change,
    }


def clinic_record(new, old=None, event_name=None):
    """A record of the clinics table's stream (NEW_AND_OLD_IMAGES): the clinic item as saved, and before."""
    change = {
        "ApproximateCreationDateTime": time.time(),
        "SequenceNumber": f"{next(_SEQUENCE):021d}",
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Keys": {"clinic_id": new["clinic_id"]},
        "NewImage": new,
    }
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name or "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": CLINICS_STREAM_ARN,
        "dynamodb": change,
    }


@pytest.fixture
def clinic_saved(dynamodb, client):
    """Delivers the clinics-stream record of the clinic as it is stored now to the clinic-changes function."""

    def deliver_clinic(world):
        key = {"clinic_id": {"S": world.clinic_id}}
        item = dynamodb.get_item(TableName=Clinic.Meta.table_name, Key=key, ConsistentRead=True)["Item"]
        return client.lambda_.invoke("clinic_changes", {"Records": [clinic_record(item)]}).payload

    return deliver_clinic
