"""A pytest plugin: which AWS operations each deployed function makes while the tests run.

A botocore `before-parameter-build` hook on every client (it sees the API parameters) records
each call as the IAM action and resource that AWS would authorize it on. A call counts for a
function only while the Chalice test client runs that function: an HTTP request is the API
function (`api_handler`), the custom authorizer inside it is `cognito_id_token`, and
`client.lambda_.invoke(name, ...)` is `name`. What test setup, provisioning and seeding call
outside those is not counted. tests/test_permissions.py, which this plugin runs after every
other test, holds the calls against `.chalice/policy-*.json`.
"""

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import pytest

ACCOUNT = "123456789012"  # moto's account; the policy check resolves ARNs with the same one
LAST = "after_all_other_tests"

_running = contextvars.ContextVar("aws_calls_function", default=None)


@dataclass(frozen=True)
class Call:
    function: str  # the Chalice function name, as in .chalice/config.json "lambda_functions"
    action: str  # the IAM action, e.g. "dynamodb:GetItem"
    resource: str  # the ARN it is authorized on ("*" where the checker cannot tell)
    conditions: tuple[tuple[str, str], ...] = ()  # condition keys with their values in this call
    signed: bool = True  # False for public operations (Cognito InitiateAuth): IAM is not asked
    operation: str = ""  # the API operation, e.g. "TransactWriteItems", for messages

    @property
    def condition_values(self) -> dict[str, str]:
        return dict(self.conditions)


CALLS: set[Call] = set()
INVOKED: set[str] = set()
_run = {"complete": True}


@contextlib.contextmanager
def running(function: str) -> Iterator[None]:
    """Counts the AWS calls made inside the block as `function`'s."""
    INVOKED.add(function)
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


@contextlib.contextmanager
def not_counted() -> Iterator[None]:
    """Calls made inside the block are the test's own (a race it lands in the middle of a function), not
    the running function's."""
    token = _running.set(None)
    try:
        yield
    finally:
        _running.reset(token)


def complete_run() -> bool:
    """True when every test module ran with nothing deselected: only then can a permission that no
    recorded call used be called unused."""
    return _run["complete"]


# --- Turning a botocore call into what IAM authorizes -------------------------------------


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _table(region: str, name: str, index: str | None = None) -> str:
    return _arn("dynamodb", region, f"table/{name}" + (f"/index/{index}" if index else ""))


_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_requests(prefix: str, operation: str, params: dict, region: str) -> list[tuple[str, str, tuple]]:
    """(action, resource, conditions) that IAM evaluates for one API call."""
    if prefix == "dynamodb":
        if operation == "TransactGetItems":  # no IAM action of its own: GetItem on each item
            return [("dynamodb:GetItem", _table(region, i["Get"]["TableName"]), ()) for i in params["TransactItems"]]
        if operation == "TransactWriteItems":  # likewise PutItem/UpdateItem/DeleteItem/ConditionCheckItem
            return [
                (f"dynamodb:{_TRANSACT_WRITE[kind]}", _table(region, body["TableName"]), ())
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", _table(region, name), ()) for name in params["RequestItems"]]
        if "TableName" in params:
            return [(f"dynamodb:{operation}", _table(region, params["TableName"], params.get("IndexName")), ())]
        if "StreamArn" in params:
            return [(f"dynamodb:{operation}", params["StreamArn"], ())]
    if prefix == "cognito-idp" and "UserPoolId" in params:
        return [(f"cognito-idp:{operation}", _arn("cognito-idp", region, f"userpool/{params['UserPoolId']}"), ())]
    if prefix == "ses" and operation in ("SendEmail", "SendRawEmail"):
        sender = parseaddr(params.get("Source") or params.get("FromEmailAddress") or "")[1]
        conditions = (("ses:FromAddress", sender),)
        requests = [(f"ses:{operation}", _arn("ses", region, f"identity/{sender}"), conditions)]
        if params.get("ConfigurationSetName"):  # SES authorizes the send on the configuration set too
            configuration_set = _arn("ses", region, f"configuration-set/{params['ConfigurationSetName']}")
            requests.append((f"ses:{operation}", configuration_set, conditions))
        return requests
    if prefix == "secretsmanager" and "SecretId" in params:  # the service names secrets by their ARN
        return [(f"secretsmanager:{operation}", params["SecretId"], ())]
    if prefix == "sqs" and "QueueUrl" in params:
        return [(f"sqs:{operation}", _arn("sqs", region, params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]), ())]
    return [(f"{prefix}:{operation}", "*", ())]


def _record(model, params, context=None, **_):
    function = _running.get()
    if function is None:
        return
    service = model.service_model
    prefix = service.signing_name or service.endpoint_prefix
    region = (context or {}).get("client_region") or "us-east-1"
    signed = model.auth_type != "none"
    for action, resource, conditions in iam_requests(prefix, model.name, params, region):
        CALLS.add(Call(function, action, resource, conditions, signed, model.name))


# --- The pytest plugin -----------------------------------------------------------------------


def pytest_configure(config):
    config.addinivalue_line("markers", f"{LAST}: runs after every other test (the AWS permission checks)")
    _install()


def _install() -> None:
    import botocore.session
    from chalice.local import LocalGatewayAuthorizer
    from chalice.test import TestHTTPClient, TestLambdaClient

    if getattr(botocore.session.Session.create_client, "_records_aws_calls", False):
        return
    create_client = botocore.session.Session.create_client

    def recording_create_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", _record)
        return client

    recording_create_client._records_aws_calls = True
    botocore.session.Session.create_client = recording_create_client
    _wrap(TestHTTPClient, "request", lambda *a, **k: "api_handler")
    _wrap(LocalGatewayAuthorizer, "authorize", lambda *a, **k: "cognito_id_token")
    _wrap(TestLambdaClient, "invoke", lambda self, function_name, *a, **k: function_name)


def _wrap(cls, name: str, function_of) -> None:
    original = getattr(cls, name)

    def wrapped(self, *args, **kwargs):
        with running(function_of(self, *args, **kwargs)):
            return original(self, *args, **kwargs)

    setattr(cls, name, wrapped)


def pytest_deselected(items):
    if items:
        _run["complete"] = False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    last = [item for item in items if item.get_closest_marker(LAST)]
    items[:] = [item for item in items if not item.get_closest_marker(LAST)] + last
    test_dir = Path(__file__).parent
    every_module = {path.name for path in test_dir.glob("test_*.py")}
    if not every_module <= {Path(str(item.fspath)).name for item in items}:
        _run["complete"] = False
