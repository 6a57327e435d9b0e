"""What clinic staff do through the HTTP API: settings, patients and the schedule."""

from datetime import date, timedelta

CLASSES = [
    {"name": "Individual therapy", "cancelled": False},
    {"name": "Family therapy", "cancelled": False},
    {"name": "Cancelled by client", "cancelled": True},
    {"name": "Cancelled by clinic", "cancelled": True},
]


def a_week_ahead() -> str:
    return (date.today() + timedelta(days=7)).isoformat()


def test_staff_change_a_setting_and_read_it_back(api, clinic):
    changed = api.patch("/clinic/settings", clinic.staff_token, json_body={"cancel_cutoff_hours": 24})
    assert changed.status_code == 200
    assert api.get("/clinic/settings", clinic.staff_token).data["cancel_cutoff_hours"] == 24


def test_a_session_class_that_visits_still_use_cannot_be_removed(api, clinic):
    clinic.add_visit("Alex", session_class="Family therapy")
    without_family = [c for c in CLASSES if c["name"] != "Family therapy"]
    response = api.patch("/clinic/settings", clinic.staff_token, json_body={"session_classes": without_family})
    assert response.status_code == 409
    assert [c["name"] for c in api.get("/clinic/settings", clinic.staff_token).data["session_classes"]] == [
        c["name"] for c in CLASSES
    ]


def test_staff_add_a_visit_and_see_it_on_the_schedule(api, clinic):
    created = api.post(
        "/clinic/sessions",
        clinic.staff_token,
        json_body={
            "patient_id": clinic.patients["Alex"],
            "date": a_week_ahead(),
            "start_time": "10:30",
            "duration_minutes": 50,
            "provider": "Dr. Maya Patel",
            "location": "Room 2",
            "session_class": "Individual therapy",
        },
    )
    assert created.status_code == 201, created.data
    schedule = api.get("/clinic/sessions", clinic.staff_token).data["sessions"]
    assert [(v["id"], v["start_time"], v["status"]) for v in schedule] == [
        (created.data["id"], "10:30", "awaiting_response")
    ]


def test_moving_a_visit_clears_the_patients_answer(api, clinic):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CONFIRMED")
    moved = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": a_week_ahead(), "start_time": "16:00"}
    )
    assert moved.status_code == 200, moved.data
    assert (moved.data["start_time"], moved.data["patient_response"]) == ("16:00", None)
    assert clinic.stored_visit("Alex", visit_id).patient_response is None


def test_staff_add_a_patient_who_then_appears_in_the_list(api, clinic):
    created = api.post(
        "/clinic/patients",
        clinic.staff_token,
        json_body={"name": "Robin Lee", "email": f"robin.{clinic.clinic_id}@tests.example"},
    )
    assert created.status_code == 201
    names = [p["name"] for p in api.get("/clinic/patients", clinic.staff_token).data["patients"]]
    assert sorted(names) == ["Alex", "Robin Lee"]


def test_a_patient_record_that_cannot_be_stored_leaves_no_login_behind(api, clinic, monkeypatch):
    from chalicelib import aws, config, scheduling  # not at import: the models read the test tables' names

    monkeypatch.setattr(scheduling, "new_id", lambda prefix: clinic.patients["Alex"])  # an id already taken
    email = f"taken.{clinic.clinic_id}@tests.example"
    response = api.post("/clinic/patients", clinic.staff_token, json_body={"name": "Taken Id", "email": email})
    assert response.status_code == 500
    users = aws.cognito().list_users(UserPoolId=config.settings().user_pool_id, Filter=f'email = "{email}"')["Users"]
    assert users == []
