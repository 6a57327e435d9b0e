"""Local mode's stand-in for Lambda's event source mappings on the tables' streams.

Reads one stream in the emulator and hands each batch, shaped as Lambda shapes it, to the
very handler Lambda runs (`visit_changes` for the visits stream, `clinic_changes` for the clinics
stream: `make run` runs one poller for each). Like Lambda with `ReportBatchItemFailures`, it
retries a batch from the first record the handler reports as failed, with a backoff, and
blocks the shard meanwhile. Each email SES accepted is printed to the console, once, whichever
poller's handler sent it (the pollers share one `EmailPrinter`).
"""

import sys
import threading
from collections.abc import Callable

import boto3
from chalice.local import LambdaContext

from local import emulator
from ops.stream_records import as_lambda_delivers

FUNCTION_NAME = "visit_changes"
CLINICS_FUNCTION_NAME = "clinic_changes"


def print_email(message: emulator.SentEmail) -> None:
    rule = "-" * 72
    print(
        f"\n{rule}\nEmail sent (SES in the emulator)\nFrom:    {message.sender}\nTo:      {', '.join(message.to)}\n"
        f"Subject: {message.subject}\n\n{message.text.rstrip()}\n{rule}\n",
        flush=True,
    )


class EmailPrinter:
    """Hands each email the emulator's SES accepted since `start()` to `on_email`, once."""

    def __init__(self, on_email: Callable[[emulator.SentEmail], None] = print_email):
        self._on_email = on_email
        self._lock = threading.Lock()
        self._seen: int | None = None

    def start(self) -> "EmailPrinter":
        with self._lock:
            if self._seen is None:
                self._seen = len(emulator.sent_emails())
        return self

    def print_new(self) -> None:
        with self._lock:
            sent = emulator.sent_emails()
            for message in sent[self._seen or 0 :]:
                self._on_email(message)
            self._seen = len(sent)


class StreamPoller:
    def __init__(
        self,
        handler: Callable,
        stream_arn: str,
        endpoint: str,
        *,
        start_at: str = "TRIM_HORIZON",
        batch_size: int = 10,
        poll_seconds: float = 0.5,
        first_backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        on_email: Callable[[emulator.SentEmail], None] = print_email,
        printer: EmailPrinter | None = None,
        function_name: str = FUNCTION_NAME,
    ):
        self._handler = handler
        self._stream_arn = stream_arn
        self._streams = boto3.client("dynamodbstreams", region_name=emulator.REGION, endpoint_url=endpoint)
        self._start_at = start_at
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._first_backoff = first_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._printer = printer or EmailPrinter(on_email)
        self._function_name = function_name
        self._printer = printer or EmailPrinter(on_email)
        self._function_name = function_name
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._empty_reads = 0
        self._pending: list[dict] = []
        self._failed_attempts = 0
        self._iterator: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "StreamPoller":
        """Positions on the stream now (so LATEST means "after this call"), then polls on a daemon thread."""
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        # The emulator keeps a single, never-closing shard per stream.
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn,
            ShardId=shards[0]["ShardId"],
            ShardIteratorType=self._start_at,
        )["ShardIterator"]
        self._printer.start()
        self._thread = threading.Thread(target=self._run, name=f"{self._function_name}-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """True once every record written before this call has been handled (and sent, or given up)."""
        with self._idle:
            # A read that comes back empty and began after this call proves the stream is drained;
            # the next empty read may have begun before it, so wait for the one after that.
            target = self._empty_reads + 2
            return self._idle.wait_for(lambda: self._empty_reads >= target, timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception as error:  # the emulator stopping, or a bug here: never kill local mode
                print(
                    f"{self._function_name} stream poller: {type(error).__name__}: {error}", file=sys.stderr, flush=True
                )
                self._stopping.wait(1.0)

    def _step(self) -> None:
        if not self._pending:
            page = self._streams.get_records(ShardIterator=self._iterator, Limit=self._batch_size)
            self._iterator = page["NextShardIterator"]
            self._pending = [as_lambda_delivers(record, self._stream_arn) for record in page["Records"]]
            if not self._pending:
                with self._idle:
                    self._empty_reads += 1
                    self._idle.notify_all()
                self._stopping.wait(self._poll_seconds)
                return
        first_failed = self._deliver(self._pending)
        self._printer.print_new()
        if first_failed is None:
            self._pending, self._failed_attempts = [], 0
            return
        self._pending = self._pending[first_failed:]
        self._failed_attempts += 1
        delay = min(self._max_backoff, self._first_backoff * 2 ** (self._failed_attempts - 1))
        print(
            f"{self._function_name} stream poller: {len(self._pending)} record(s) to retry in {delay:g} s "
            f"(attempt {self._failed_attempts + 1})",
            file=sys.stderr,
            flush=True,
        )
        self._stopping.wait(delay)

    def _deliver(self, batch: list[dict]) -> int | None:
        """Invokes the handler; the position of the first record to retry, or None when all went through."""
        context = LambdaContext(self._function_name, memory_size=256, max_runtime_ms=60_000)
        try:
            response = self._handler({"Records": batch}, context)
        except Exception as error:  # Lambda retries the whole batch when the function fails
            print(
                f"{self._function_name} stream poller: the handler failed ({type(error).__name__}: {error})",
                file=sys.stderr,
                flush=True,
            )
            return 0
        failed = {item.get("itemIdentifier") for item in (response or {}).get("batchItemFailures", [])}
        if not failed:
            return None
        positions = [i for i, record in enumerate(batch) if record["dynamodb"]["SequenceNumber"] in failed]
        return min(positions) if positions else 0  # an unknown identifier fails the whole batch, as in Lambda
