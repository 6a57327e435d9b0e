"""Staff lists come in pages (`limit`, `cursor`, `next_cursor`); cursors are signed, and bound to
the list, the clinic and the range they continue, so a cursor that was not ours is a 400.
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import signing
from chalicelib.models import Patient, Visit
from local import records

BIG_CLINIC_VISITS = 450


@pytest.fixture
def big_clinic(make_clinic):
    """A clinic with 450 visits over the next 90 days, several at the same minute."""
    world = make_clinic(patients=("Alex", "Sam", "Riley"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with Visit.batch_write() as batch:
        for number in range(BIG_CLINIC_VISITS):
            name = ("Alex", "Sam", "Riley")[number % 3]
            batch.save(
                records.visit(
                    world.patients[name],
                    f"vis_big_{world.clinic_id}_{number:04d}",
                    clinic_id=world.clinic_id,
                    patient_name=name,
                    starts_at=now + timedelta(days=1 + number // 5, hours=number % 2),  # pairs at the same start
                    now=now,
                )
            )
    return world


def pages(api, world, path, **query):
    """Every page of a list, following next_cursor."""
    answers, cursor = [], None
    while True:
        params = dict(query, **({"cursor": cursor} if cursor else {}))
        url = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        response = api.get(url, world.staff_token)
        assert response.status_code == 200, response.data
        answers.append(response.data)
        cursor = response.data["next_cursor"]
        if cursor is None:
            return answers


def test_paging_through_a_big_clinic_returns_every_visit_exactly_once_in_start_order(api, big_clinic):
    answers = pages(api, big_clinic, "/clinic/sessions", limit=100)

    ids = [visit["id"] for answer in answers for visit in answer["sessions"]]
    assert len(answers) == 5
    assert [len(answer["sessions"]) for answer in answers] == [100, 100, 100, 100, 50]
    assert len(ids) == len(set(ids)) == BIG_CLINIC_VISITS
    starts = [(v["date"], v["start_time"]) for answer in answers for v in answer["sessions"]]
    assert starts == sorted(starts)


def test_the_default_page_is_200_visits(api, big_clinic):
    first = api.get("/clinic/sessions", big_clinic.staff_token).data
    assert len(first["sessions"]) == 200
    assert first["next_cursor"]


def test_a_list_that_fits_one_page_has_no_next_cursor(api, clinic):
    clinic.add_visit("Alex")
    response = api.get("/clinic/sessions", clinic.staff_token)
    assert response.data["next_cursor"] is None
    assert len(response.data["sessions"]) == 1


def test_a_page_exactly_as_long_as_the_list_is_the_last_one(api, clinic):
    for days in (1, 2):
        clinic.add_visit("Alex", timedelta(days=days))
    response = api.get("/clinic/sessions?limit=2", clinic.staff_token)
    assert len(response.data["sessions"]) == 2
    assert response.data["next_cursor"] is None


def test_paging_through_patients_returns_each_once_by_name(api, make_clinic):
    world = make_clinic(patients=())
    names = [f"Patient {number:03d}" for number in range(23)]
    with Patient.batch_write() as batch:
        for number, name in enumerate(names):
            batch.save(
                Patient(
                    f"pat_{world.clinic_id}_{number}",
                    clinic_id=world.clinic_id,
                    name=name,
                    email=f"p{number}.{world.clinic_id}@tests.example",
                    created_at="2026-01-01T00:00:00Z",
                )
            )

    answers = pages(api, world, "/clinic/patients", limit=10)

    assert [len(answer["patients"]) for answer in answers] == [10, 10, 3]
    assert [p["name"] for answer in answers for p in answer["patients"]] == names


# --- Cursors that are not ours ---------------------------------------------------------------


@pytest.fixture
def cursor(api, big_clinic):
    return api.get("/clinic/sessions?limit=10", big_clinic.staff_token).data["next_cursor"]


def tampered(cursor: str) -> str:
    version, key_id, body, mac = cursor.split(".")
    state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    state["clinic"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(state).encode()).rstrip(b"=").decode()
    return ".".join([version, key_id, forged, mac])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: tampered(c),
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),
        lambda c: c + "x",
        lambda c: c.replace("v1.", "v2.", 1),
        lambda c: "not-a-cursor",
        lambda c: "v1.k9." + c.split(".", 2)[2],
        lambda c: "x" * 3000,
    ],
    ids=["payload changed", "signature changed", "extended", "other version", "garbage", "unknown key", "huge"],
)
def test_a_cursor_that_is_not_ours_is_400_and_lists_nothing(api, big_clinic, cursor, mangle):
    response = api.get(f"/clinic/sessions?limit=10&cursor={mangle(cursor)}", big_clinic.staff_token)
    assert response.status_code == 400
    assert response.data["Code"] == "BadRequestError"
    assert "sessions" not in response.data


def test_another_clinics_cursor_is_400(api, big_clinic, make_clinic, cursor):
    other = make_clinic()
    response = api.get(f"/clinic/sessions?limit=10&cursor={cursor}", other.staff_token)
    assert response.status_code == 400


def test_a_cursor_for_another_range_is_400(api, big_clinic, cursor):
    response = api.get(f"/clinic/sessions?limit=10&from=2030-01-01&cursor={cursor}", big_clinic.staff_token)
    assert response.status_code == 400


def test_a_visits_cursor_is_no_patients_cursor(api, big_clinic, cursor):
    response = api.get(f"/clinic/patients?cursor={cursor}", big_clinic.staff_token)
    assert response.status_code == 400


def test_a_cursor_signed_for_another_purpose_is_400(api, big_clinic):
    forged = signing.sign("reminder-link", {"clinic": big_clinic.clinic_id, "query": [None, None]})
    response = api.get(f"/clinic/sessions?cursor={forged}", big_clinic.staff_token)
    assert response.status_code == 400


def test_a_different_limit_may_continue_the_same_cursor(api, big_clinic, cursor):
    response = api.get(f"/clinic/sessions?limit=50&cursor={cursor}", big_clinic.staff_token)
    assert response.status_code == 200
    assert len(response.data["sessions"]) == 50


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1.5", "", "99999"])
def test_a_limit_outside_1_to_500_is_400(api, clinic, limit):
    for path in ("/clinic/sessions", "/clinic/patients"):
        response = api.get(f"{path}?limit={limit}", clinic.staff_token)
        assert response.status_code == 400, (path, limit)
