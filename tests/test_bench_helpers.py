"""The bench's own instruments (`make bench` itself is not run by the suite): the request
counter sees every client's calls and reads items from responses, replay answers without
the emulator, stream events have Lambda's shape, and budgets are judged as documented."""

import uuid
from datetime import timedelta

import boto3
import pytest

from bench import feed, run, stream
from bench.counting import RequestCounter
from bench.replay import Replay
from chalicelib import config, runtime
from chalicelib.domain import PATIENT_ACTOR
from chalicelib.models import Visit


@pytest.fixture
def counter():
    counting = RequestCounter().install()
    yield counting
    counting.uninstall()


def _dynamodb(aws):
    return boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name="us-east-1")


def test_counter_counts_a_call_of_a_boto3_client_made_after_install(aws, counter):
    client = _dynamodb(aws)
    with counter.measure() as tally:
        client.list_tables()
    assert tally.count("ListTables") == 1
    assert tally.requests() == 1


def test_counter_counts_a_call_of_a_pynamodb_connection_with_its_own_session(aws, counter):
    from pynamodb.connection import Connection

    connection = Connection(region="us-east-1", host=aws.endpoint)
    with counter.measure() as tally:
        connection.list_tables()
    assert tally.calls[("dynamodb", "ListTables")] == 1


def test_counter_reads_items_examined_and_returned_from_a_filtered_query(aws, counter, clinic):
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
            TableName=f"bench-replay-{uuid.uuid4().hex[:8]}",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        )
        with replay.replaying():
            replayed = client.list_tables()["TableNames"]
        assert replayed == before
        assert len(client.list_tables()["TableNames"]) == len(before) + 1
    finally:
        replay.uninstall()


def _visit(number: int):
    return Visit(
        "pat_bench_test",
        f"vis_bench_test_{number}",
        clinic_id="cln_bench_test",
        patient_name="Ari",
        starts_at="2030-01-02T15:00:00Z",
        duration_minutes=50,
        provider="Dr. Maya Patel",
        location="Room 2",
        session_class="Individual therapy",
        completed=False,
    )


def test_stream_record_reads_back_through_chalice_as_a_patient_cancel():
    from chalice.app import DynamoDBEvent

    event = {
        "Records": [
            stream.record(
                *stream.patient_cancels(_visit(1), "2030-01-01T10:00:00Z"),
                "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                "us-east-1",
                7,
            )
        ]
    }
    (parsed,) = list(DynamoDBEvent(event, context=None))
    new, old = Visit.from_raw_data(parsed.new_image), Visit.from_raw_data(parsed.old_image)
    assert parsed.event_name == "MODIFY"
    assert (new.patient_response, new.changed_by) == ("CLIENT_CANCELLED", "patient")
    assert new.change_id and old.patient_response is None
    assert parsed.keys == {"patient_id": {"S": "pat_bench_test"}, "visit_id": {"S": "vis_bench_test_1"}}


def test_stream_measure_counts_requests_and_emails_of_a_handler(aws, counter):
    """A stand-in for the real `visit_changes` handler, to prove the stream bench works."""
    from chalice import Chalice
    from chalice.test import Client

    fake = Chalice(app_name="bench-stream-test")
    ses = boto3.client("ses", endpoint_url=aws.endpoint, region_name="us-east-1")

    @fake.on_dynamodb_record(stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", name=stream.HANDLER)
    def visit_changes(event):
        for record in event:
            if Visit.from_raw_data(record.new_image).changed_by == PATIENT_ACTOR:
                ses.send_email(
                    Source=aws.settings.sender_email,
                    Destination={"ToAddresses": ["clinic@tests.example"]},
                    Message={
                        "Subject": {"Data": "Cancellation request: Ari"},
                        "Body": {"Text": {"Data": "Ari cancelled."}},
                    },
                )

    with Client(fake, stage_name="test", project_dir=str(run.ROOT)) as client:
        figures = stream.measure(
            client, counter, [_visit(n) for n in range(13)], "arn:x", "us-east-1", "2030-01-01T10:00:00Z"
        )
    assert figures["stream_requests_no_email"] == 0  # this stand-in keeps no history
    assert figures["emails_sent"] == figures["emails_expected"] == 12
    assert figures["emails_per_s"] > 0


def _figures(**changes):
    figures = {
        "list_requests": 2,
        "respond_requests": 2,
        "scans": 0,
        "read_amplification": 1.0,
        "jwks_fetches_warm": 0,
        "stream_requests_no_email": None,
        "history_writes_per_record": 1,
        "history_requests": 2,
        "history_read_amplification": 1.0,
        "feed_requests": 3,
        "overhead_ratio": 1.5,
        "import_ratio": 1.6,
        "clinic_page_requests": 2,
        "clinic_page_kib_max": 206.5,
        "emails_per_s": None,
        "reminder_arm_requests": 1,
        "reminder_send_requests": 7,
    }
    figures.update(changes)
    return figures


def test_a_figure_that_could_not_be_measured_fails():
    rows, failed = run.judge(_figures(stream_error="the stream handler raised KeyError: 'x'"))
    assert failed == ["stream_requests_no_email", "emails_per_s"]
    assert any(row[0] == "stream_requests_no_email" and "KeyError" in row[4] for row in rows)


def test_a_figure_over_its_budget_fails():
    _, failed = run.judge(
        _figures(
            list_requests=3,
            overhead_ratio=2.01,
            stream_requests_no_email=1,
            emails_per_s=40.0,
            emails_sent=30,
            emails_expected=30,
        )
    )
    assert failed == ["list_requests", "overhead_ratio"]


def test_a_stream_handler_that_sends_the_wrong_number_of_emails_fails():
    figures = _figures(stream_requests_no_email=1, emails_per_s=40.0, emails_sent=29, emails_expected=30)
    _, failed = run.judge(figures)
    assert failed == ["emails_per_s"]


@pytest.fixture
def three_visits_with_a_counter(clinic, counter):
    """Alex with three upcoming visits, and the models' clients made afresh so the counter sees them."""
    runtime.bind(config.current())
    for days in (1, 2, 3):
        clinic.add_visit("Alex", timedelta(days=days))
    return clinic


def test_the_feed_figures_count_a_polls_requests_and_bytes(client, three_visits_with_a_counter, counter):
    figures = feed.measure(client, counter, three_visits_with_a_counter.token_for("Alex"), expected_events=3)

    assert (figures["feed_requests_small"], figures["feed_requests_304"], figures["feed_visits"]) == (3, 3, 3)
    assert figures["feed_read_amplification"] == 1.0
    assert 100 < figures["feed_bytes_per_visit"] < 2000
    assert figures["feed_dynamodb_bytes_per_visit"] > 0
    assert feed.requests_at(client, counter, figures["feed_path"]) == 3


def test_a_feed_with_another_number_of_visits_breaks_the_measurement(client, three_visits_with_a_counter, counter):
    with pytest.raises(feed.FeedBroken, match="3 visits, not 4"):
        feed.measure(client, counter, three_visits_with_a_counter.token_for("Alex"), expected_events=4)


def test_percentiles():
    assert run.median([3, 1, 2]) == 2
    assert run.p95(list(range(1, 101))) == 95
    assert run.ratio([4, 4, 4], [2, 2, 2]) == 2.0
