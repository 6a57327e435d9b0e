"""One person, many clinics: a login belongs to a person, memberships belong to clinics.

Riley is a patient of two clinics; every request names the clinic it is for (`X-Clinic-Id` or
`clinic_id`), and sees only that clinic's visits and items, through every route."""

import os
import subprocess
import sys
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib import accounts, auth, config, links, scheduling
from chalicelib import aws as aws_clients
from chalicelib.auth import Identity, Role
from chalicelib.models import Membership, Patient, Visit
from tests.conftest import PASSWORD, World

ROOT = Path(__file__).resolve().parent.parent
HOST = "portal.tests.example"


@dataclass
class Riley:
    email: str
    first: World  # "Test Family Therapy"
    second: World  # "Northside Counseling"
    token: str
    first_visit: str
    second_visit: str


@pytest.fixture
def riley(make_clinic) -> Riley:
    first = make_clinic(patients=("Alex",))
    second = make_clinic(patients=(), name="Northside Counseling", timezone_name="America/Chicago")
    email = f"riley.{uuid.uuid4().hex[:10]}@tests.example"
    first.add_patient("Riley", email)
    second.add_patient("Riley", email)
    return Riley(
        email,
        first,
        second,
        first.api.login(email),
        first.add_visit("Riley", provider="Dr. First"),
        second.add_visit("Riley", provider="Dr. Second"),
    )


def at(world: World) -> dict:
    return {"X-Clinic-Id": world.clinic_id}


def patient_routes(visit_id: str) -> list[tuple[str, str, dict | None]]:
    """Every /portal route but /portal/me, as (method, path, body)."""
    return [
        ("GET", "/portal/sessions", None),
        ("PUT", f"/portal/sessions/{visit_id}/response", {"response": "confirmed"}),
        ("DELETE", f"/portal/sessions/{visit_id}/response", None),
        ("GET", f"/portal/sessions/{visit_id}/history", None),
        ("GET", f"/portal/sessions/{visit_id}/calendar.ics", None),
        ("POST", "/portal/calendar-feed", None),
        ("DELETE", "/portal/calendar-feed", None),
        ("GET", "/portal/preferences", None),
        ("PATCH", "/portal/preferences", {"email_reminders": False}),
    ]


ROUTE_NAMES = [f"{method} {path.split('/', 3)[-1]}" for method, path, _ in patient_routes("V")]


# --- Choosing the clinic -----------------------------------------------------------------


def test_me_lists_every_clinic_and_shows_none_as_chosen_until_a_request_names_one(api, riley):
    response = api.get("/portal/me", riley.token)

    assert response.status_code == 200
    assert response.data == {
        "patient": None,
        "clinic": None,
        "clinics": [
            {"id": riley.second.clinic_id, "name": "Northside Counseling"},
            {"id": riley.first.clinic_id, "name": "Test Family Therapy"},
        ],
    }
    chosen = api.get("/portal/me", riley.token, headers=at(riley.second)).data
    assert chosen["patient"] == {"id": riley.second.patients["Riley"], "name": "Riley"}
    assert chosen["clinic"]["id"] == riley.second.clinic_id
    assert chosen["clinic"]["timezone"] == "America/Chicago"
    assert chosen["clinics"] == response.data["clinics"]


def test_riley_sees_each_clinics_visits_only_under_that_clinic(api, riley):
    first = api.get("/portal/sessions", riley.token, headers=at(riley.first))
    second = api.get(f"/portal/sessions?clinic_id={riley.second.clinic_id}", riley.token)

    assert first.status_code == second.status_code == 200
    assert [(v["id"], v["provider"]) for v in first.data["sessions"]] == [(riley.first_visit, "Dr. First")]
    assert [(v["id"], v["provider"]) for v in second.data["sessions"]] == [(riley.second_visit, "Dr. Second")]
    assert first.data["timezone"] == "America/New_York" and second.data["timezone"] == "America/Chicago"


@pytest.mark.parametrize("route", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
def test_with_several_clinics_a_request_that_names_none_is_400_and_changes_nothing(api, riley, route):
    method, path, body = patient_routes(riley.first_visit)[route]

    response = api.call(method, path, riley.token, json_body=body)

    assert response.status_code == 400
    assert response.data == {"Code": "BadRequestError", "Message": auth.CHOOSE_A_CLINIC}
    assert riley.first.stored_visit("Riley", riley.first_visit).patient_response is None
    assert Patient.get(riley.first.patients["Riley"]).email_reminders is True


@pytest.mark.parametrize("route", range(len(ROUTE_NAMES)), ids=ROUTE_NAMES)
def test_a_clinic_that_is_not_theirs_is_404_like_one_that_does_not_exist(api, riley, route):
    method, path, body = patient_routes(riley.first_visit)[route]
    alex_clinic = riley.first  # Alex is a patient of Riley's first clinic only
    foreign = f"cln_{uuid.uuid4().hex[:12]}"

    not_theirs = api.call(method, path, riley.token, json_body=body, headers={"X-Clinic-Id": foreign})
    by_parameter = api.call(method, f"{path}?clinic_id={foreign}", riley.token, json_body=body)
    alex_elsewhere = api.call(method, path, alex_clinic.token_for("Alex"), json_body=body, headers=at(riley.second))

    for response in (not_theirs, by_parameter, alex_elsewhere):
        assert response.status_code == 404
        assert response.data == {"Code": "NotFoundError", "Message": auth.UNKNOWN_CLINIC}
    assert riley.first.stored_visit("Riley", riley.first_visit).patient_response is None


@pytest.mark.parametrize("route", range(1, 5), ids=ROUTE_NAMES[1:5])
def test_under_one_clinic_neither_their_other_clinics_visit_nor_another_patients_is_reachable(api, riley, route):
    alex_visit = riley.first.add_visit("Alex")
    for visit_id, clinic in ((riley.second_visit, riley.first), (riley.first_visit, riley.second)):
        method, path, body = patient_routes(visit_id)[route]
        response = api.call(method, path, riley.token, json_body=body, headers=at(clinic))
        assert response.status_code == 404, (visit_id, response.data)
        assert response.data == {"Code": "NotFoundError", "Message": "Unknown visit."}
    method, path, body = patient_routes(alex_visit)[route]
    for clinic in (riley.first, riley.second):
        response = api.call(method, path, riley.token, json_body=body, headers=at(clinic))
        assert response.status_code == 404
    assert riley.second.stored_visit("Riley", riley.second_visit).patient_response is None
    assert riley.first.stored_visit("Alex", alex_visit).patient_response is None


def test_an_answer_under_one_clinic_changes_that_clinics_visit_only(api, riley):
    response = api.put(
        f"/portal/sessions/{riley.second_visit}/response",
        riley.token,
        json_body={"response": "confirmed"},
        headers=at(riley.second),
    )

    assert response.status_code == 200 and response.data["status"] == "patient_confirmed"
    assert riley.second.stored_visit("Riley", riley.second_visit).patient_response == "CLIENT_CONFIRMED"
    assert riley.first.stored_visit("Riley", riley.first_visit).patient_response is None


def test_header_and_parameter_naming_different_clinics_is_400(api, riley):
    path = f"/portal/sessions?clinic_id={riley.second.clinic_id}"
    response = api.get(path, riley.token, headers=at(riley.first))
    assert response.status_code == 400
    same = api.get(path, riley.token, headers=at(riley.second))
    assert same.status_code == 200


def test_preferences_are_each_clinics_own(api, riley):
    changed = api.patch(
        "/portal/preferences", riley.token, json_body={"email_reminders": False}, headers=at(riley.second)
    )

    assert changed.status_code == 200 and changed.data["email_reminders"] is False
    assert api.get("/portal/preferences", riley.token, headers=at(riley.first)).data["email_reminders"] is True
    assert Patient.get(riley.second.patients["Riley"]).email_reminders is False
    assert Patient.get(riley.first.patients["Riley"]).email_reminders is True


def test_one_clinic_needs_no_choice_and_a_foreign_one_is_404(api, clinic, make_clinic):
    other = make_clinic(patients=())
    token = clinic.token_for("Alex")

    assert api.get("/portal/sessions", token).status_code == 200
    assert api.get("/portal/sessions", token, headers=at(clinic)).status_code == 200
    assert api.get("/portal/sessions", token, headers=at(other)).status_code == 404
    me = api.get("/portal/me", token).data
    assert me["clinic"]["id"] == clinic.clinic_id
    assert me["clinics"] == [{"id": clinic.clinic_id, "name": "Test Family Therapy"}]


# --- Links and feeds that name their patient and clinic themselves ------------------------


def test_a_calendar_feed_made_under_one_clinic_shows_that_clinics_visits_only(api, riley):
    made = api.post("/portal/calendar-feed", riley.token, headers={"Host": HOST, **at(riley.second)})
    assert made.status_code == 201
    path = urllib.parse.urlparse(made.data["url"]).path

    feed = api.get(path)

    assert feed.status_code == 200
    assert f"{riley.second_visit}@" in feed.text
    assert riley.first_visit not in feed.text
    assert Patient.get(riley.first.patients["Riley"]).calendar_feed_hash is None


def post_form(api, url, **fields):
    response = api._client.http.request(
        "POST",
        urllib.parse.urlparse(url).path,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(fields).encode(),
    )
    return response


def test_reminder_links_act_on_their_own_clinics_visit_and_patient(api, riley):
    as_second = Identity("", riley.email, Role.PATIENT, riley.second.clinic_id, riley.second.patients["Riley"], 0)
    visit = scheduling.patient_visit(as_second, riley.second_visit)

    answered = post_form(api, links.answer_url(visit), action="confirm")
    unsubscribed = post_form(api, links.unsubscribe_url(Patient.get(riley.second.patients["Riley"])))

    assert answered.status_code == 200 and unsubscribed.status_code == 200
    assert riley.second.stored_visit("Riley", riley.second_visit).patient_response == "CLIENT_CONFIRMED"
    assert riley.first.stored_visit("Riley", riley.first_visit).patient_response is None
    assert Patient.get(riley.second.patients["Riley"]).email_reminders is False
    assert Patient.get(riley.first.patients["Riley"]).email_reminders is True


# --- Adding a patient whose email has a login ----------------------------------------------


def logins_with(email: str) -> list[dict]:
    pool = config.current().user_pool_id
    return aws_clients.cognito().list_users(UserPoolId=pool, Filter=f'email = "{email}"')["Users"]


def test_an_email_with_a_login_at_another_clinic_is_linked_answered_like_a_new_one_and_told(
    api, clinic, make_clinic, inbox
):
    other = make_clinic(patients=(), name="Northside Counseling")
    alex_email = clinic.email_of("Alex")
    new_email = f"new.{other.clinic_id}@tests.example"

    linked = api.post("/clinic/patients", other.staff_token, json_body={"name": "Alex R", "email": alex_email})
    fresh = api.post("/clinic/patients", other.staff_token, json_body={"name": "New One", "email": new_email})

    assert linked.status_code == fresh.status_code == 201
    assert set(linked.data) == set(fresh.data) == {"id", "name", "email"}
    assert linked.headers.get("Content-Type") == fresh.headers.get("Content-Type")
    assert linked.data["email"] == alex_email and linked.data["name"] == "Alex R"
    assert len(logins_with(alex_email)) == 1  # no second login
    (told,) = inbox(alex_email)
    assert told.subject == "You have been added to a client portal"
    assert "Northside Counseling added you to its client portal" in told.text
    assert "Alex" not in told.subject and "Northside" not in told.subject
    assert inbox(new_email) == []  # a new person gets Cognito's invitation instead

    me = api.get("/portal/me", api.login(alex_email)).data
    assert [c["name"] for c in me["clinics"]] == ["Northside Counseling", "Test Family Therapy"]
    assert Patient.get(linked.data["id"]).clinic_id == other.clinic_id


def test_a_person_added_in_spanish_is_told_in_spanish(api, clinic, make_clinic, inbox):
    other = make_clinic(patients=(), name="Clínica Norte", phone="(555) 010-7000")
    alex_email = clinic.email_of("Alex")

    linked = api.post(
        "/clinic/patients", other.staff_token, json_body={"name": "Alex R", "email": alex_email, "language": "es"}
    )

    assert linked.status_code == 201
    (told,) = inbox(alex_email)
    assert told.subject == "Le han agregado a un portal del paciente"
    assert told.header("Content-Language") == "es"
    assert "Clínica Norte le agregó a su portal del paciente." in told.text
    assert "¿No lo esperaba? Llame a Clínica Norte al (555) 010-7000." in told.text
    assert 'lang="es"' in told.html and "Luego elija Clínica Norte" in told.html


def test_staff_of_another_clinic_cannot_tell_whether_an_email_has_a_login(api, clinic, make_clinic):
    """Adding alex@ (who has a login at the first clinic) and a new email read the same; the patient
    lists show each as a patient; neither staff sees the other clinic's patient."""
    other = make_clinic(patients=())
    answers = [
        api.post("/clinic/patients", other.staff_token, json_body={"name": "Who", "email": email})
        for email in (clinic.email_of("Alex"), f"nobody.{other.clinic_id}@tests.example")
    ]

    assert [a.status_code for a in answers] == [201, 201]
    assert [sorted(a.data) for a in answers] == [["email", "id", "name"]] * 2
    assert [a.data["Message"] if a.data and "Message" in a.data else None for a in answers] == [None, None]
    listed = api.get("/clinic/patients", other.staff_token).data["patients"]
    assert sorted(p["email"] for p in listed) == sorted(a.data["email"] for a in answers)
    assert [p["name"] for p in api.get("/clinic/patients", clinic.staff_token).data["patients"]] == ["Alex"]


def test_the_same_person_twice_in_one_clinic_is_409_even_when_linked(api, clinic, make_clinic):
    other = make_clinic(patients=())
    email = clinic.email_of("Alex")
    assert api.post("/clinic/patients", other.staff_token, json_body={"name": "A", "email": email}).status_code == 201

    again = api.post("/clinic/patients", other.staff_token, json_body={"name": "A", "email": email.upper()})

    assert again.status_code == 409
    assert len(api.get("/clinic/patients", other.staff_token).data["patients"]) == 1


# --- Logins from before memberships were data, and removing a membership --------------------


def old_style_login(world: World, name: str) -> tuple[str, str]:
    """A patient and login as the service made them before memberships were data: the clinic and
    patient id in the login's attributes, no membership item."""
    patient_id = f"pat_{uuid.uuid4().hex[:12]}"
    email = f"old.{uuid.uuid4().hex[:10]}@tests.example"
    Patient(patient_id, clinic_id=world.clinic_id, name=name, email=email, created_at="2026-01-01T00:00:00Z").save()
    aws_clients.cognito().admin_create_user(
        UserPoolId=config.current().user_pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:clinic_id", "Value": world.clinic_id},
            {"Name": "custom:patient_id", "Value": patient_id},
        ],
        MessageAction="SUPPRESS",
    )
    accounts.set_permanent_password(email, PASSWORD)
    world.patients[name] = patient_id
    return email, patient_id


def admin(aws, *args):
    env = dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint)
    where = [
        "--user-pool-id",
        aws.settings.user_pool_id,
        "--patients-table",
        aws.settings.table("patients"),
        "--memberships-table",
        aws.settings.table("memberships"),
        "--clinics-table",
        aws.settings.table("clinics"),
        "--staff-user-pool-id",
        aws.settings.staff_user_pool_id,
    ]
    return subprocess.run(
        [sys.executable, "-m", "ops.admin", args[0], *where, *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def user_id_of(email: str) -> str:
    user = logins_with(email)[0]
    return {a["Name"]: a["Value"] for a in user["Attributes"]}["sub"]


def test_an_old_style_login_works_before_and_after_the_migration_which_is_idempotent(api, aws, clinic):
    email, patient_id = old_style_login(clinic, "Old")
    visit_id = clinic.add_visit("Old")
    token = api.login(email)
    assert [v["id"] for v in api.get("/portal/sessions", token).data["sessions"]] == [visit_id]

    first = admin(aws, "migrate-memberships")
    again = admin(aws, "migrate-memberships")

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert " 0 membership" not in first.stdout
    assert " 0 memberships made" in again.stdout
    membership = Membership.get(user_id_of(email), clinic.clinic_id, consistent_read=True)
    assert membership.patient_id == patient_id and membership.removed_at is None
    assert Patient.get(patient_id).user_id == user_id_of(email)
    fresh = api.login(email)
    assert [v["id"] for v in api.get("/portal/sessions", fresh).data["sessions"]] == [visit_id]


def test_an_old_style_login_added_to_a_second_clinic_keeps_its_first(api, clinic, make_clinic, inbox):
    email, _ = old_style_login(clinic, "Old")
    other = make_clinic(patients=())

    assert api.post("/clinic/patients", other.staff_token, json_body={"name": "O", "email": email}).status_code == 201
    again = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "O", "email": email})

    assert again.status_code == 409  # already the first clinic's patient: its membership is an item now
    me = api.get("/portal/me", api.login(email)).data
    assert sorted(c["id"] for c in me["clinics"]) == sorted([clinic.clinic_id, other.clinic_id])


def later(monkeypatch, seconds):
    """Past API Gateway's cache of the authorizer's answer (5 minutes), with the same token."""
    now = auth.now()
    monkeypatch.setattr(auth, "now", lambda: now + seconds)


def test_removing_a_patient_from_one_clinic_ends_that_membership_only(api, aws, riley, monkeypatch):
    tokens = api.post("/auth/login", json_body={"username": riley.email, "password": PASSWORD}).data

    removed = admin(
        aws, "remove-patient", "--clinic-id", riley.second.clinic_id, "--patient-id", riley.second.patients["Riley"]
    )
    again = admin(
        aws, "remove-patient", "--clinic-id", riley.second.clinic_id, "--patient-id", riley.second.patients["Riley"]
    )

    assert removed.returncode == 0 and "removed from clinic" in removed.stdout, removed.stderr
    assert "already" in again.stdout
    later(monkeypatch, 301)
    assert api.get("/portal/sessions", riley.token, headers=at(riley.second)).status_code == 404
    assert api.get("/portal/sessions", riley.token).status_code == 200  # one clinic left: no choice needed
    assert api.get("/portal/me", riley.token).data["clinics"] == [
        {"id": riley.first.clinic_id, "name": "Test Family Therapy"}
    ]
    assert api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}).status_code == 200
    assert Visit.get(riley.second.patients["Riley"], riley.second_visit).visit_id  # the clinic's records stay
    assert Patient.get(riley.second.patients["Riley"]).email_reminders is False  # no more of its reminders
    assert Patient.get(riley.first.patients["Riley"]).email_reminders is True


def test_a_person_removed_from_their_only_clinic_loses_access_and_refresh(api, aws, clinic, monkeypatch):
    email, patient_id = old_style_login(clinic, "Old")
    tokens = api.post("/auth/login", json_body={"username": email, "password": PASSWORD}).data

    result = admin(aws, "remove-patient", "--clinic-id", clinic.clinic_id, "--patient-id", patient_id)

    assert result.returncode == 0, result.stderr
    later(monkeypatch, 301)
    # The login's attributes still name the clinic: a removed membership never falls back to them.
    assert api.get("/portal/sessions", tokens["id_token"]).status_code == 403
    assert api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_remove_patient_refuses_a_patient_of_another_clinic(aws, riley):
    result = admin(
        aws, "remove-patient", "--clinic-id", riley.first.clinic_id, "--patient-id", riley.second.patients["Riley"]
    )
    assert result.returncode == 1 and "has no patient" in result.stderr
    assert Membership.get(user_id_of(riley.email), riley.second.clinic_id).removed_at is None


def test_the_authorizer_reads_a_persons_clinics_once_per_token(api, riley, monkeypatch):
    """API Gateway caches the authorizer's answer: warm requests read no memberships."""
    queries = []
    original = Membership.query

    def counting(*args, **kwargs):
        queries.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(Membership, "query", counting)
    token = api.login(riley.email)
    for _ in range(3):
        assert api.get("/portal/sessions", token, headers=at(riley.first)).status_code == 200
    assert api.get("/portal/me", token).status_code == 200
    assert len(queries) == 1
