"""Two clinics, several patients: nobody reads or changes what is not theirs, and "not yours"
reads exactly like "not there"."""

import pytest

from tests import bodies


@pytest.fixture
def two_clinics(make_clinic):
    first = make_clinic(patients=("Alex", "Sam"))
    second = make_clinic(patients=("Bea",))
    visits = {
        "alex": first.add_visit("Alex"),
        "sam": first.add_visit("Sam", response="CLIENT_CONFIRMED"),
        "bea": second.add_visit("Bea"),
    }
    return first, second, visits


def test_a_patient_lists_only_their_own_visits(api, two_clinics):
    first, _, visits = two_clinics
    listing = api.get("/portal/sessions", first.token_for("Alex")).data
    assert [v["id"] for v in listing["sessions"]] == [visits["alex"]]


@pytest.mark.parametrize("target", ["sam", "bea"])
def test_another_patients_visit_reads_like_a_missing_one(api, two_clinics, target):
    first, second, visits = two_clinics
    owner, name = (first, "Sam") if target == "sam" else (second, "Bea")
    before = owner.stored_visit(name, visits[target]).attribute_values
    token = first.token_for("Alex")

    for method in ("PUT", "DELETE"):
        theirs = api.call(
            method, f"/portal/sessions/{visits[target]}/response", token, json_body={"response": "cancelled"}
        )
        missing = api.call(
            method, "/portal/sessions/vis_0000000000/response", token, json_body={"response": "cancelled"}
        )
        assert theirs.status_code == missing.status_code == 404
        assert theirs.data == missing.data
    assert owner.stored_visit(name, visits[target]).attribute_values == before


def test_staff_see_only_their_clinics_schedule_and_patients(api, two_clinics):
    first, second, visits = two_clinics
    schedule = api.get("/clinic/sessions", second.staff_token).data["sessions"]
    assert [v["id"] for v in schedule] == [visits["bea"]]
    patients = api.get("/clinic/patients", second.staff_token).data["patients"]
    assert [p["name"] for p in patients] == ["Bea"]


def test_staff_cannot_change_another_clinics_visit(api, two_clinics):
    first, second, visits = two_clinics
    before = first.stored_visit("Alex", visits["alex"]).attribute_values

    theirs = api.patch(f"/clinic/sessions/{visits['alex']}", second.staff_token, json_body={"location": "Elsewhere"})
    missing = api.patch("/clinic/sessions/vis_0000000000", second.staff_token, json_body={"location": "Elsewhere"})

    assert theirs.status_code == missing.status_code == 404
    assert theirs.data == missing.data
    assert first.stored_visit("Alex", visits["alex"]).attribute_values == before


def test_staff_cannot_schedule_a_visit_for_another_clinics_patient(api, two_clinics):
    first, second, _ = two_clinics
    body = bodies.new_visit(first.patients["Alex"])
    response = api.post("/clinic/sessions", second.staff_token, json_body=body)
    assert response.status_code == 404
    assert len(api.get("/portal/sessions", first.token_for("Alex")).data["sessions"]) == 1


def test_settings_changes_stay_in_their_clinic(api, two_clinics):
    first, second, _ = two_clinics
    api.patch("/clinic/settings", second.staff_token, json_body={"patient_cancel_enabled": False})
    assert api.get("/clinic/settings", first.staff_token).data["patient_cancel_enabled"] is True
    assert api.get("/portal/me", first.token_for("Alex")).data["clinic"]["patient_cancel_enabled"] is True


def test_the_patient_and_clinic_come_from_the_token_not_the_request(api, two_clinics):
    first, second, visits = two_clinics
    response = api.get(f"/portal/sessions?patient_id={second.patients['Bea']}", first.token_for("Alex"))
    assert [v["id"] for v in response.data["sessions"]] == [visits["alex"]]
    # A clinic a request names is only ever chosen among the person's own: another one is unknown.
    for named in ({"X-Clinic-Id": second.clinic_id}, {}):
        path = "/portal/sessions" + ("" if named else f"?clinic_id={second.clinic_id}")
        refused = api.get(path, first.token_for("Alex"), headers=named)
        assert refused.status_code == 404
        assert refused.data == {"Code": "NotFoundError", "Message": "Unknown clinic."}
