"""What clinic staff do: settings, patients and the schedule, through the HTTP API."""

from datetime import date, timedelta

import pytest

from chalicelib import aws as aws_clients
from chalicelib import config, scheduling
from chalicelib.models import Membership, Patient
from tests import bodies

DAY = timedelta(days=1)


def new_visit(world, **changes):
    return {**bodies.new_visit(world.patients["Alex"], date=(date.today() + 10 * DAY).isoformat()), **changes}


def test_settings_show_everything_the_clinic_configures(api, clinic):
    response = api.get("/clinic/settings", clinic.staff_token)
    assert response.status_code == 200
    assert response.data["name"] == "Test Family Therapy"
    assert response.data["admin_email"] == f"frontdesk.{clinic.clinic_id}@tests.example"
    assert response.data["session_classes"][2] == {"name": "Cancelled by client", "cancelled": True}
    assert set(response.data) == {
        "name",
        "timezone",
        "phone",
        "admin_email",
        "patient_cancel_enabled",
        "cancel_cutoff_hours",
        "cancel_notice",
        "session_classes",
        "reminders",
        "undelivered_emails",
    }
    assert response.data["reminders"] == {  # the contract's defaults
        "enabled": False,
        "hours_before": [48],
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "show_provider": True,
    }
    assert response.data["undelivered_emails"] == 0


def test_patching_settings_changes_only_what_was_sent(api, clinic):
    response = api.patch(
        "/clinic/settings",
        clinic.staff_token,
        json_body={
            "patient_cancel_enabled": False,
            "cancel_cutoff_hours": 24,
            "timezone": "America/Chicago",
            "admin_email": "Desk@Example.org",
            "cancel_notice": "Call us, please.",
        },
    )
    assert response.status_code == 200
    assert response.data["patient_cancel_enabled"] is False
    assert response.data["cancel_cutoff_hours"] == 24
    assert response.data["timezone"] == "America/Chicago"
    assert response.data["admin_email"] == "desk@example.org"
    assert response.data["name"] == "Test Family Therapy"
    assert api.get("/clinic/settings", clinic.staff_token).data == response.data


def test_turning_off_patient_cancellation_removes_cancel_from_the_patients_actions(api, clinic):
    clinic.add_visit("Alex")
    api.patch("/clinic/settings", clinic.staff_token, json_body={"patient_cancel_enabled": False})
    listing = api.get("/portal/sessions", clinic.token_for("Alex")).data
    assert listing["sessions"][0]["actions"] == ["confirm"]


@pytest.mark.parametrize(
    "patch",
    [
        {"admin_email": "not-an-email"},
        {"timezone": "Mars/Olympus"},
        {"cancel_cutoff_hours": 169},
        {"cancel_cutoff_hours": -1},
        {"cancel_cutoff_hours": 2.5},
        {"patient_cancel_enabled": "yes"},
        {"session_classes": [{"name": "A", "cancelled": False}, {"name": "a", "cancelled": True}]},
        {"session_classes": [{"name": "Cancelled", "cancelled": True}]},
        {"session_classes": []},
        {"session_classes": [{"name": "A"}]},
        {"name": ""},
        {"colour": "blue"},
        {},
    ],
)
def test_invalid_settings_are_400_and_change_nothing(api, clinic, patch):
    before = api.get("/clinic/settings", clinic.staff_token).data
    response = api.patch("/clinic/settings", clinic.staff_token, json_body=patch)
    assert response.status_code == 400
    assert response.data["Code"] == "BadRequestError"
    assert api.get("/clinic/settings", clinic.staff_token).data == before


def test_a_session_class_still_used_by_visits_cannot_be_removed(api, clinic):
    clinic.add_visit("Alex", session_class="Family therapy")
    response = api.patch(
        "/clinic/settings",
        clinic.staff_token,
        json_body={
            "session_classes": [
                {"name": "Individual therapy", "cancelled": False},
                {"name": "Cancelled by client", "cancelled": True},
            ]
        },
    )
    assert response.status_code == 409
    assert "Family therapy" in response.data["Message"]
    assert len(api.get("/clinic/settings", clinic.staff_token).data["session_classes"]) == 4


def test_unused_session_classes_can_be_removed_and_added(api, clinic):
    clinic.add_visit("Alex", session_class="Individual therapy")
    classes = [
        {"name": "Individual therapy", "cancelled": False},
        {"name": "Couples therapy", "cancelled": False},
        {"name": "No-show", "cancelled": True},
    ]
    response = api.patch("/clinic/settings", clinic.staff_token, json_body={"session_classes": classes})
    assert response.status_code == 200
    assert response.data["session_classes"] == classes


def test_staff_add_a_patient_who_gets_a_portal_login(api, clinic):
    email = f"new.patient.{clinic.clinic_id}@tests.example"
    response = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "New Patient", "email": email})

    assert response.status_code == 201
    assert response.data["name"] == "New Patient"
    assert response.data["email"] == email
    user = aws_clients.cognito().admin_get_user(UserPoolId=config.current().user_pool_id, Username=email)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert "custom:patient_id" not in attributes  # the clinic is data: a membership of the login
    membership = Membership.get(attributes["sub"], clinic.clinic_id, consistent_read=True)
    assert membership.patient_id == response.data["id"] and membership.removed_at is None
    assert Patient.get(response.data["id"]).user_id == attributes["sub"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    listed = api.get("/clinic/patients", clinic.staff_token).data["patients"]
    assert {
        "id": response.data["id"],
        "name": "New Patient",
        "email": email,
        "email_status": "ok",
        "email_reminders": True,
    } in listed


def test_adding_a_patient_whose_email_has_a_login_is_409(api, clinic):
    response = api.post(
        "/clinic/patients", clinic.staff_token, json_body={"name": "Alex Again", "email": clinic.email_of("Alex")}
    )
    assert response.status_code == 409
    assert [p["name"] for p in api.get("/clinic/patients", clinic.staff_token).data["patients"]] == ["Alex"]


def test_a_patient_record_that_cannot_be_stored_leaves_no_login_behind(api, clinic, monkeypatch):
    monkeypatch.setattr(scheduling, "new_id", lambda prefix: clinic.patients["Alex"])  # an id already taken
    email = f"taken.{clinic.clinic_id}@tests.example"

    response = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "Taken Id", "email": email})

    assert response.status_code == 500
    pool = config.current().user_pool_id
    assert aws_clients.cognito().list_users(UserPoolId=pool, Filter=f'email = "{email}"')["Users"] == []


def test_staff_schedule_a_visit_the_patient_then_sees(api, clinic):
    response = api.post("/clinic/sessions", clinic.staff_token, json_body=new_visit(clinic))

    assert response.status_code == 201
    assert response.data["start_time"] == "09:30"
    assert response.data["status"] == "awaiting_response"
    assert response.data["patient_name"] == "Alex"
    assert response.data["patient_response"] is None
    assert response.data["completed"] is False
    patient_view = api.get("/portal/sessions", clinic.token_for("Alex")).data["sessions"]
    assert [v["id"] for v in patient_view] == [response.data["id"]]
    assert clinic.stored_visit("Alex", response.data["id"]).starts_at.endswith(":30:00Z")


@pytest.mark.parametrize(
    "changes, status",
    [
        ({"session_class": "Yoga"}, 400),
        ({"patient_id": "pat_nobody"}, 404),
        ({"date": "2026-02-30"}, 400),
        ({"start_time": "25:00"}, 400),
        ({"start_time": "9:30"}, 400),
        ({"duration_minutes": 0}, 400),
        ({"duration_minutes": "50"}, 400),
        ({"provider": "x" * 201}, 400),
        ({"location": None}, 400),
        ({"extra": 1}, 400),
    ],
)
def test_invalid_new_visits_are_refused_and_nothing_is_stored(api, clinic, changes, status):
    response = api.post("/clinic/sessions", clinic.staff_token, json_body=new_visit(clinic, **changes))
    assert response.status_code == status
    assert api.get("/clinic/sessions", clinic.staff_token).data["sessions"] == []


def test_staff_list_shows_the_clinic_fields(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CANCELLED", reason="Car broke down")
    listing = api.get("/clinic/sessions", clinic.staff_token).data
    visit = next(v for v in listing["sessions"] if v["id"] == visit_id)
    assert visit["patient_response"] == "CLIENT_CANCELLED"
    assert visit["cancel_reason"] == "Car broke down"
    assert visit["status"] == "pending_cancel"
    assert visit["duration_minutes"] == 50
    assert visit["session_class"] == "Individual therapy"


def test_moving_a_visit_to_a_cancelled_class_shows_it_cancelled_to_the_patient(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CANCELLED")
    response = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"session_class": "Cancelled by client"}
    )
    assert response.status_code == 200
    assert response.data["status"] == "cancelled"
    patient_view = api.get("/portal/sessions", clinic.token_for("Alex")).data["sessions"][0]
    assert (patient_view["status"], patient_view["actions"]) == ("cancelled", [])


def test_moving_a_visit_to_another_time_clears_the_patients_answer(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CONFIRMED")
    new_day = (date.today() + 20 * DAY).isoformat()
    response = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": new_day, "start_time": "16:00"}
    )
    assert response.status_code == 200
    assert (response.data["date"], response.data["start_time"]) == (new_day, "16:00")
    assert response.data["patient_response"] is None
    assert response.data["status"] == "awaiting_response"
    stored = clinic.stored_visit("Alex", visit_id)
    assert stored.changed_by == f"staff:{clinic.staff_email}"


def test_editing_provider_or_location_keeps_the_patients_answer(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CONFIRMED")
    response = api.patch(
        f"/clinic/sessions/{visit_id}",
        clinic.staff_token,
        json_body={"provider": "Jordan Lee, LMFT", "location": "Telehealth"},
    )
    assert response.status_code == 200
    assert response.data["patient_response"] == "CLIENT_CONFIRMED"
    assert (response.data["provider"], response.data["location"]) == ("Jordan Lee, LMFT", "Telehealth")


def test_completing_a_visit_that_has_not_started_is_409(api, clinic):
    visit_id = clinic.add_visit("Alex", 2 * DAY)
    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"completed": True})
    assert response.status_code == 409
    assert clinic.stored_visit("Alex", visit_id).completed is False


def test_completing_a_visit_that_took_place(api, clinic):
    visit_id = clinic.add_visit("Alex", -2 * DAY)
    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"completed": True})
    assert response.status_code == 200
    assert response.data["status"] == "completed"


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"completed": "yes"},
        {"session_class": "Yoga"},
        {"patient_id": "pat_x"},
        {"date": "tomorrow"},
        {"duration_minutes": 721},
    ],
)
def test_invalid_visit_changes_are_400_and_change_nothing(api, clinic, patch):
    visit_id = clinic.add_visit("Alex")
    before = clinic.stored_visit("Alex", visit_id).attribute_values
    response = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body=patch)
    assert response.status_code == 400
    assert clinic.stored_visit("Alex", visit_id).attribute_values == before


def test_unknown_visit_is_404_for_staff(api, clinic):
    assert api.patch("/clinic/sessions/vis_nope", clinic.staff_token, json_body={"completed": True}).status_code == 404
