"""Counts the AWS requests this process makes, whoever makes them, with botocore's event hooks.

A botocore client copies its session's event emitter when it is created, and pynamodb makes
a botocore session (and client) of its own, so a hook registered on one session misses the
others. `on_every_new_client` wraps `botocore.session.Session.create_client` (boto3 goes
through it too) so that every client created afterwards gets the hooks: install before
anything creates a client. `before-call` counts one API call; `after-call` reads
`ScannedCount`/`Count` (and the items of key reads) from the parsed response.
"""

import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

import botocore.session

_HOOK_IDS = ("bench-request-counter-before", "bench-request-counter-after")
_client_hooks: list[Callable] = []
_original_create_client = None


def on_every_new_client(hook: Callable) -> None:
    """Calls `hook(client)` for every botocore client created from now on, by anyone."""
    global _original_create_client
    if _original_create_client is None:
        original = _original_create_client = botocore.session.Session.create_client

        def create_client(session, *args, **kwargs):
            client = original(session, *args, **kwargs)
            for hook_client in list(_client_hooks):
                hook_client(client)
            return client

        botocore.session.Session.create_client = create_client
    if hook not in _client_hooks:
        _client_hooks.append(hook)


def stop_hooking(hook: Callable) -> None:
    """Clients already hooked keep their hooks; new ones no longer get this one."""
    global _original_create_client
    if hook in _client_hooks:
        _client_hooks.remove(hook)
    if not _client_hooks and _original_create_client is not None:
        botocore.session.Session.create_client = _original_create_client
        _original_create_client = None


class Tally:
    """What one measured stretch of code cost in AWS requests and DynamoDB items."""

    def __init__(self):
        self.calls: Counter = Counter()  # (service id, operation) -> API calls
        self.examined = 0  # items DynamoDB read to answer (ScannedCount; key reads: the items found)
        self.returned = 0  # items DynamoDB returned (Count; key reads: the items found)
        self.bytes_received = 0  # bytes of DynamoDB's answers (the HTTP bodies)

    def requests(self, service: str | None = None) -> int:
        return sum(n for (svc, _), n in self.calls.items() if service is None or svc == service)

    def count(self, operation: str, service: str = "dynamodb") -> int:
        return self.calls[(service, operation)]

    def summary(self) -> str:
        return ", ".join(f"{svc}.{op}×{n}" for (svc, op), n in sorted(self.calls.items())) or "nothing"


def _items_read(operation: str, parsed: dict):
    """(examined, returned) for one DynamoDB response."""
    if operation in ("Query", "Scan"):
        return parsed.get("ScannedCount", 0), parsed.get("Count", 0)
    if operation == "GetItem":
        found = 1 if parsed.get("Item") else 0
    elif operation == "BatchGetItem":
        found = sum(len(items) for items in parsed.get("Responses", {}).values())
    elif operation == "TransactGetItems":
        found = sum(1 for response in parsed.get("Responses", []) if response.get("Item"))
    else:
        return 0, 0
    return found, found  # a read by key examines exactly what it finds


class RequestCounter:
    """`total` counts everything since `install()`; `measure()` counts one stretch of code."""

    def __init__(self):
        self.total = Tally()
        self._open: list[Tally] = []
        self._lock = threading.Lock()

    def install(self) -> "RequestCounter":
        on_every_new_client(self.hook)
        return self

    def uninstall(self) -> None:
        stop_hooking(self.hook)

    def hook(self, client) -> None:
        """Counts this client's calls (also usable on a client made before `install()`)."""
        client.meta.events.register("before-call", self._before_call, unique_id=_HOOK_IDS[0])
        client.meta.events.register("after-call", self._after_call, unique_id=_HOOK_IDS[1])

    @contextmanager
    def measure(self):
        """`with counter.measure() as tally:` counts only what happens inside the block."""
        tally = Tally()
        with self._lock:
            self._open.append(tally)
        try:
            yield tally
        finally:
            with self._lock:
                self._open.remove(tally)

    def _before_call(self, event_name: str, **_):
        _, service, operation = event_name.split(".", 2)
        with self._lock:
            for tally in (self.total, *self._open):
                tally.calls[(service, operation)] += 1

    def _after_call(self, event_name: str, parsed=None, http_response=None, **_):
        _, service, operation = event_name.split(".", 2)
        if service != "dynamodb" or not parsed or getattr(http_response, "status_code", 500) >= 300:
            return
        examined, returned = _items_read(operation, parsed)
        received = len(getattr(http_response, "content", b"") or b"")
        with self._lock:
            for tally in (self.total, *self._open):
                tally.examined += examined
                tally.returned += returned
                tally.bytes_received += received


class JwksFetches:
    """Counts PyJWKClient key-set downloads, of every instance (the wrap is on the class)."""

    def __init__(self):
        self.count = 0
        self._original = None

    def install(self) -> "JwksFetches":
        import jwt

        if self._original is None:
            original = self._original = jwt.PyJWKClient.fetch_data
            fetches = self

            def fetch_data(client, *args, **kwargs):
                fetches.count += 1
                return original(client, *args, **kwargs)

            jwt.PyJWKClient.fetch_data = fetch_data
        return self

    def uninstall(self) -> None:
        import jwt

        if self._original is not None:
            jwt.PyJWKClient.fetch_data = self._original
            self._original = None
