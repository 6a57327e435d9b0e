"""The tables' streams, each read once: every record goes to every consumer of its table.

DynamoDB Streams allow two simultaneous readers per shard before throttling, and several
features need the same changes, so one function per stream hands each record to each consumer
in turn:
- the visits stream: the clinic's emails, the visit history, the visit's reminders (armed when
  it is scheduled or moved);
- the clinics stream: emails kept for want of a valid address (sent once one is saved), and the
  reminders of the clinic's upcoming visits (re-armed when its reminder settings change).

Each consumer is idempotent on its own. A consumer that fails marks only its own record for
retry (Powertools' batch processor reports it in `batchItemFailures`), and only after every
other consumer has had the record: a failing history write does not hold back the email of the
same record, and the retry repeats nothing already done.
"""

from collections.abc import Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib import history, notifications, reminders
from chalicelib.logs import logger

# (name, consumer): a consumer takes one record as Lambda delivers it (raw DynamoDB JSON images).
Consumers = tuple[tuple[str, Callable[[dict], object]], ...]
VISIT_CONSUMERS: Consumers = (
    ("clinic email", notifications.email_clinic),
    ("visit history", history.record_change),
    ("reminders", reminders.arm),
)
CLINIC_CONSUMERS: Consumers = (
    ("kept clinic emails", notifications.send_kept_emails_for),
    ("reminders", reminders.rearm_for),
)


def handle_visit_changes(event: dict, context=None) -> dict:
    """One batch of the visits stream, as Lambda delivers it → `{"batchItemFailures": [...]}`."""
    return _handle(event, context, VISIT_CONSUMERS)


def handle_clinic_changes(event: dict, context=None) -> dict:
    """One batch of the clinics stream → `{"batchItemFailures": [...]}`."""
    return _handle(event, context, CLINIC_CONSUMERS)


def _handle(event: dict, context, consumers: Consumers) -> dict:
    notifications.register_invocation(context)
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

    def dispatch(record: DynamoDBRecord) -> None:
        _dispatch(record, consumers)

    return process_partial_response(event=event, record_handler=dispatch, processor=processor, context=context)


def _dispatch(record: DynamoDBRecord, consumers: Consumers) -> None:
    raw = record.raw_event
    failures = []
    for name, consume in consumers:
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
