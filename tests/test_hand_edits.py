"""A value typed by hand in the AWS console never takes anything down.

Every field of the clinic and visit items, set to each DynamoDB type it should not have (and to
junk text): the portal still answers 200, staff repair it through the API, and the patient's
cancel still reaches the clinic exactly once. Keys and index keys can only be text (DynamoDB
types them itself), so for those only junk text is tried.
"""

import uuid

import pytest

from chalicelib.models import Clinic, Patient, Visit
from tests import bodies
from tests.test_emails import cancel

JUNK = "?? 48 hours <not this>"
WRONG = {
    "junk text": {"S": JUNK},
    "number": {"N": "7"},
    "boolean": {"BOOL": True},
    "list": {"L": [{"S": "x"}, {"N": "1"}]},
    "map": {"M": {"x": {"S": "y"}}},
    "null": {"NULL": True},
}
TEXT_ONLY = {"junk text": WRONG["junk text"]}

# The good value staff send to repair each clinic field (version is repaired by any save).
CLINIC_REPAIRS = {
    "name": "Test Family Therapy",
    "timezone": "America/New_York",
    "phone": "(555) 010-9999",
    "admin_email": None,  # the test's own address
    "patient_cancel_enabled": True,
    "cancel_cutoff_hours": 0,
    "cancel_notice": "Call us to cancel.",
    "session_classes": [
        {"name": "Individual therapy", "cancelled": False},
        {"name": "Family therapy", "cancelled": False},
        {"name": "Cancelled by client", "cancelled": True},
        {"name": "Cancelled by clinic", "cancelled": True},
    ],
    "version": None,
}


# The type a field has (a stored value of that type is right, not wrong); numbers are also read
# as Booleans (0 is false), so a number is no wrong type for a Boolean either.
OWN_TYPES = {
    "patient_cancel_enabled": ("boolean", "number"),
    "completed": ("boolean", "number"),
    "cancel_cutoff_hours": ("number",),
    "duration_minutes": ("number",),
    "revision": ("number",),
    "answer_changes": ("number",),
    "version": ("number",),
    "session_classes": (),
}


def cases(fields, types=WRONG):
    return [
        pytest.param(field, stored, id=f"{field}-{kind}")
        for field in fields
        for kind, stored in types.items()
        if kind not in OWN_TYPES.get(field, ())
    ]


@pytest.fixture
def raw_write(dynamodb):
    """Sets one attribute to a raw DynamoDB value, as a person in the console can."""

    def write(table: str, key: dict, field: str, stored: dict):
        dynamodb.update_item(
            TableName=table,
            Key={name: {"S": value} for name, value in key.items()},
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": field},
            ExpressionAttributeValues={":v": stored},
        )

    def read(table: str, key: dict) -> dict:
        key = {name: {"S": value} for name, value in key.items()}
        return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]

    write.read = read
    return write


_CLINICS = {}


@pytest.fixture
def clinic_of(make_clinic):
    """One clinic (with its logins) per field, shared by that field's cases: each case breaks the field
    itself and repairs it before it ends, so the next one starts from a sound clinic. Keeps the matrix fast."""

    def get(field):
        if field not in _CLINICS:
            _CLINICS[field] = make_clinic()
        return _CLINICS[field]

    return get


def emails_for(inbox, address, marker):
    return [email for email in inbox(address) if marker in email.text]


@pytest.mark.parametrize("field, stored", cases(CLINIC_REPAIRS))
def test_a_clinic_field_typed_wrong_keeps_the_portal_up_is_repaired_by_staff_and_the_email_goes_out(
    field,
    stored,
    api,
    clinic_of,
    raw_write,
    changed,
    deliver,
    clinic_saved,
    inbox,
):
    clinic = clinic_of(f"clinic.{field}")
    visit_id = clinic.add_visit("Alex")
    raw_write(Clinic.Meta.table_name, {"clinic_id": clinic.clinic_id}, field, stored)
    marker = uuid.uuid4().hex

    assert api.get("/clinic/settings", clinic.staff_token).status_code == 200
    assert api.get("/clinic/sessions", clinic.staff_token).status_code == 200
    assert api.get("/portal/me", clinic.token_for("Alex")).status_code == 200
    assert api.get("/portal/sessions", clinic.token_for("Alex")).status_code == 200
    assert deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason=marker))) == {
        "batchItemFailures": []
    }

    repair = CLINIC_REPAIRS[field]
    address = clinic.admin_email if field != "admin_email" else f"Front Desk <fixed.{clinic.clinic_id}@tests.example>"
    body = {field: address if field == "admin_email" else repair} if field != "version" else {"phone": "(555) 010-1234"}
    _patched(api, clinic, body)
    repaired = clinic_saved(clinic)

    assert repaired == {"batchItemFailures": []}
    settings = api.get("/clinic/settings", clinic.staff_token).data
    if field in body:
        assert settings[field] == body[field]
    stored_now = raw_write.read(Clinic.Meta.table_name, {"clinic_id": clinic.clinic_id})
    assert "version" in stored_now and "N" in stored_now["version"]
    to = clinic.admin_email if field != "admin_email" else f"fixed.{clinic.clinic_id}@tests.example"
    assert len(emails_for(inbox, to, marker)) == 1
    assert settings["undelivered_emails"] == 0


def _patched(api, world, body):
    response = api.patch("/clinic/settings", world.staff_token, json_body=body)
    assert response.status_code == 200, response.data


# The visit's fields, and what staff send to repair the ones the API lets them set.
VISIT_REPAIRS = {
    "duration_minutes": {"duration_minutes": 50},
    "provider": {"provider": "Dr. Maya Patel"},
    "location": {"location": "Room 2"},
    "completed": {"completed": False},
}
VISIT_FIELDS = [
    "patient_name",
    "duration_minutes",
    "provider",
    "location",
    "completed",
    "patient_response",
    "responded_at",
    "cancel_reason",
    "changed_by",
    "changed_at",
    "change_id",
    "created_at",
    "revision",
    "answer_changes",
]


@pytest.mark.parametrize("field, stored", cases(VISIT_FIELDS) + cases(["session_class"], TEXT_ONLY))
def test_a_visit_field_typed_wrong_keeps_the_portal_up_and_the_patients_cancel_emails_the_clinic(
    field,
    stored,
    api,
    clinic_of,
    raw_write,
    changed,
    deliver,
    inbox,
):
    clinic = clinic_of(f"visit.{field}")
    visit_id = clinic.add_visit("Alex")
    raw_write(Visit.Meta.table_name, {"patient_id": clinic.patients["Alex"], "visit_id": visit_id}, field, stored)
    marker = uuid.uuid4().hex

    listed = api.get("/portal/sessions", clinic.token_for("Alex"))
    assert listed.status_code == 200
    assert visit_id in [v["id"] for v in listed.data["sessions"]]
    assert api.get("/clinic/sessions", clinic.staff_token).status_code == 200
    assert deliver(changed(clinic, visit_id, lambda: cancel(api, clinic, visit_id, reason=marker))) == {
        "batchItemFailures": []
    }
    assert len(emails_for(inbox, clinic.admin_email, marker)) == 1

    repair = VISIT_REPAIRS.get(field, {"session_class": "Individual therapy"} if field == "session_class" else {})
    edited = api.patch(f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"provider": "Dr. Lee", **repair})
    assert edited.status_code == 200, edited.data
    for name, value in repair.items():
        assert edited.data[name] == value


@pytest.mark.parametrize("stored", [JUNK, "2026-13-45T99:00:00Z", ""], ids=["junk", "impossible date", "empty"])
def test_a_visit_whose_start_cannot_be_read_is_left_out_and_staff_give_it_a_new_one(stored, api, clinic, raw_write):
    kept_id = clinic.add_visit("Alex")
    broken_id = clinic.add_visit("Alex")
    raw_write(
        Visit.Meta.table_name,
        {"patient_id": clinic.patients["Alex"], "visit_id": broken_id},
        "starts_at",
        {"S": stored},
    )

    listed = api.get("/portal/sessions", clinic.token_for("Alex"))
    staff_list = api.get("/clinic/sessions", clinic.staff_token)
    only_time = api.patch(f"/clinic/sessions/{broken_id}", clinic.staff_token, json_body={"start_time": "10:00"})
    day = listed.data["sessions"][0]["date"]
    repaired = api.patch(
        f"/clinic/sessions/{broken_id}", clinic.staff_token, json_body={"date": day, "start_time": "10:00"}
    )

    assert [v["id"] for v in listed.data["sessions"]] == [kept_id]
    assert [v["id"] for v in staff_list.data["sessions"]] == [kept_id]
    assert only_time.status_code == 409
    assert repaired.status_code == 200, repaired.data
    assert (repaired.data["date"], repaired.data["start_time"]) == (day, "10:00")
    relisted = api.get("/portal/sessions", clinic.token_for("Alex")).data["sessions"]
    assert {v["id"] for v in relisted} == {kept_id, broken_id}


def test_an_unreadable_field_is_logged_once_as_a_warning_naming_table_key_and_field_never_the_value(
    api, clinic, raw_write, caplog
):
    raw_write(Clinic.Meta.table_name, {"clinic_id": clinic.clinic_id}, "cancel_cutoff_hours", {"S": JUNK})

    for _ in range(3):
        assert api.get("/portal/sessions", clinic.token_for("Alex")).status_code == 200

    warnings = [r for r in caplog.records if r.levelname == "WARNING" and getattr(r, "field", None)]
    assert [(r.table, r.key, r.field) for r in warnings] == [
        (Clinic.Meta.table_name, f"clinic_id={clinic.clinic_id}", "cancel_cutoff_hours")
    ]
    assert JUNK not in caplog.text


def test_a_version_typed_wrong_does_not_stop_staff_from_scheduling_or_saving(api, clinic, raw_write):
    raw_write(Clinic.Meta.table_name, {"clinic_id": clinic.clinic_id}, "version", {"S": "3"})

    scheduled = api.post("/clinic/sessions", clinic.staff_token, json_body=bodies.new_visit(clinic.patients["Alex"]))
    saved = api.patch("/clinic/settings", clinic.staff_token, json_body={"phone": "(555) 010-4321"})
    again = api.patch("/clinic/settings", clinic.staff_token, json_body={"phone": "(555) 010-4322"})

    assert scheduled.status_code == 201, scheduled.data
    assert saved.status_code == 200 and again.status_code == 200
    assert raw_write.read(Clinic.Meta.table_name, {"clinic_id": clinic.clinic_id})["version"] == {"N": "2"}


@pytest.mark.parametrize("field, stored", cases(["email", "created_at"]) + cases(["name"], TEXT_ONLY))
def test_a_patient_field_typed_wrong_keeps_the_portal_and_the_patient_list_up(field, stored, api, clinic_of, raw_write):
    clinic = clinic_of(f"patient.{field}")
    raw_write(Patient.Meta.table_name, {"patient_id": clinic.patients["Alex"]}, field, stored)

    me = api.get("/portal/me", clinic.token_for("Alex"))
    listed = api.get("/clinic/patients", clinic.staff_token)

    assert me.status_code == 200 and me.data["patient"]["id"] == clinic.patients["Alex"]
    assert listed.status_code == 200
    assert [p["id"] for p in listed.data["patients"]] == [clinic.patients["Alex"]]
