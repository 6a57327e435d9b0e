"""Logs are JSON lines with the request id and who accessed what (ids only), and never carry a
token, a password, a name or anything a patient typed."""

import io
import json
import logging
from datetime import timedelta

import pytest
from bodies import new_visit
from test_auth import claims_of

from chalicelib.logs import logger


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    previous = logger.log_level
    logger.setLevel("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_each_request_logs_a_json_line_with_its_request_id_and_status(api, clinic, log_lines):
    token = clinic.token_for("Alex")
    api.get("/portal/sessions", token)

    lines = [line for line in log_lines() if line["message"] == "Request handled"]
    assert lines[-1]["route"] == "GET /portal/sessions"
    assert lines[-1]["status"] == 200
    assert lines[-1]["request_id"]


def test_no_token_or_password_reaches_the_logs(api, clinic, log_lines):
    password = "Test-Password-2026!"
    login = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": password})
    token = login.data["id_token"]
    api.get("/portal/me", token)
    api.get("/portal/me", token[:-4] + "AAAA")  # rejected: logged with a reason, not the token
    api.post("/auth/refresh", json_body={"refresh_token": login.data["refresh_token"]})

    text = json.dumps(log_lines())
    assert "Token rejected" in text
    for secret in (password, token, token.split(".")[1], login.data["refresh_token"], login.data["access_token"]):
        assert secret not in text


# --- Who accessed what -------------------------------------------------------------------------


def handled(log_lines, route):
    return [line for line in log_lines() if line["message"] == "Request handled" and line["route"] == route]


def test_a_patients_request_line_names_the_caller_and_the_visit_by_id_only(api, clinic, log_lines):
    visit_id = clinic.add_visit("Alex")
    token = clinic.token_for("Alex")
    body = {"response": "cancelled", "reason": "Private reason about my health"}
    api.put(f"/portal/sessions/{visit_id}/response", token, json_body=body)

    (line,) = handled(log_lines, "PUT /portal/sessions/{visit_id}/response")
    assert line["user_id"] == claims_of(token)["sub"]
    assert (line["role"], line["clinic_id"], line["patient_id"], line["visit_id"]) == (
        "patient",
        clinic.clinic_id,
        clinic.patients["Alex"],
        visit_id,
    )
    text = json.dumps(log_lines())
    for private in ("Private reason", "Alex", clinic.email_of("Alex")):
        assert private not in text


def test_a_staff_change_to_a_visit_names_the_staff_member_and_the_patient_whose_visit_it_is(api, clinic, log_lines):
    visit_id = clinic.add_visit("Alex")
    token = clinic.staff_token
    api.patch(f"/clinic/sessions/{visit_id}", token, json_body={"location": "Room 9"})

    (line,) = handled(log_lines, "PATCH /clinic/sessions/{visit_id}")
    assert line["user_id"] == claims_of(token)["sub"]
    assert (line["role"], line["clinic_id"], line["patient_id"], line["visit_id"]) == (
        "staff",
        clinic.clinic_id,
        clinic.patients["Alex"],
        visit_id,
    )
    assert clinic.staff_email not in json.dumps(log_lines())


def test_scheduling_a_visit_logs_the_patient_and_the_new_visit(api, clinic, log_lines):
    created = api.post("/clinic/sessions", clinic.staff_token, json_body=new_visit(clinic.patients["Alex"]))

    (line,) = handled(log_lines, "POST /clinic/sessions")
    assert (line["patient_id"], line["visit_id"]) == (clinic.patients["Alex"], created.data["id"])


def test_a_list_line_says_how_many_records_the_caller_saw(api, clinic, log_lines):
    for days in (1, 2, 3):
        clinic.add_visit("Alex", timedelta(days=days))
    api.get("/clinic/sessions", clinic.staff_token)

    (line,) = handled(log_lines, "GET /clinic/sessions")
    assert (line["role"], line["records"]) == ("staff", 3)


def test_a_refused_request_still_names_the_caller(api, clinic, log_lines):
    api.get("/clinic/settings", clinic.token_for("Alex"))

    (line,) = handled(log_lines, "GET /clinic/settings")
    assert (line["status"], line["role"], line["patient_id"]) == (403, "patient", clinic.patients["Alex"])


def test_caller_fields_do_not_leak_into_the_next_requests_line(api, clinic, log_lines):
    api.get("/portal/me", clinic.token_for("Alex"))
    api.get("/health")

    (line,) = handled(log_lines, "GET /health")
    assert not {"user_id", "role", "clinic_id", "patient_id", "visit_id"} & set(line)
