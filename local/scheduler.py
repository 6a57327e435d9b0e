"""Local mode's stand-in for EventBridge Scheduler: runs the scheduled functions on time, through
the very handlers Lambda runs (moto keeps schedules but never fires them).

The reminder sweep runs every 15 seconds here (every minute on AWS), so a demo reminder goes out
promptly; each email it sends is printed like the others.
"""

import sys
import threading
from datetime import UTC, datetime

from chalice.local import LambdaContext

from local.stream_poller import EmailPrinter

REMINDERS_FUNCTION_NAME = "send_reminders"


class Scheduler:
    def __init__(self, app, printer: EmailPrinter, every_seconds: float = 15.0, name: str = REMINDERS_FUNCTION_NAME):
        self._handler = app.handler_map[name]
        self._name = name
        self._printer = printer
        self._every = every_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Scheduler":
        self._printer.start()
        self._thread = threading.Thread(target=self._run, name=f"scheduler-{self._name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        """One invocation, shaped as EventBridge shapes it."""
        event = {
            "version": "0",
            "id": "local",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{self._name}"],
            "detail": {},
        }
        self._handler(event, LambdaContext(self._name, memory_size=256, max_runtime_ms=60_000))
        self._printer.print_new()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception as error:  # a failed run is retried at the next tick, as EventBridge would
                print(f"scheduler: {self._name} failed ({type(error).__name__}: {error})", file=sys.stderr, flush=True)
            self._stopping.wait(self._every)
