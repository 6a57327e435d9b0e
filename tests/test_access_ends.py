"""Access ends promptly: within 10 minutes on every route, and at once for refresh and logout.

ID tokens are checked offline, so a token already handed out works until it is too old; the
API honours one for 10 minutes after it was issued (`auth.MAX_TOKEN_AGE_SECONDS`, the app
clients' token lifetime), and refreshing refuses a login that lost its access. The clock the
API judges tokens by is moved forward here instead of waiting.
"""

import pytest
from bodies import new_visit

from chalicelib import auth, config
from chalicelib import aws as aws_clients

UNAUTHORIZED = 401
WINDOW = auth.MAX_TOKEN_AGE_SECONDS


@pytest.fixture
def clock(monkeypatch):
    """Moves the API's clock forward by `seconds` from now."""
    real = auth.now

    def move(seconds: float) -> None:
        monkeypatch.setattr(auth, "now", lambda: real() + seconds)

    return move


def staff_routes(clinic):
    """Every /clinic route, each with a request that succeeds for staff of this clinic."""
    patient_id = clinic.patients["Alex"]
    visit_id = clinic.add_visit("Alex")
    return [
        ("GET", "/clinic/settings", None),
        ("PATCH", "/clinic/settings", {"admin_email": "outside@attacker.example"}),
        ("GET", "/clinic/patients", None),
        ("POST", "/clinic/patients", {"name": "Pat New", "email": f"new.{clinic.clinic_id}@tests.example"}),
        ("GET", "/clinic/sessions", None),
        ("POST", "/clinic/sessions", new_visit(patient_id)),
        ("PATCH", f"/clinic/sessions/{visit_id}", {"location": "Room 9"}),
    ]


def cognito():
    return aws_clients.cognito()


def remove_staff_member(email: str) -> None:
    """What a clinic does when someone leaves: out of clinic-staff, signed out everywhere, disabled."""
    pool = config.current().staff_user_pool_id
    cognito().admin_remove_user_from_group(UserPoolId=pool, Username=email, GroupName="clinic-staff")
    cognito().admin_user_global_sign_out(UserPoolId=pool, Username=email)
    cognito().admin_disable_user(UserPoolId=pool, Username=email)


def test_a_removed_staff_members_token_is_refused_on_every_route_once_the_window_has_passed(api, clinic, clock):
    tokens = clinic.staff_tokens()
    routes = staff_routes(clinic)

    remove_staff_member(clinic.staff_email)
    clock(WINDOW + 1)

    for method, path, body in routes:
        response = api.call(method, path, tokens["id_token"], json_body=body)
        assert response.status_code == UNAUTHORIZED, (method, path, response.data)
    login = api.post("/auth/login", json_body={"username": clinic.staff_email, "password": "Test-Password-2026!"})
    assert login.status_code == UNAUTHORIZED  # disabled: no new login either


def test_within_the_window_the_token_still_works_which_is_why_the_window_is_short(api, clinic, clock):
    token = clinic.staff_tokens()["id_token"]
    clock(WINDOW - 30)
    assert api.get("/clinic/settings", token).status_code == 200
    clock(WINDOW)
    assert api.get("/clinic/settings", token).status_code == UNAUTHORIZED


def test_a_removed_staff_members_refresh_fails_at_once(api, clinic):
    tokens = clinic.staff_tokens()

    remove_staff_member(clinic.staff_email)

    response = api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == UNAUTHORIZED


def test_refresh_refuses_a_login_removed_from_clinic_staff_and_revokes_its_refresh_token(api, clinic):
    tokens = clinic.staff_tokens()
    pool = config.current().staff_user_pool_id
    cognito().admin_remove_user_from_group(UserPoolId=pool, Username=clinic.staff_email, GroupName="clinic-staff")

    refused = api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})

    assert refused.status_code == UNAUTHORIZED
    assert refused.data["Code"] == "UnauthorizedError"
    # Put back in the group, the old refresh token stays dead: a new login is needed.
    cognito().admin_add_user_to_group(UserPoolId=pool, Username=clinic.staff_email, GroupName="clinic-staff")
    again = api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == UNAUTHORIZED


def test_a_patient_token_is_honoured_for_ten_minutes_whatever_its_expiry_says(api, clinic, clock):
    token = clinic.token_for("Alex")
    assert api.get("/portal/me", token).status_code == 200

    clock(WINDOW + 1)  # the emulator's token says it lives 60 minutes

    assert api.get("/portal/me", token).status_code == UNAUTHORIZED


def test_login_says_the_tokens_last_at_most_ten_minutes_so_the_page_refreshes_in_time(api, clinic):
    login = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"})
    assert 0 < login.data["expires_in"] <= WINDOW
    refreshed = api.post("/auth/refresh", json_body={"refresh_token": login.data["refresh_token"]})
    assert 0 < refreshed.data["expires_in"] <= WINDOW


# --- Logging out ---------------------------------------------------------------------------


def test_logout_then_refresh_is_401(api, clinic):
    login = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"})
    refresh_token = login.data["refresh_token"]

    logout = api.post("/auth/logout", json_body={"refresh_token": refresh_token})

    assert logout.status_code == 204
    assert logout.body in (b"", None)
    assert api.post("/auth/refresh", json_body={"refresh_token": refresh_token}).status_code == UNAUTHORIZED


def test_staff_logout_revokes_the_staff_refresh_token(api, clinic):
    tokens = clinic.staff_tokens()
    assert api.post("/auth/logout", json_body={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert api.post("/auth/refresh", json_body={"refresh_token": tokens["refresh_token"]}).status_code == UNAUTHORIZED


def test_logout_of_one_session_leaves_the_users_other_sessions_alone(api, clinic):
    body = {"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"}
    first, second = api.post("/auth/login", json_body=body), api.post("/auth/login", json_body=body)

    api.post("/auth/logout", json_body={"refresh_token": first.data["refresh_token"]})

    assert api.post("/auth/refresh", json_body={"refresh_token": second.data["refresh_token"]}).status_code == 200


@pytest.mark.parametrize("token", ["not-a-refresh-token", "s.not-a-refresh-token", "p." + "x" * 500])
def test_logout_with_a_token_that_is_not_valid_is_still_204(api, token):
    assert api.post("/auth/logout", json_body={"refresh_token": token}).status_code == 204


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x", "extra": 1}])
def test_logout_with_a_malformed_body_is_400(api, body):
    response = api.post("/auth/logout", json_body=body)
    assert response.status_code == 400
    assert response.data["Code"] == "BadRequestError"
