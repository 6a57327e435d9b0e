"""Logs are JSON lines with the request id, and never carry a token or a password."""

import io
import json
import logging

import pytest

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
