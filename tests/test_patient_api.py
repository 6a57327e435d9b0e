"""What a patient sees and does in the portal, through the HTTP API."""

from datetime import date, timedelta

import boto3
import pytest

from chalicelib import config
from chalicelib.models import Visit
from chalicelib.rules import DEFAULT_CANCEL_NOTICE

DAY = timedelta(days=1)


def sessions(api, world, name="Alex", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = api.get(f"/portal/sessions{'?' + query if query else ''}", world.token_for(name))
    assert response.status_code == 200, response.data
    return response.data


def visit_in(listing, visit_id):
    return next(v for v in listing["sessions"] if v["id"] == visit_id)


def respond(api, world, visit_id, answer, name="Alex", **extra):
    return api.put(
        f"/portal/sessions/{visit_id}/response", world.token_for(name), json_body={"response": answer, **extra}
    )


def change(api, world, visit_id, name="Alex"):
    return api.delete(f"/portal/sessions/{visit_id}/response", world.token_for(name))


def test_me_shows_the_patient_and_the_clinic(api, clinic):
    response = api.get("/portal/me", clinic.token_for("Alex"))
    assert response.status_code == 200
    assert response.data == {
        "patient": {"id": clinic.patients["Alex"], "name": "Alex"},
        "clinic": {
            "id": clinic.clinic_id,
            "name": "Test Family Therapy",
            "timezone": "America/New_York",
            "phone": "(555) 010-9999",
            "patient_cancel_enabled": True,
            "cancel_cutoff_hours": 0,
        },
        "clinics": [{"id": clinic.clinic_id, "name": "Test Family Therapy"}],
    }


def test_the_list_shows_every_status_with_its_actions_sorted_by_start(api, clinic):
    ids = {
        "completed": clinic.add_visit("Alex", -7 * DAY, completed=True),
        "cancelled": clinic.add_visit("Alex", -3 * DAY, session_class="Cancelled by clinic"),
        "awaiting": clinic.add_visit("Alex", 2 * DAY),
        "confirmed": clinic.add_visit("Alex", 4 * DAY, response="CLIENT_CONFIRMED"),
        "pending": clinic.add_visit("Alex", 6 * DAY, response="CLIENT_CANCELLED"),
    }
    listing = sessions(api, clinic)

    assert [v["id"] for v in listing["sessions"]] == list(ids.values())
    assert [(v["status"], v["actions"]) for v in listing["sessions"]] == [
        ("completed", []),
        ("cancelled", []),
        ("awaiting_response", ["confirm", "cancel"]),
        ("patient_confirmed", ["change"]),
        ("pending_cancel", ["change"]),
    ]
    assert listing["timezone"] == "America/New_York"


def test_a_visit_shows_date_and_time_in_the_clinics_time_zone(api, make_clinic):
    world = make_clinic(timezone_name="America/Los_Angeles")
    visit_id = world.add_visit("Alex", 30 * DAY, provider="Jordan Lee, LMFT", location="Telehealth")
    stored = world.stored_visit("Alex", visit_id)
    stored.update(actions=[Visit.starts_at.set("2026-12-24T17:30:00Z")])

    listing = sessions(api, world, **{"from": "2026-12-24", "to": "2026-12-24"})

    assert listing["sessions"] == [
        {
            "id": visit_id,
            "date": "2026-12-24",
            "start_time": "09:30",
            "provider": "Jordan Lee, LMFT",
            "location": "Telehealth",
            "status": "awaiting_response",
            "actions": ["confirm", "cancel"],
            "responded_at": None,
        }
    ]


def test_the_default_range_is_30_days_back_to_90_ahead(api, clinic):
    inside = [clinic.add_visit("Alex", -29 * DAY), clinic.add_visit("Alex", 89 * DAY)]
    clinic.add_visit("Alex", -32 * DAY)
    clinic.add_visit("Alex", 92 * DAY)

    listing = sessions(api, clinic)

    assert [v["id"] for v in listing["sessions"]] == inside
    assert (date.fromisoformat(listing["to"]) - date.fromisoformat(listing["from"])).days == 120


def test_range_bounds_are_inclusive_local_days(api, clinic):
    first_minute = clinic.add_visit("Alex")
    last_minute = clinic.add_visit("Alex")
    day_after = clinic.add_visit("Alex")
    # 00:00 and 23:59 on 2027-01-10 in New York, and 00:00 the day after
    for visit_id, instant in (
        (first_minute, "2027-01-10T05:00:00Z"),
        (last_minute, "2027-01-11T04:59:00Z"),
        (day_after, "2027-01-11T05:00:00Z"),
    ):
        clinic.stored_visit("Alex", visit_id).update(actions=[Visit.starts_at.set(instant)])

    listing = sessions(api, clinic, **{"from": "2027-01-10", "to": "2027-01-10"})

    assert [v["id"] for v in listing["sessions"]] == [first_minute, last_minute]


def test_confirm_then_change_then_cancel_with_a_reason(api, clinic):
    visit_id = clinic.add_visit("Alex")

    confirmed = respond(api, clinic, visit_id, "confirmed")
    assert confirmed.status_code == 200
    assert confirmed.data["status"] == "patient_confirmed"
    assert confirmed.data["actions"] == ["change"]
    assert confirmed.data["responded_at"].endswith("Z")
    assert "notice" not in confirmed.data

    changed = change(api, clinic, visit_id)
    assert changed.status_code == 200
    assert changed.data["status"] == "awaiting_response"
    assert changed.data["actions"] == ["confirm", "cancel"]
    assert changed.data["responded_at"] is None

    cancelled = respond(api, clinic, visit_id, "cancelled", reason="  Fever since Monday.  ")
    assert cancelled.status_code == 200
    assert cancelled.data["status"] == "pending_cancel"
    assert cancelled.data["notice"] == DEFAULT_CANCEL_NOTICE

    stored = clinic.stored_visit("Alex", visit_id)
    assert stored.patient_response == "CLIENT_CANCELLED"
    assert stored.cancel_reason == "Fever since Monday."
    assert stored.changed_by == "patient"
    assert visit_in(sessions(api, clinic), visit_id)["status"] == "pending_cancel"


def test_the_clinics_own_cancel_notice_is_returned(api, clinic):
    clinic.settings(cancel_notice="Thanks. Please also call us at (555) 010-9999.")
    visit_id = clinic.add_visit("Alex")
    assert (
        respond(api, clinic, visit_id, "cancelled").data["notice"] == "Thanks. Please also call us at (555) 010-9999."
    )


@pytest.mark.parametrize("answer, stored", [("confirmed", "CLIENT_CONFIRMED"), ("cancelled", "CLIENT_CANCELLED")])
def test_the_same_answer_again_changes_nothing(api, clinic, answer, stored):
    visit_id = clinic.add_visit("Alex")
    first = respond(api, clinic, visit_id, answer, **({"reason": "first"} if answer == "cancelled" else {}))
    before = clinic.stored_visit("Alex", visit_id).attribute_values

    again = respond(api, clinic, visit_id, answer, **({"reason": "second"} if answer == "cancelled" else {}))

    assert again.status_code == 200
    assert again.data == first.data
    after = clinic.stored_visit("Alex", visit_id).attribute_values
    assert after == before
    assert after["patient_response"] == stored


def test_a_different_answer_while_one_is_set_is_409(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CONFIRMED")
    response = respond(api, clinic, visit_id, "cancelled")
    assert response.status_code == 409
    assert response.data["Code"] == "ConflictError"
    assert clinic.stored_visit("Alex", visit_id).patient_response == "CLIENT_CONFIRMED"


def test_cancel_when_clinic_turned_it_off_is_forbidden(api, make_clinic):
    world = make_clinic(patient_cancel_enabled=False)
    visit_id = world.add_visit("Alex")

    assert visit_in(sessions(api, world), visit_id)["actions"] == ["confirm"]
    response = respond(api, world, visit_id, "cancelled")

    assert response.status_code == 403
    assert world.stored_visit("Alex", visit_id).patient_response is None
    assert respond(api, world, visit_id, "confirmed").status_code == 200


@pytest.mark.parametrize("shape", ["started", "past cutoff", "completed", "cancelled by clinic"])
def test_a_visit_that_is_not_open_refuses_every_change(api, make_clinic, shape):
    world = make_clinic(cancel_cutoff_hours=24)
    kwargs = {
        "started": {"starts_in": -timedelta(minutes=5)},
        "past cutoff": {"starts_in": timedelta(hours=20)},
        "completed": {"starts_in": -timedelta(hours=2), "completed": True},
        "cancelled by clinic": {"starts_in": 3 * DAY, "session_class": "Cancelled by clinic"},
    }[shape]
    visit_id = world.add_visit("Alex", response="CLIENT_CONFIRMED", **kwargs)
    before = world.stored_visit("Alex", visit_id).attribute_values

    assert visit_in(sessions(api, world), visit_id)["actions"] == []
    for attempt in (
        respond(api, world, visit_id, "confirmed"),
        respond(api, world, visit_id, "cancelled"),
        change(api, world, visit_id),
    ):
        assert attempt.status_code == 409
        assert attempt.data["Code"] == "ConflictError"
    assert world.stored_visit("Alex", visit_id).attribute_values == before


def test_change_without_an_answer_is_200_and_changes_nothing(api, clinic):
    visit_id = clinic.add_visit("Alex")
    before = clinic.stored_visit("Alex", visit_id).attribute_values
    response = change(api, clinic, visit_id)
    assert response.status_code == 200
    assert response.data["status"] == "awaiting_response"
    assert clinic.stored_visit("Alex", visit_id).attribute_values == before


def test_unknown_visit_is_404(api, clinic):
    for attempt in (
        respond(api, clinic, "vis_does_not_exist", "confirmed"),
        change(api, clinic, "vis_nope"),
        respond(api, clinic, "%E2%9C%93" * 30, "confirmed"),
    ):
        assert attempt.status_code == 404
        assert attempt.data["Code"] == "NotFoundError"


def test_a_visit_with_a_mangled_start_is_left_out_of_the_list_not_a_500(api, clinic):
    good = clinic.add_visit("Alex")
    bad = clinic.add_visit("Alex")
    clinic.stored_visit("Alex", bad).update(actions=[Visit.starts_at.set("2026-12-0X oops")])
    listing = sessions(api, clinic, **{"from": "2026-01-01", "to": "2026-12-31"})
    assert bad not in [v["id"] for v in listing["sessions"]]
    assert respond(api, clinic, good, "confirmed").status_code == 200


def test_console_typed_booleans_and_numbers_are_read(api, clinic):
    """Staff in the AWS console sometimes type "true" as text; the portal still reads it."""
    visit_id = clinic.add_visit("Alex", -DAY)
    boto3.client("dynamodb", endpoint_url=config.current().endpoint).update_item(
        TableName=Visit.Meta.table_name,
        Key={"patient_id": {"S": clinic.patients["Alex"]}, "visit_id": {"S": visit_id}},
        UpdateExpression="SET completed = :yes, duration_minutes = :fifty",
        ExpressionAttributeValues={":yes": {"S": "true"}, ":fifty": {"S": "45"}},
    )
    assert visit_in(sessions(api, clinic), visit_id)["status"] == "completed"
    staff_view = api.get("/clinic/sessions", clinic.staff_token).data
    assert visit_in(staff_view, visit_id)["duration_minutes"] == 45
