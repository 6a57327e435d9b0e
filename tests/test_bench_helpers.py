"""The bench's own instruments (`make bench` itself is not run by the suite): the request
counter sees every client's calls and reads items from responses; replay answers without
the emulator."""
import uuid

import boto3
import pytest

from bench.counting import RequestCounter
from bench.replay import Replay


@pytest.fixture
def counter():
    counting = RequestCounter().install()
    yield counting
    counting.uninstall()


def _dynamodb(aws):
    return boto3.client("dynamodb", endpoint_url=aws["endpoint"], region_name="us-east-1")


def test_counter_counts_a_call_of_a_boto3_client_made_after_install(aws, counter):
    client = _dynamodb(aws)
    with counter.measure() as tally:
        client.list_tables()
    assert tally.count("ListTables") == 1
    assert tally.requests() == 1


def test_counter_counts_a_call_of_a_pynamodb_connection_with_its_own_session(aws, counter):
    from pynamodb.connection import Connection

    connection = Connection(region="us-east-1", host=aws["endpoint"])
    with counter.measure() as tally:
        connection.list_tables()
    assert tally.calls[("dynamodb", "ListTables")] == 1


def test_counter_reads_items_examined_and_returned_from_a_filtered_query(aws, counter, clinic):
    from chalicelib.models import Visit

    clinic.add_visit("Alex", location="Room 1")
    clinic.add_visit("Alex", location="Room 2")
    with counter.measure() as tally:
        _dynamodb(aws).query(
            TableName=Visit.Meta.table_name,
            KeyConditionExpression="patient_id = :p",
            FilterExpression="#l = :l",
            ExpressionAttributeNames={"#l": "location"},
            ExpressionAttributeValues={":p": {"S": clinic.patients["Alex"]}, ":l": {"S": "Room 1"}},
        )
    assert (tally.examined, tally.returned) == (2, 1)


def test_counter_outside_a_measure_block_counts_only_in_the_total(aws, counter):
    client = _dynamodb(aws)
    with counter.measure() as tally:
        pass
    client.list_tables()
    assert tally.requests() == 0
    assert counter.total.count("ListTables") >= 1


def test_replay_answers_from_the_recorded_response_without_asking_the_emulator(aws):
    replay = Replay().install()
    try:
        client = _dynamodb(aws)
        with replay.recording():
            before = client.list_tables()["TableNames"]
        _dynamodb(aws).create_table(
            TableName=f"bench-replay-{uuid.uuid4().hex[:8]}", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
        with replay.replaying():
            replayed = client.list_tables()["TableNames"]
        assert replayed == before
        assert len(client.list_tables()["TableNames"]) == len(before) + 1
    finally:
        replay.uninstall()
