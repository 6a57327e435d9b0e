"""Every answer of /auth, /portal and /clinic says `Cache-Control: no-store`, errors included:
no browser cache or proxy keeps patient data or tokens."""

import pytest
import yaml
from test_openapi import SPEC_PATH

SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
ROUTES = [
    (path, method.upper())
    for path, item in SPEC["paths"].items()
    for method in item
    if method in {"get", "put", "post", "patch", "delete"} and path.split("/")[1] in {"auth", "portal", "clinic"}
]


def example_body(path, method):
    operation = SPEC["paths"][path][method.lower()]
    if "requestBody" not in operation:
        return None
    content = operation["requestBody"]["content"]["application/json"]
    return content["example"] if "example" in content else next(iter(content["examples"].values()))["value"]


def token_for(clinic, path):
    if path.startswith("/portal/"):
        return clinic.token_for("Alex")
    if path.startswith("/clinic/"):
        return clinic.staff_token
    return None


@pytest.mark.parametrize("path, method", ROUTES)
def test_every_answer_of_the_route_says_no_store(api, clinic, path, method):
    visit_id = clinic.add_visit("Alex")
    url = path.replace("{visit_id}", visit_id)
    answers = [
        api.call(method, url, token_for(clinic, path), json_body=example_body(path, method)),  # as designed
        api.call(method, url, token_for(clinic, path), raw="{not json"),  # bad input
    ]
    if token_for(clinic, path):
        answers.append(api.call(method, url))  # no token: the gateway's 401
        answers.append(api.call(method, url.replace(visit_id, "vis_nobody"), token_for(clinic, path)))
    for response in answers:
        assert response.headers.get("Cache-Control") == "no-store", (response.status_code, response.body)


def test_the_routes_checked_are_every_auth_portal_and_clinic_route():
    assert {path for path, _ in ROUTES} >= {
        "/auth/login",
        "/auth/logout",
        "/auth/mfa",
        "/portal/me",
        "/clinic/patients",
    }


def test_an_unknown_path_under_portal_says_no_store_too(api, clinic):
    response = api.get("/portal/no-such-thing", clinic.token_for("Alex"))
    assert response.status_code == 404
    assert response.headers.get("Cache-Control") == "no-store"


def test_the_public_page_and_health_may_be_cached(api):
    assert "no-store" not in (api.get("/health").headers.get("Cache-Control") or "")
