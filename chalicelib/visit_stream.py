"""The visits table's stream, read once: every record goes to every consumer.

DynamoDB Streams allow two simultaneous readers per shard before throttling, and several
features need the visits' changes (the clinic's emails, the visit history, reminders), so one
function reads the stream and hands each record to each consumer in turn. Each consumer is
idempotent on its own. A consumer that fails marks only its own record for retry (Powertools'
batch processor reports it in `batchItemFailures`), and only after every other consumer has
had the record: a failing history write does not hold back the email of the same record, and
the retry repeats nothing already done.
"""

from collections.abc import Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib import history, notifications
from chalicelib.logs import logger

# (name, consumer): a consumer takes one record as Lambda delivers it (raw DynamoDB JSON images).
CONSUMERS: tuple[tuple[str, Callable[[dict], object]], ...] = (
    ("clinic email", notifications.email_clinic),
    ("visit history", history.record_change),
)


def handle_batch(event: dict, context=None) -> dict:
    """One batch, as Lambda delivers it → `{"batchItemFailures": [...]}`."""
    notifications.register_invocation(context)
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=_dispatch, processor=processor, context=context)


def _dispatch(record: DynamoDBRecord) -> None:
    raw = record.raw_event
    failures = []
    for name, consume in CONSUMERS:
        try:
            consume(raw)
        except Exception as error:  # the others still get the record; this one is retried
            failures.append(error)
            sequence_number = record.dynamodb.sequence_number if record.dynamodb else None
            logger.warning(
                "A stream consumer failed; its record is reported for retry",
                extra={"consumer": name, "sequence_number": sequence_number, "error": type(error).__name__},
            )
    if failures:
        raise failures[0]
