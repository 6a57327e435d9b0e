"""Every /portal and /clinic request needs a valid Cognito ID token of the right role."""

import base64
import gzip
import json
import time
from importlib import resources

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import auth, config
from chalicelib import aws as aws_clients

UNAUTHORIZED = 401


def moto_signing_key():
    """The private key moto signs its tokens with (it ships it, for tests), to forge tokens that
    carry a valid signature but a wrong claim."""
    packed = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return jwt.PyJWK(json.loads(gzip.decompress(packed)))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def resign(token: str, key=None, kid="dummy", **changes) -> str:
    claims = dict(claims_of(token), **changes)
    for name, value in list(claims.items()):
        if value is None:
            del claims[name]
    signing_key = key if key is not None else moto_signing_key().key
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def patient_token(clinic):
    clinic.add_visit("Alex")
    return clinic.token_for("Alex")


def test_a_real_id_token_lets_the_patient_in(api, patient_token):
    response = api.get("/portal/me", patient_token)
    assert response.status_code == 200
    assert response.data["patient"]["name"] == "Alex"


def test_a_bare_token_without_bearer_is_accepted(api, patient_token):
    response = api.get("/portal/me", headers={"Authorization": patient_token})
    assert response.status_code == 200


def test_our_forger_produces_tokens_the_api_accepts(api, patient_token):
    """Guards the tests below: a re-signed but unchanged token still works."""
    assert api.get("/portal/me", resign(patient_token)).status_code == 200


def forged(token: str, case: str) -> str:
    now = int(time.time())
    header, payload, signature = token.split(".")
    if case == "tampered":
        claims = dict(claims_of(token), **{"custom:patient_id": "pat_someone_else"})
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{body}.{signature}"
    if case == "alg none":
        return jwt.encode(claims_of(token), None, algorithm="none")
    if case == "another key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return resign(token, key=other)
    if case == "expired":
        return resign(token, exp=now - 60, iat=now - 3700, auth_time=now - 3700)
    if case == "other audience":
        return resign(token, aud="some-other-app-client")
    if case == "other issuer":
        return resign(token, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_SomeoneElse")
    if case == "access token":
        return resign(token, token_use="access")
    if case == "no token_use":
        return resign(token, token_use=None)
    if case == "unknown key id":
        return resign(token, kid="not-a-key-of-this-pool")
    if case == "garbage":
        return "not-a-jwt"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "alg none",
        "another key",
        "expired",
        "other audience",
        "other issuer",
        "access token",
        "no token_use",
        "unknown key id",
        "garbage",
    ],
)
def test_invalid_tokens_get_401_with_the_error_shape(api, patient_token, case):
    response = api.get("/portal/sessions", forged(patient_token, case))
    assert response.status_code == UNAUTHORIZED
    assert response.data["Code"] == "UnauthorizedError"
    assert "Message" in response.data


def test_cognitos_own_access_token_is_refused(api, clinic):
    login = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"})
    response = api.get("/portal/me", login.data["access_token"])
    assert response.status_code == UNAUTHORIZED


@pytest.mark.parametrize(
    "path", ["/portal/me", "/portal/sessions", "/clinic/settings", "/clinic/sessions", "/clinic/patients"]
)
def test_no_token_gets_401(api, path):
    response = api.get(path)
    assert response.status_code == UNAUTHORIZED
    assert response.data["Code"] == "UnauthorizedError"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/clinic/settings"),
        ("PATCH", "/clinic/settings"),
        ("GET", "/clinic/sessions"),
        ("POST", "/clinic/sessions"),
        ("GET", "/clinic/patients"),
        ("POST", "/clinic/patients"),
        ("PATCH", "/clinic/sessions/vis_x"),
    ],
)
def test_patients_get_403_on_clinic_routes(api, patient_token, method, path):
    response = api.call(method, path, patient_token, json_body={})
    assert response.status_code == 403
    assert response.data["Code"] == "ForbiddenError"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/portal/me"),
        ("GET", "/portal/sessions"),
        ("PUT", "/portal/sessions/vis_x/response"),
        ("DELETE", "/portal/sessions/vis_x/response"),
    ],
)
def test_staff_get_403_on_portal_routes(api, clinic, method, path):
    response = api.call(method, path, clinic.staff_token, json_body={"response": "confirmed"})
    assert response.status_code == 403


def test_the_authorizer_policy_allows_every_route_so_the_gateway_cache_cannot_lock_out_other_routes(app, patient_token):
    """API Gateway reuses one authorizer answer per token, for every route, for ttl_seconds."""
    import app as app_module

    answer = app_module.cognito_id_token(
        {
            "type": "TOKEN",
            "authorizationToken": f"Bearer {patient_token}",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/portal/me",
        },
        {},
    )

    statement = answer["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"]
    assert answer["context"]["role"] == "patient"


def test_the_signing_keys_are_fetched_once_and_then_cached(api, patient_token):
    assert api.get("/portal/me", patient_token).status_code == 200  # warm
    keys = auth._jwks_client(config.current().jwks_url)
    fetches = []
    original = keys.fetch_data
    keys.fetch_data = lambda: fetches.append(1) or original()
    try:
        for _ in range(3):
            assert api.get("/portal/me", patient_token).status_code == 200
    finally:
        keys.fetch_data = original
    assert fetches == []


def test_login_with_wrong_password_and_unknown_user_read_the_same(api, clinic):
    wrong = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Wrong-Password-1!"})
    unknown = api.post("/auth/login", json_body={"username": "nobody@tests.example", "password": "Wrong-Password-1!"})
    assert wrong.status_code == unknown.status_code == UNAUTHORIZED
    assert wrong.data == unknown.data
    assert "Wrong-Password" not in json.dumps(wrong.data)


def test_login_returns_the_tokens_of_the_contract(api, clinic):
    response = api.post(
        "/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"}
    )
    assert response.status_code == 200
    assert set(response.data) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    assert response.data["token_type"] == "Bearer"


def test_refresh_gives_a_new_id_token_that_works(api, clinic):
    login = api.post("/auth/login", json_body={"username": clinic.email_of("Alex"), "password": "Test-Password-2026!"})
    refreshed = api.post("/auth/refresh", json_body={"refresh_token": login.data["refresh_token"]})
    assert refreshed.status_code == 200
    assert set(refreshed.data) == {"id_token", "access_token", "expires_in", "token_type"}
    assert api.get("/portal/me", refreshed.data["id_token"]).status_code == 200


def test_refresh_with_a_bad_token_is_401(api):
    response = api.post("/auth/refresh", json_body={"refresh_token": "not-a-refresh-token"})
    assert response.status_code == UNAUTHORIZED


def test_an_invited_patient_sets_a_password_then_gets_tokens(api, clinic):
    created = api.post(
        "/clinic/patients",
        clinic.staff_token,
        json_body={"name": "Robin Invitee", "email": f"robin.{clinic.clinic_id}@tests.example"},
    )
    assert created.status_code == 201
    aws_clients.cognito().admin_set_user_password(
        UserPoolId=config.current().user_pool_id,
        Username=f"robin.{clinic.clinic_id}@tests.example",
        Password="Temp-Password-2026!",
        Permanent=False,
    )
    first = api.post(
        "/auth/login",
        json_body={"username": f"robin.{clinic.clinic_id}@tests.example", "password": "Temp-Password-2026!"},
    )
    assert first.status_code == 200
    assert first.data["challenge"] == "NEW_PASSWORD_REQUIRED"

    done = api.post(
        "/auth/new-password",
        json_body={
            "username": f"robin.{clinic.clinic_id}@tests.example",
            "session": first.data["session"],
            "new_password": "Robins-Own-Pass-2026!",
        },
    )
    assert done.status_code == 200
    me = api.get("/portal/me", done.data["id_token"])
    assert me.status_code == 200
    assert me.data["patient"] == {"id": created.data["id"], "name": "Robin Invitee"}


def test_errors_never_echo_tokens_or_passwords(api, patient_token):
    response = api.get("/portal/sessions", patient_token + "x")
    assert patient_token not in json.dumps(response.data)
