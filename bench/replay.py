"""DynamoDB answered instantly, from recorded responses: our handler's own cost, with no
emulator time on either side of a ratio.

moto spends hundreds of milliseconds building a 100-item Query answer, which hides the
handler's own work when both sides of `overhead_ratio` include it. While replaying, every
DynamoDB request still goes through botocore (signing, the event chain, parsing) and
pynamodb; only the round trip is replaced, by the response recorded for that operation.
"""

from contextlib import contextmanager

from botocore.awsrequest import AWSResponse

from bench.counting import on_every_new_client, stop_hooking

_HOOK_IDS = ("bench-replay-send", "bench-replay-record")


class _Body:
    def __init__(self, content: bytes):
        self._content = content

    def stream(self, **_):
        yield self._content


class Replay:
    def __init__(self):
        self._responses: dict[str, tuple] = {}  # operation -> (url, status, headers, body)
        self._recording = False
        self._replaying = False
        self.missing = set()  # operations asked for while replaying with nothing recorded

    def install(self) -> "Replay":
        on_every_new_client(self.hook)
        return self

    def uninstall(self) -> None:
        stop_hooking(self.hook)

    def hook(self, client) -> None:
        client.meta.events.register("before-send.dynamodb", self._before_send, unique_id=_HOOK_IDS[0])
        client.meta.events.register("after-call.dynamodb", self._after_call, unique_id=_HOOK_IDS[1])

    @contextmanager
    def recording(self):
        """Keeps the last response of each DynamoDB operation made inside the block."""
        self._responses.clear()
        self._recording = True
        try:
            yield
        finally:
            self._recording = False

    @contextmanager
    def replaying(self):
        self._replaying = True
        try:
            yield
        finally:
            self._replaying = False

    def _after_call(self, event_name: str, http_response=None, **_):
        if self._recording and http_response is not None and http_response.status_code == 200:
            operation = event_name.split(".")[2]
            self._responses[operation] = (
                http_response.url,
                http_response.status_code,
                dict(http_response.headers),
                http_response.content,
            )

    def _before_send(self, event_name: str, **_):
        if not self._replaying:
            return None
        operation = event_name.split(".")[2]
        if operation not in self._responses:
            self.missing.add(operation)
            return None  # goes to the emulator; the bench reports the run as broken
        url, status, headers, body = self._responses[operation]
        return AWSResponse(url, status, headers, _Body(body))
