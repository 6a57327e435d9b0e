"""`chalice local`, answering as the deployed API Gateway does.

Chalice's local gateway runs our custom authorizer, but answers a missing token with API
Gateway's bare `{"message": "Unauthorized"}`, an authorizer that fails with "Unauthorized"
(API Gateway's 401 convention) with a 500, and an unknown route with 403 "Missing
Authentication Token". The deployed stack configures gateway responses that give the
contract's `{"Code", "Message"}` shape (401, and 404 for an unknown route); this does the
same locally, so tests and `make run` see exactly what the portal sees on AWS.
"""
import json
from http.server import BaseHTTPRequestHandler

from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    ForbiddenError,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib.auth import Unauthorized

UNKNOWN_ROUTE_BODY = json.dumps({"Code": "NotFoundError", "Message": "There is no such route."}).encode()
UNAUTHORIZED_BODY = json.dumps({
    "Code": "UnauthorizedError",
    "Message": "Sign in to continue: the request has no valid token.",
}).encode()


class _GatewayAuthorizer(LocalGatewayAuthorizer):
    def authorize(self, raw_path, lambda_event, lambda_context):
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except (NotAuthorizedError, Unauthorized):
            raise NotAuthorizedError(
                {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException",
                 "Content-Type": "application/json"},
                UNAUTHORIZED_BODY,
            ) from None


_NO_ROUTE_MARKERS = (b"Missing Authentication Token", b"Authorization header requires")


class UnknownRoute(LocalGatewayException):
    CODE = 404


class PortalLocalGateway(LocalGateway):
    def __init__(self, app_object, config):
        super().__init__(app_object, config)
        self._authorizer = _GatewayAuthorizer(app_object)

    def handle_request(self, method, path, headers, body):
        try:
            return super().handle_request(method, path, headers, body)
        except ForbiddenError as error:
            # API Gateway's answers for a path no route matches, without and with a token.
            if not any(marker in (error.body or b"") for marker in _NO_ROUTE_MARKERS):
                raise
            raise UnknownRoute({**error.headers, "Content-Type": "application/json"}, UNKNOWN_ROUTE_BODY) from None


class _RequestHandler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = PortalLocalGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_message(self, format, *args):  # the service's own JSON logs say enough
        pass


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
