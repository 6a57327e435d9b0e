"""`chalice local`, answering as the deployed API Gateway does.

Chalice's local gateway runs our custom authorizer, but answers a missing token with API
Gateway's bare `{"message": "Unauthorized"}`, and an authorizer that fails with
"Unauthorized" (API Gateway's 401 convention) with a 500. The deployed stack configures
gateway responses that give the contract's `{"Code", "Message"}` 401; this does the same
locally, so tests and `make run` see exactly what the portal sees on AWS.

A path that no route has is the contract's 404 with the same shape: Chalice answers it with
API Gateway's default 403, whose message repeats the request's Authorization header (a
token, in an error), and drops the connection when that header is not ASCII.

Like API Gateway, it caches the custom authorizer's answer per token for the authorizer's
`ttl_seconds` and reuses it for every route: a warm request does not run the authorizer (nor the
read of a patient's clinics it makes), in `make run`, the tests and the benchmark as on AWS.

Answers without content are framed as HTTP says: `chalice local` writes a body after the
headers of every answer, which for a HEAD (or a 204, a 304) leaves bytes on a kept-alive
connection that the client takes for the start of its next answer.

Answers are gzip-compressed as API Gateway compresses them: when the client accepts gzip and the
body has at least `minimum_compression_size` bytes (the same setting, from .chalice/config.json).
"""

import functools
import gzip
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from chalice.app import ChaliceAuthorizer
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib import auth
from chalicelib.auth import Unauthorized

UNAUTHORIZED_BODY = json.dumps(
    {
        "Code": "UnauthorizedError",
        "Message": "Sign in to continue: the request has no valid token.",
    }
).encode()
NOT_FOUND_BODY = json.dumps({"Code": "NotFoundError", "Message": "There is no such path."}).encode()
_NO_CONTENT = (204, 304)  # statuses whose answers never have content (RFC 9110 §15.3.5, §15.4.5)
CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"


@functools.cache
def compression_threshold() -> int | None:
    """The deployed API's `minimum_compression_size` (bytes); None: API Gateway compresses nothing."""
    value = json.loads(CHALICE_CONFIG.read_text()).get("minimum_compression_size")
    return value if isinstance(value, int) else None


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip (listed, or `*`, with a q-value above 0)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = params.strip().lower()
        try:
            return not quality.startswith("q=") or float(quality[2:]) > 0
        except ValueError:
            return False
    return False


class _NoSuchRoute(Exception):
    """Not a ValueError, so Chalice's own route-not-found answer never runs."""


class _NotFound(LocalGatewayException):
    CODE = 404


_DEFAULT_TTL = 300  # API Gateway's, when an authorizer names none
_MAX_CACHED = 10_000


class _GatewayAuthorizer(LocalGatewayAuthorizer):
    def __init__(self, app_object, cache: dict):
        super().__init__(app_object)
        self._cache = cache  # token → (until, the authorizer's context), shared by the server's requests

    def authorize(self, raw_path, lambda_event, lambda_context):
        route = self._route_for_event(lambda_event)
        authorizer = route.authorizer if route else None
        token = (lambda_event.get("headers") or {}).get("authorization")
        if not isinstance(authorizer, ChaliceAuthorizer) or not token:
            return self._run(raw_path, lambda_event, lambda_context)
        cached = self._cache.get(token)
        if cached and cached[0] > auth.now():
            # Our authorizer allows every route ("*"), so a cached answer is good for any of them.
            lambda_event["requestContext"]["authorizer"] = dict(cached[1])
            return lambda_event, lambda_context
        lambda_event, lambda_context = self._run(raw_path, lambda_event, lambda_context)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        ttl = getattr(authorizer.config, "ttl_seconds", None) or _DEFAULT_TTL
        self._cache[token] = (auth.now() + ttl, dict(lambda_event["requestContext"]["authorizer"]))
        return lambda_event, lambda_context

    def _run(self, raw_path, lambda_event, lambda_context):
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except (NotAuthorizedError, Unauthorized):
            raise NotAuthorizedError(
                {
                    "x-amzn-RequestId": lambda_context.aws_request_id,
                    "x-amzn-ErrorType": "UnauthorizedException",
                    "Content-Type": "application/json",
                    "Cache-Control": "no-store",
                },
                UNAUTHORIZED_BODY,
            ) from None


class PortalLocalGateway(LocalGateway):
    def __init__(self, app_object, config, authorizer_cache: dict | None = None):
        super().__init__(app_object, config)
        self._authorizer = _GatewayAuthorizer(app_object, {} if authorizer_cache is None else authorizer_cache)

    def _generate_lambda_event(self, method, path, headers, body):
        try:
            return super()._generate_lambda_event(method, path, headers, body)
        except ValueError:  # how Chalice's route matcher says "no route has this path"
            raise _NoSuchRoute() from None

    def handle_request(self, method, path, headers, body):
        try:
            return super().handle_request(method, path, headers, body)
        except _NoSuchRoute:
            raise _NotFound({"Content-Type": "application/json", "Cache-Control": "no-store"}, NOT_FOUND_BODY) from None


_SERVER_AUTHORIZER_CACHE: dict = {}  # one per `make run` process, as API Gateway has one per stage


class _RequestHandler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = PortalLocalGateway(app_object, config, _SERVER_AUTHORIZER_CACHE)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_message(self, format, *args):  # the service's own JSON logs say enough
        pass

    def _send_http_response_with_body(self, code, headers, body):
        if self.command != "HEAD" and code not in _NO_CONTENT:
            return super()._send_http_response_with_body(code, headers, self._compressed(headers, body))
        self.send_response(code)
        if code not in _NO_CONTENT:  # HEAD: the length a GET's body would have
            length = len(body if isinstance(body, bytes) else body.encode("utf-8"))
            self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def _compressed(self, headers: dict, body) -> bytes:
        """The body gzip-compressed (and `Content-Encoding` set) when API Gateway would compress it."""
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        threshold = compression_threshold()
        if threshold is None or len(data) < threshold or "Content-Encoding" in headers:
            return data
        # Caches must keep the two forms apart whether or not this client took the compressed one.
        vary = [value.strip() for value in headers.get("Vary", "").split(",") if value.strip()]
        headers["Vary"] = ", ".join([*vary, "Accept-Encoding"])
        if not accepts_gzip(self.headers.get("Accept-Encoding")):
            return data
        headers["Content-Encoding"] = "gzip"
        return gzip.compress(data, mtime=0)

    def __getattr__(self, name):
        # Chalice serves only the methods it has `do_*` handlers for; any other (TRACE, QUERY...)
        # would get http.server's bare HTML 501. Sent to the app instead, it gets the same JSON
        # 405 with an Allow header as any other method a route does not have.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)


def use_portal_gateway(test_client) -> None:
    """Makes a `chalice.test.Client` answer as the deployed gateway does."""
    http = test_client.http
    http._local_gateway = PortalLocalGateway(http._app, http._config)


def dev_server(app, config, host: str, port: int) -> LocalDevServer:
    """What `chalice local` serves, with the gateway above."""
    # As chalice's create_local_server does: a thread-local current_request per request.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=_RequestHandler)
