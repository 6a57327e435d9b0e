"""Bad input on every route gets a clear 400 in the error shape, and changes nothing."""

import json

import pytest

from chalicelib.models import Clinic, Patient, Visit

MALFORMED = ["{", "not json", '{"response": }', "[1, 2", '"unterminated']
NOT_OBJECTS = ["[]", '"confirmed"', "42", "null", "true"]


@pytest.fixture
def world(clinic):
    clinic.visit_id = clinic.add_visit("Alex")
    return clinic


def everything_stored(world):
    """What a bad request must leave exactly as it was."""
    clinic = Clinic.get(world.clinic_id, consistent_read=True).attribute_values
    patients = sorted(
        json.dumps(p.attribute_values, sort_keys=True, default=str) for p in Patient.by_clinic.query(world.clinic_id)
    )
    visits = sorted(
        json.dumps(v.attribute_values, sort_keys=True, default=str)
        for v in Visit.by_clinic_start.query(world.clinic_id)
    )
    return json.dumps(clinic, sort_keys=True, default=str), patients, visits


def routes(world):
    """(method, path, token) for every route that takes a body."""
    return [
        ("POST", "/auth/login", None),
        ("POST", "/auth/new-password", None),
        ("POST", "/auth/refresh", None),
        ("PUT", f"/portal/sessions/{world.visit_id}/response", world.token_for("Alex")),
        ("PATCH", "/clinic/settings", world.staff_token),
        ("POST", "/clinic/patients", world.staff_token),
        ("POST", "/clinic/sessions", world.staff_token),
        ("PATCH", f"/clinic/sessions/{world.visit_id}", world.staff_token),
    ]


def assert_bad_request(response):
    assert response.status_code == 400, (response.status_code, response.data)
    assert response.data["Code"] == "BadRequestError"
    assert response.data["Message"]
    assert "Traceback" not in response.data["Message"]


@pytest.mark.parametrize("raw", MALFORMED + NOT_OBJECTS)
def test_malformed_or_non_object_json_is_400_everywhere(api, world, raw):
    before = everything_stored(world)
    for method, path, token in routes(world):
        assert_bad_request(api.call(method, path, token, raw=raw))
    assert everything_stored(world) == before


BAD_BODIES = {
    "/auth/login": [
        {},
        {"username": "a"},
        {"username": 5, "password": "x"},
        {"username": "a", "password": ""},
        {"username": "a", "password": "x" * 300},
        {"username": "a", "password": "b", "extra": 1},
    ],
    "/auth/new-password": [{"username": "a", "session": "s"}, {"username": "a", "session": 1, "new_password": "x"}],
    "/auth/refresh": [{}, {"refresh_token": 12}, {"refresh_token": ""}, {"refresh_token": "x" * 9000}],
    "response": [
        {},
        {"response": "maybe"},
        {"response": "CONFIRMED"},
        {"response": None},
        {"response": 1},
        {"response": ["confirmed"]},
        {"response": "cancelled", "reason": "x" * 501},
        {"response": "cancelled", "reason": 7},
        {"response": "confirmed", "reason": "why"},
        {"response": "cancelled", "note": "x"},
    ],
    "/clinic/settings": [
        {"cancel_cutoff_hours": "24"},
        {"cancel_cutoff_hours": True},
        {"timezone": "EST5EDT!"},
        {"admin_email": "a@b"},
        {"phone": "1" * 51},
        {"cancel_notice": "x" * 2001},
        {"name": "Line\nbreak"},
        {"session_classes": "Individual therapy"},
    ],
    "/clinic/patients": [
        {},
        {"name": "A"},
        {"name": "A", "email": "nope"},
        {"name": "x" * 201, "email": "a@b.co"},
        {"name": "\u0000", "email": "a@b.co"},
    ],
    "visit patch": [
        {},
        {"date": "2026-1-1"},
        {"start_time": "noon"},
        {"completed": 1},
        {"duration_minutes": 4},
        {"provider": ""},
        {"session_class": 3},
    ],
}


@pytest.mark.parametrize("route, body", [(route, body) for route, bodies in BAD_BODIES.items() for body in bodies])
def test_wrong_types_unknown_values_and_oversized_strings_are_400(api, world, route, body):
    method, path, token = {
        "response": ("PUT", f"/portal/sessions/{world.visit_id}/response", world.token_for("Alex")),
        "/clinic/settings": ("PATCH", "/clinic/settings", world.staff_token),
        "/clinic/patients": ("POST", "/clinic/patients", world.staff_token),
        "visit patch": ("PATCH", f"/clinic/sessions/{world.visit_id}", world.staff_token),
    }.get(route, ("POST", route, None))
    before = everything_stored(world)

    assert_bad_request(api.call(method, path, token, json_body=body))

    assert everything_stored(world) == before


@pytest.mark.parametrize("path", ["/portal/sessions", "/clinic/sessions"])
@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "to=yesterday",
        "from=2026-12-02&to=2026-12-01",
        "from=2026-01-01&to=2027-01-03",
        "from=%00",
        "to=2026-02-29",
    ],
)
def test_bad_dates_and_ranges_are_400(api, world, path, query):
    token = world.token_for("Alex") if path.startswith("/portal") else world.staff_token
    assert_bad_request(api.get(f"{path}?{query}", token))


def test_a_366_day_range_is_allowed(api, world):
    response = api.get("/portal/sessions?from=2026-01-01&to=2027-01-02", world.token_for("Alex"))
    assert response.status_code == 200


def test_a_password_is_never_echoed_in_an_error(api, world):
    response = api.post("/auth/login", json_body={"username": "a@b.co", "password": "Secret-Value-123!", "x": 1})
    assert "Secret-Value-123!" not in json.dumps(response.data)


@pytest.mark.parametrize("path", ["/nowhere", "/portal/nothing", "/portal/sessions/vis_1/elsewhere"])
def test_an_unknown_route_is_404_in_the_error_shape(api, world, path):
    for token in (None, world.token_for("Alex")):
        response = api.get(path, token)
        assert response.status_code == 404
        assert response.data["Code"] == "NotFoundError"
