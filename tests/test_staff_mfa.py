"""Staff sign in with a password and a TOTP code, through our login and through Cognito alike;
a patient login can never become staff.

Staff logins live in a user pool of their own that requires TOTP (MfaConfiguration ON, checked
in tests/test_stack.py); the emulator checks the codes. The role comes from the pool a token
was issued by, never from its groups alone.
"""

import boto3
import pytest
from test_auth import claims_of, resign

from chalicelib import accounts, config
from chalicelib import aws as aws_clients
from local import records

PASSWORD = "Test-Password-2026!"
UNAUTHORIZED = 401


def log_in(api, email, password=PASSWORD):
    return api.post("/auth/login", json_body={"username": email, "password": password})


def cognito_directly():
    """Cognito itself, as anyone holding the public app client id can call it."""
    return boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=config.current().endpoint)


# --- No token on a password alone ----------------------------------------------------------


def test_a_staff_password_alone_gets_a_code_challenge_and_no_token(api, clinic):
    response = log_in(api, clinic.staff_email)

    assert response.status_code == 200
    assert response.data["challenge"] == "SOFTWARE_TOKEN_MFA"
    assert set(response.data) == {"challenge", "session"}


def test_calling_cognito_directly_with_the_public_client_id_gets_no_staff_token_on_a_password(clinic):
    answer = cognito_directly().initiate_auth(
        ClientId=config.current().staff_app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": clinic.staff_email, "PASSWORD": PASSWORD},
    )

    assert answer["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" not in answer


def test_a_new_staff_login_gets_no_token_before_its_authenticator_is_set_up_through_either_door(api, clinic):
    email = f"new.staff.{clinic.clinic_id}@tests.example"
    temporary = accounts.temporary_password()
    accounts.create_staff_login(email, clinic.clinic_id, temporary_password=temporary)
    direct = cognito_directly()
    client_id = config.current().staff_app_client_id

    first = direct.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": temporary}
    )
    second = direct.respond_to_auth_challenge(
        ClientId=client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=first["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD},
    )

    assert (first["ChallengeName"], second["ChallengeName"]) == ("NEW_PASSWORD_REQUIRED", "MFA_SETUP")
    assert "AuthenticationResult" not in second


def test_a_wrong_code_is_401_and_gets_no_token(api, clinic):
    challenge = log_in(api, clinic.staff_email).data
    right = records.totp_code(clinic.staff_totp_secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = api.post(
        "/auth/mfa", json_body={"username": clinic.staff_email, "session": challenge["session"], "code": wrong}
    )

    assert response.status_code == UNAUTHORIZED
    assert response.data["Code"] == "UnauthorizedError"
    assert wrong not in response.data["Message"]


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", " 123456", "123456\n", 123456, None])
def test_a_code_that_is_not_six_digits_is_400(api, clinic, code):
    challenge = log_in(api, clinic.staff_email).data
    response = api.post(
        "/auth/mfa", json_body={"username": clinic.staff_email, "session": challenge["session"], "code": code}
    )
    assert response.status_code == 400


def test_a_patients_session_cannot_answer_a_staff_code_challenge(api, clinic):
    patient = log_in(api, clinic.email_of("Alex"))
    session = "p." + "A" * 40  # a session of the patients' pool, as our login would wrap it
    response = api.post(
        "/auth/mfa",
        json_body={"username": clinic.email_of("Alex"), "session": session, "code": "123456"},
    )
    assert patient.status_code == 200 and "id_token" in patient.data
    assert response.status_code == UNAUTHORIZED


# --- The first login: password, then the authenticator --------------------------------------


def test_a_new_staff_member_chooses_a_password_sets_up_the_authenticator_then_runs_the_clinic(api, clinic):
    email = f"first.staff.{clinic.clinic_id}@tests.example"
    temporary = accounts.temporary_password()
    accounts.create_staff_login(email, clinic.clinic_id, temporary_password=temporary)

    first = log_in(api, email, temporary)
    setup = api.post(
        "/auth/new-password", json_body={"username": email, "session": first.data["session"], "new_password": PASSWORD}
    )
    assert first.data["challenge"] == "NEW_PASSWORD_REQUIRED"
    assert setup.status_code == 200
    assert setup.data["challenge"] == "MFA_SETUP"
    secret = setup.data["secret_code"]
    assert setup.data["otpauth_uri"].startswith("otpauth://totp/Client%20portal:")
    assert f"secret={secret}" in setup.data["otpauth_uri"]

    done = api.post(
        "/auth/mfa-setup",
        json_body={"username": email, "session": setup.data["session"], "code": records.totp_code(secret)},
    )

    assert done.status_code == 200
    assert set(done.data) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    assert api.get("/clinic/settings", done.data["id_token"]).status_code == 200
    assert log_in(api, email).data["challenge"] == "SOFTWARE_TOKEN_MFA"  # from now on, a code every time


def test_a_wrong_first_code_does_not_set_up_the_authenticator(api, clinic):
    email = f"typo.staff.{clinic.clinic_id}@tests.example"
    temporary = accounts.temporary_password()
    accounts.create_staff_login(email, clinic.clinic_id, temporary_password=temporary)
    first = log_in(api, email, temporary)
    setup = api.post(
        "/auth/new-password", json_body={"username": email, "session": first.data["session"], "new_password": PASSWORD}
    ).data
    right = records.totp_code(setup["secret_code"])

    response = api.post(
        "/auth/mfa-setup",
        json_body={"username": email, "session": setup["session"], "code": f"{(int(right) + 1) % 1_000_000:06d}"},
    )

    assert response.status_code == UNAUTHORIZED
    assert "id_token" not in (response.data or {})


def test_a_staff_login_with_tokens_but_no_second_factor_is_refused_by_our_login(api, clinic):
    """Cognito never answers a staff password with tokens (the pool requires TOTP); the
    emulator does for a login made with a permanent password, so our login refuses them."""
    email = f"nomfa.staff.{clinic.clinic_id}@tests.example"
    accounts.create_staff_login(email, clinic.clinic_id, temporary_password=accounts.temporary_password())
    aws_clients.cognito().admin_set_user_password(
        UserPoolId=config.current().staff_user_pool_id, Username=email, Password=PASSWORD, Permanent=True
    )

    response = log_in(api, email)

    assert response.status_code == UNAUTHORIZED
    assert "second factor" in response.data["Message"]


# --- Roles come from the pool ----------------------------------------------------------------


def test_a_patient_login_in_a_clinic_staff_group_of_the_patients_pool_is_still_only_a_patient(api, clinic):
    pool = config.current().user_pool_id
    cognito = aws_clients.cognito()
    try:
        cognito.create_group(UserPoolId=pool, GroupName="clinic-staff")
    except cognito.exceptions.GroupExistsException:
        pass
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=clinic.email_of("Alex"), GroupName="clinic-staff")
    token = api.login(clinic.email_of("Alex"))

    assert "clinic-staff" in claims_of(token)["cognito:groups"]
    assert api.get("/clinic/patients", token).status_code == 403
    assert api.get("/portal/me", token).status_code == 200


def test_a_patients_pool_token_claiming_the_staff_group_gets_no_staff_route(api, clinic):
    token = resign(clinic.token_for("Alex"), **{"cognito:groups": ["clinic-staff"], "custom:patient_id": None})
    assert api.get("/clinic/settings", token).status_code == 403


def test_a_staff_pool_login_outside_clinic_staff_gets_neither_side(api, clinic):
    pool = config.current().staff_user_pool_id
    aws_clients.cognito().admin_remove_user_from_group(
        UserPoolId=pool, Username=clinic.staff_email, GroupName="clinic-staff"
    )
    token = clinic.staff_tokens()["id_token"]
    assert api.get("/clinic/settings", token).status_code == 403
    assert api.get("/portal/me", token).status_code == 403


def test_a_staff_token_carrying_a_patient_id_is_still_not_a_patient(api, clinic):
    token = resign(clinic.staff_token, **{"custom:patient_id": clinic.patients["Alex"]})
    assert api.get("/portal/me", token).status_code == 403


def test_a_token_of_the_patients_pool_audience_but_the_staff_pools_issuer_is_refused(api, clinic):
    staff_issuer = config.current().staff_issuer
    token = resign(clinic.token_for("Alex"), iss=staff_issuer)
    assert api.get("/portal/me", token).status_code == UNAUTHORIZED
    assert api.get("/clinic/settings", token).status_code == UNAUTHORIZED
