"""Fixtures: moto's server → tables → verified sender → Cognito pool → `chalice.test.Client`.

One emulator serves the whole run (Cognito pools are slow to make); every test builds its
own clinic with unique ids, so tests cannot see each other's data.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app as chalice_app
from chalicelib import aws as aws_clients
from chalicelib.config import Settings
from chalicelib.logs import logger
from chalicelib.models import Clinic, Patient, Visit
from local import emulator, records
from local.gateway import use_portal_gateway
from local.stream_poller import FUNCTION_NAME
from ops.stream_records import as_lambda_delivers

# Records the AWS calls each function makes, for tests/test_permissions.py; builds and delivers stream records.
pytest_plugins = ["aws_calls", "streams"]

ROOT = Path(__file__).resolve().parent.parent
SENDER_EMAIL = "portal-noreply@tests.example"
PASSWORD = "Test-Password-2026!"
TEST_STAGE = "test"  # not in .chalice/config.json: the test client adds no stage variables
TABLE_PREFIX = "portal-test"
PUBLIC_URL = "https://portal.tests.example"  # the portal's address: reminder links and calendar feeds point here


@dataclass(frozen=True)
class Emulated:
    """The emulator the tests run against, and the settings the service is bound to."""

    endpoint: str
    settings: Settings
    visits_stream_arn: str
    clinics_stream_arn: str = ""
    table_prefix: str = TABLE_PREFIX


@pytest.fixture(scope="session")
def aws():
    """The emulator, provisioned; the service is bound to it for the whole run."""
    port = emulator.free_port()
    server = emulator.start(port)
    endpoint = f"http://127.0.0.1:{port}"
    provisioned = emulator.provision(
        endpoint, table_prefix=TABLE_PREFIX, sender_email=SENDER_EMAIL, public_url=PUBLIC_URL
    )
    logger.setLevel("WARNING")
    yield Emulated(endpoint, provisioned.settings, provisioned.visits_stream_arn, provisioned.clinics_stream_arn)
    server.stop()


@pytest.fixture(scope="session")
def app(aws):
    return chalice_app


@pytest.fixture(scope="session")
def client(app):
    with Client(app, stage_name=TEST_STAGE, project_dir=str(ROOT)) as test_client:
        use_portal_gateway(test_client)
        yield test_client


class Api:
    """Calls the API as the portal frontend does, with JSON and a bearer token."""

    def __init__(self, client):
        self._client = client

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json_body=None,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(json_body) if json_body is not None else "")
        response = self._client.http.request(method, path, headers=all_headers, body=data.encode())
        response.text = response.body.decode("utf-8")
        is_json = response.headers.get("Content-Type", "application/json").startswith("application/json")
        response.data = json.loads(response.body) if response.body and is_json else None
        return response

    def get(self, path, token=None, **kw):
        return self.call("GET", path, token, **kw)

    def put(self, path, token=None, json_body=None, **kw):
        return self.call("PUT", path, token, json_body=json_body, **kw)

    def post(self, path, token=None, json_body=None, **kw):
        return self.call("POST", path, token, json_body=json_body, **kw)

    def patch(self, path, token=None, json_body=None, **kw):
        return self.call("PATCH", path, token, json_body=json_body, **kw)

    def delete(self, path, token=None, **kw):
        return self.call("DELETE", path, token, **kw)

    def login(self, email: str, password: str = PASSWORD) -> str:
        response = self.post("/auth/login", json_body={"username": email, "password": password})
        assert response.status_code == 200, response.data
        return response.data["id_token"]

    def staff_login(self, email: str, totp_secret: str, password: str = PASSWORD) -> dict:
        """A staff login: the password, then the authenticator's code. The tokens."""
        challenge = self.post("/auth/login", json_body={"username": email, "password": password})
        assert challenge.status_code == 200 and challenge.data["challenge"] == "SOFTWARE_TOKEN_MFA", challenge.data
        body = {"username": email, "session": challenge.data["session"], "code": records.totp_code(totp_secret)}
        response = self.post("/auth/mfa", json_body=body)
        assert response.status_code == 200, response.data
        return response.data


@pytest.fixture
def api(client):
    return Api(client)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    """One clinic of a test, with its staff login and patients, built through the models."""

    api: Api
    clinic_id: str
    staff_email: str
    admin_email: str
    staff_totp_secret: str
    patients: dict[str, str] = field(default_factory=dict)  # name -> patient_id
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def staff_token(self) -> str:
        if "staff" not in self._tokens:
            self._tokens["staff"] = self.staff_tokens()["id_token"]
        return self._tokens["staff"]

    def staff_tokens(self) -> dict:
        """A new staff login's tokens (password and TOTP code)."""
        return self.api.staff_login(self.staff_email, self.staff_totp_secret)

    def token_for(self, name: str) -> str:
        if name not in self._tokens:
            self._tokens[name] = self.api.login(self.email_of(name))
        return self._tokens[name]

    def email_of(self, name: str) -> str:
        return f"{name.lower()}.{self.clinic_id}@tests.example"

    def add_patient(self, name: str, email: str | None = None) -> str:
        """A patient of this clinic, with a login (the email's existing one, if it has one) and its membership."""
        patient_id = f"pat_{uuid.uuid4().hex[:12]}"
        email = email or self.email_of(name)
        user_id = records.patient_login(email, self.clinic_id, patient_id, PASSWORD)
        Patient(
            patient_id,
            clinic_id=self.clinic_id,
            name=name,
            email=email,
            created_at="2026-01-01T00:00:00Z",
            user_id=user_id,
        ).save()
        self.patients[name] = patient_id
        return patient_id

    def add_visit(
        self,
        patient: str,
        starts_in: timedelta = timedelta(days=3),
        session_class="Individual therapy",
        completed=False,
        response=None,
        reason=None,
        provider="Dr. Maya Patel",
        location="Room 2",
    ) -> str:
        """A visit written straight to the table, as the clinic's own record."""
        visit_id = f"vis_{uuid.uuid4().hex[:12]}"
        records.visit(
            self.patients[patient],
            visit_id,
            clinic_id=self.clinic_id,
            patient_name=patient,
            starts_at=now_utc() + starts_in,
            now=now_utc(),
            provider=provider,
            location=location,
            session_class=session_class,
            completed=completed,
            response=response,
            reason=reason,
        ).save()
        return visit_id

    def stored_visit(self, patient: str, visit_id: str):
        return Visit.get(self.patients[patient], visit_id, consistent_read=True)

    def settings(self, **changes) -> None:
        clinic = Clinic.get(self.clinic_id, consistent_read=True)
        clinic.update(actions=[getattr(Clinic, name).set(value) for name, value in changes.items()])


@pytest.fixture
def make_clinic(api, aws):
    def build(patients=("Alex",), timezone_name="America/New_York", **settings) -> World:
        clinic_id = f"cln_{uuid.uuid4().hex[:12]}"
        admin_email = settings.pop("admin_email", f"frontdesk.{clinic_id}@tests.example")
        settings = {"phone": "(555) 010-9999", **settings}
        name = settings.pop("name", "Test Family Therapy")
        records.clinic(clinic_id, name=name, timezone=timezone_name, admin_email=admin_email, **settings).save()
        staff_email = f"staff.{clinic_id}@tests.example"
        secret = records.staff_login(staff_email, clinic_id, PASSWORD)
        world = World(
            api=api, clinic_id=clinic_id, staff_email=staff_email, admin_email=admin_email, staff_totp_secret=secret
        )
        for name in patients:
            world.add_patient(name)
        return world

    return build


@pytest.fixture
def clinic(make_clinic) -> World:
    return make_clinic()


@pytest.fixture
def before_next_write():
    """Runs `change()` once, right before the next UpdateItem the API sends: a race landed
    exactly between the service's read and its conditional write."""
    events = Visit._get_connection().connection.client.meta.events
    registered = []

    def install(change):
        def hook(**_):
            events.unregister("before-call.dynamodb.UpdateItem", hook)
            change()

        events.register("before-call.dynamodb.UpdateItem", hook)
        registered.append(hook)

    yield install
    for hook in registered:
        events.unregister("before-call.dynamodb.UpdateItem", hook)


@pytest.fixture
def deliver(client):
    """Invokes the visits-stream function with one batch, as the event source mapping does."""

    def invoke(*records):
        return client.lambda_.invoke(FUNCTION_NAME, {"Records": list(records)}).payload

    return invoke


@pytest.fixture
def stream_records_of(aws):
    """The visits stream's records of one visit so far, oldest first, as Lambda delivers them."""
    streams = boto3.client("dynamodbstreams", region_name=aws.settings.region, endpoint_url=aws.endpoint)

    def read(visit_id: str) -> list[dict]:
        (shard,) = streams.describe_stream(StreamArn=aws.visits_stream_arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=aws.visits_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = []
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [r for r in page["Records"] if r["dynamodb"]["Keys"]["visit_id"]["S"] == visit_id]
            iterator = page.get("NextShardIterator") if page["Records"] else None
        return [as_lambda_delivers(record, aws.visits_stream_arn) for record in records]

    return read


@pytest.fixture
def inbox(aws):
    """The emails SES accepted for one address, oldest first. Each test's clinic has its own
    admin address, so a test sees only its own mail."""

    def emails_to(address: str):
        return [message for message in emulator.sent_emails() if address in message.to]

    return emails_to


@pytest.fixture
def ses_refuses(app):
    """Makes SES refuse, as when throttled, the next N emails to an address: `ses_refuses[address] = N`.

    A fault injected into the real botocore client, before the request is built.
    """
    refusals: dict[str, float] = {}

    def throttle(params, **_):
        for address in params.get("Destination", {}).get("ToAddresses", []):
            if refusals.get(address, 0) > 0:
                refusals[address] -= 1
                raise ClientError(
                    {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."}},
                    "SendEmail",
                )

    ses = aws_clients.sesv2()
    ses.meta.events.register("before-parameter-build.sesv2.SendEmail", throttle, unique_id="test-ses-refuses")
    yield refusals
    ses.meta.events.unregister("before-parameter-build.sesv2.SendEmail", unique_id="test-ses-refuses")


@pytest.fixture
def ses_rejects(app):
    """Makes SES refuse for good (MessageRejected, as for an address it will not deliver to) every email
    to the addresses in the set: `ses_rejects.add(address)`."""
    rejected: set[str] = set()

    def reject(params, **_):
        if set(params.get("Destination", {}).get("ToAddresses", [])) & rejected:
            raise ClientError(
                {"Error": {"Code": "MessageRejected", "Message": "Email address is not verified."}}, "SendEmail"
            )

    ses = aws_clients.sesv2()
    ses.meta.events.register("before-parameter-build.sesv2.SendEmail", reject, unique_id="test-ses-rejects")
    yield rejected
    ses.meta.events.unregister("before-parameter-build.sesv2.SendEmail", unique_id="test-ses-rejects")


@pytest.fixture
def ses_requests(app):
    """The SendEmail requests SES received for an address (what moto does not keep: the configuration
    set, the message tags), as the service's own SES client sent them."""
    requests: list[dict] = []

    def capture(params, **_):
        requests.append(dict(params))

    ses = aws_clients.sesv2()
    ses.meta.events.register("before-parameter-build.sesv2.SendEmail", capture, unique_id="test-ses-requests")
    yield lambda address: [r for r in requests if address in r.get("Destination", {}).get("ToAddresses", [])]
    ses.meta.events.unregister("before-parameter-build.sesv2.SendEmail", unique_id="test-ses-requests")
