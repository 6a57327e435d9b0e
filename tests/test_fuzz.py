"""Schemathesis against the running local stack: the API answers every input as its description says.

The stack is `python -m local.run` (what `make run` runs) in a subprocess on free ports, with
its own emulator and demo data, started once for this module and stopped with SIGTERM. The
fuzzing changes that data freely (staff may turn off cancellation, move or cancel visits), so
nothing else uses this stack: every other test builds its own clinic on the test client.

Bounded and reproducible: a fixed seed, `FUZZ_MAX_EXAMPLES` generated cases per operation and
phase, and with `CI` set, derandomized generation and no example database. For a deeper run:
`FUZZ_MAX_EXAMPLES=500 FUZZ_SEED=$RANDOM .venv/bin/python -m pytest tests/test_fuzz.py`.
"""

import os
import time
import warnings
from itertools import count
from pathlib import Path

import hypothesis
import jwt
import pytest
import requests
import schemathesis
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from local import demo
from tests.local_stack import LocalStack, log_in_staff

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "chalicelib" / "openapi.yaml"
SEED = int(os.environ.get("FUZZ_SEED", "20261126"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_STATEFUL_SCENARIOS", "25"))
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]

schema = schemathesis.openapi.from_path(SPEC_PATH)
schema.config.seed = SEED
schema.config.generation.update(
    modes=["positive", "negative"],
    max_examples=MAX_EXAMPLES,
    deterministic=IN_CI,
    database="none" if IN_CI else None,
)


# ID tokens are honoured 10 minutes (chalicelib/auth.py); log in again well before that.
TOKEN_REUSE_SECONDS = 8 * 60


class Stack:
    """The running stack and the demo logins' tokens, renewed before the API would refuse them."""

    def __init__(self, running: LocalStack):
        self.url = running.url
        self.log = running.log_path
        self._staff_secret, _northside = running.staff_totp_secrets()
        self._logged_in_at: float | None = None  # not yet (monotonic time starts at boot: no 0.0)
        self._tokens: dict[str, dict] = {}

    def _fresh(self) -> dict[str, dict]:
        if self._logged_in_at is None or time.monotonic() - self._logged_in_at > TOKEN_REUSE_SECONDS:
            self._tokens = {
                "patient": _log_in(self.url, demo.ALEX[2], demo.PATIENT_PASSWORD),
                "staff": log_in_staff(self.url, *demo.STAFF_LOGIN, self._staff_secret),
            }
            self._logged_in_at = time.monotonic()
        return self._tokens

    @property
    def patient_token(self) -> str:
        return self._fresh()["patient"]["id_token"]

    @property
    def patient_access_token(self) -> str:
        return self._fresh()["patient"]["access_token"]

    @property
    def staff_token(self) -> str:
        return self._fresh()["staff"]["id_token"]

    def token_for(self, path: str):
        """The right role's token for a route, or None for the public ones."""
        if path.startswith("/portal/"):
            return self.patient_token
        if path.startswith("/clinic/"):
            return self.staff_token
        return None

    def headers_for(self, path: str):
        token = self.token_for(path)
        return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="session")
def stack():
    running = LocalStack("fuzz-stack.log").start()
    try:
        yield Stack(running)
    finally:
        assert running.stop() == 0, f"`python -m local.run` did not stop cleanly on SIGTERM; see {running.log_path}"


def _log_in(url: str, username: str, password: str) -> dict:
    response = requests.post(f"{url}/auth/login", json={"username": username, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# --- Auth on every protected operation ----------------------------------------------------

SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
PROTECTED = [
    (path, method.upper())
    for path, item in SPEC["paths"].items()
    for method in item
    if method in {"get", "put", "post", "patch", "delete"}
    and (path.startswith("/portal/") or path.startswith("/clinic/"))
]
BAD_TOKENS = ["none", "empty bearer", "garbage", "another key", "access token"]


def _request_for(path: str, method: str):
    """A well-formed request for the operation: its first request-body example, a demo visit id."""
    operation = SPEC["paths"][path][method.lower()]
    body = None
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]["application/json"]
        body = content["example"] if "example" in content else next(iter(content["examples"].values()))["value"]
    return path.replace("{visit_id}", "vis_demo_03"), body


def _bad_authorization(stack: Stack, kind: str):
    if kind == "none":
        return {}
    if kind == "empty bearer":
        return {"Authorization": "Bearer "}
    if kind == "garbage":
        return {"Authorization": "Bearer not-a-jwt"}
    if kind == "another key":
        # The same claims and key id as a real token, signed by a key that is not the pool's.
        claims = jwt.decode(stack.patient_token, options={"verify_signature": False})
        kid = jwt.get_unverified_header(stack.patient_token).get("kid")
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return {"Authorization": f"Bearer {jwt.encode(claims, other, algorithm='RS256', headers={'kid': kid})}"}
    if kind == "access token":
        return {"Authorization": f"Bearer {stack.patient_access_token}"}
    raise AssertionError(kind)


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"Code", "Message"}
    assert body["Code"] == code
    assert isinstance(body["Message"], str) and body["Message"]


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("path, method", PROTECTED)
def test_protected_operations_refuse_a_missing_or_invalid_token_with_401(stack, path, method, kind):
    url_path, body = _request_for(path, method)
    response = requests.request(
        method, stack.url + url_path, json=body, headers=_bad_authorization(stack, kind), timeout=10
    )
    _assert_error(response, 401, "UnauthorizedError")


@pytest.mark.parametrize("path, method", PROTECTED)
def test_protected_operations_refuse_the_other_roles_token_with_403(stack, path, method):
    url_path, body = _request_for(path, method)
    other_role = stack.staff_token if path.startswith("/portal/") else stack.patient_token
    response = requests.request(
        method, stack.url + url_path, json=body, headers={"Authorization": f"Bearer {other_role}"}, timeout=10
    )
    _assert_error(response, 403, "ForbiddenError")


def test_the_stack_serves_the_spec_it_is_fuzzed_against(stack):
    response = requests.get(f"{stack.url}/openapi.yaml", timeout=10)
    assert response.status_code == 200
    assert yaml.safe_load(response.text) == SPEC


# --- Flows along the spec's links, on the demo data as seeded -----------------------------

_unique = count(1)


def _run_flows(stack, operations):
    machine = schema.include(path_regex=operations).as_state_machine()

    class Flow(machine):
        def before_call(self, case):
            # A new patient's email is a login, so the same generated address twice is a 409 the
            # second time; made unique, a create succeeds (or fails) the same way every scenario.
            body = case.body
            if case.path == "/clinic/patients" and isinstance(body, dict) and "@" in str(body.get("email")):
                local, _, domain = body["email"].partition("@")
                body["email"] = f"{local[:40]}.{next(_unique)}@{domain}"

        def get_call_kwargs(self, case):
            return {"base_url": stack.url, "headers": stack.headers_for(case.path)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    try:
        # Generation only, as Schemathesis' own runner does: replaying a scenario against a server
        # whose data it changed cannot give the same responses, so shrinking would only be noise.
        Flow.run(
            settings=hypothesis.settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=6,
                deadline=None,
                derandomize=IN_CI,
                database=None,
                phases=[hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    except hypothesis.errors.FlakyStrategyDefinition as error:
        # The same choices met different data (a patient created in one scenario makes the next
        # scenario's create a 409), so Hypothesis stops choosing. That is not an answer outside the
        # description: a check that failed raises its own error, not this one.
        warnings.warn(f"Stateful run ended early, Hypothesis could not go on choosing: {error}", stacklevel=1)


def test_patient_flows_list_respond_list_change_stay_within_the_description(stack):
    _run_flows(stack, "^/portal/")


def test_staff_flows_create_schedule_and_change_visits_stay_within_the_description(stack):
    _run_flows(stack, "^/clinic/(patients|sessions)")


# --- Every operation, positive and negative inputs (last: it changes the clinic's settings) --


@schema.parametrize()
def test_the_api_answers_every_input_as_described(case, stack):
    case.call_and_validate(base_url=stack.url, headers=stack.headers_for(case.path), checks=CHECKS)
