"""Visit history: every change, recorded from the visits table's real stream records, read back by
staff (everything) and by the patient (what they may see)."""

from datetime import date, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import config, history
from chalicelib.models import HistoryEvent
from tests.console import set_attributes

DAY = timedelta(days=1)


@pytest.fixture
def record_history(stream_records_of, deliver):
    """Delivers every stream record of the visit so far to the stream function, as Lambda does."""

    def run(visit_id, times=1):
        records = stream_records_of(visit_id)
        for _ in range(times):
            assert deliver(*records) == {"batchItemFailures": []}
        return records

    return run


def staff_history(api, world, visit_id):
    response = api.get(f"/clinic/sessions/{visit_id}/history", world.staff_token)
    assert response.status_code == 200, response.data
    return response.data["events"]


def patient_history(api, world, visit_id, name="Alex"):
    response = api.get(f"/portal/sessions/{visit_id}/history", world.token_for(name))
    assert response.status_code == 200, response.data
    return response.data["events"]


def answer(api, world, visit_id, response, **extra):
    reply = api.put(
        f"/portal/sessions/{visit_id}/response", world.token_for("Alex"), json_body={"response": response, **extra}
    )
    assert reply.status_code == 200, reply.data


def change(api, world, visit_id):
    assert api.delete(f"/portal/sessions/{visit_id}/response", world.token_for("Alex")).status_code == 200


def staff_patch(api, world, visit_id, **fields):
    reply = api.patch(f"/clinic/sessions/{visit_id}", world.staff_token, json_body=fields)
    assert reply.status_code == 200, reply.data
    return reply.data


# --- What is recorded ---------------------------------------------------------------------


def test_the_patients_answers_are_recorded_once_each_in_order_even_when_the_stream_delivers_twice(
    api, clinic, record_history
):
    visit_id = clinic.add_visit("Alex")
    answer(api, clinic, visit_id, "confirmed")
    change(api, clinic, visit_id)
    answer(api, clinic, visit_id, "cancelled", reason="Down with the flu.")
    change(api, clinic, visit_id)

    record_history(visit_id, times=2)

    events = staff_history(api, clinic, visit_id)
    assert [(e["what"], e["by"]) for e in events] == [
        ("created", "system"),
        ("confirmed", "patient"),
        ("answer_removed", "patient"),
        ("cancel_requested", "patient"),
        ("answer_removed", "patient"),
    ]
    assert events[3]["reason"] == "Down with the flu."
    assert events[3]["changes"] == {
        "cancel_reason": [None, "Down with the flu."],
        "patient_response": [None, "CLIENT_CANCELLED"],
    }
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert len(list(HistoryEvent.query(visit_id))) == 5  # nothing stored twice


def test_staff_changes_are_recorded_with_the_staff_login_and_the_fields_they_changed(api, clinic, record_history):
    visit_id = clinic.add_visit("Alex", response="CLIENT_CONFIRMED")
    new_day = (date.today() + 20 * DAY).isoformat()
    staff_patch(api, clinic, visit_id, location="Room 5", duration_minutes=80)
    staff_patch(api, clinic, visit_id, date=new_day, start_time="16:30")
    staff_patch(api, clinic, visit_id, session_class="Family therapy")
    staff_patch(api, clinic, visit_id, session_class="Cancelled by clinic")

    record_history(visit_id)

    events = staff_history(api, clinic, visit_id)
    staff = f"staff:{clinic.staff_email}"
    assert [(e["what"], e["by"]) for e in events] == [
        ("created", "system"),
        ("details_changed", staff),
        ("moved", staff),
        ("details_changed", staff),
        ("cancelled", staff),
    ]
    assert events[1]["changes"] == {"duration_minutes": [50, 80], "location": ["Room 2", "Room 5"]}
    moved = events[2]["changes"]
    assert moved["date"][1] == new_day and moved["start_time"][1] == "16:30"
    assert moved["patient_response"] == ["CLIENT_CONFIRMED", None]  # a move clears the answer
    assert events[4]["changes"] == {"session_class": ["Family therapy", "Cancelled by clinic"]}


def test_completing_a_visit_is_recorded(api, clinic, record_history):
    visit_id = clinic.add_visit("Alex", starts_in=-2 * DAY)
    staff_patch(api, clinic, visit_id, completed=True)

    record_history(visit_id)

    assert [e["what"] for e in staff_history(api, clinic, visit_id)] == ["created", "completed"]


def test_a_visit_staff_create_through_the_api_is_created_by_them(api, clinic, record_history):
    body = {
        "patient_id": clinic.patients["Alex"],
        "date": (date.today() + 9 * DAY).isoformat(),
        "start_time": "11:00",
        "duration_minutes": 50,
        "provider": "Dr. Maya Patel",
        "location": "Room 2",
        "session_class": "Individual therapy",
    }
    visit_id = api.post("/clinic/sessions", clinic.staff_token, json_body=body).data["id"]

    record_history(visit_id)

    assert [(e["what"], e["by"]) for e in staff_history(api, clinic, visit_id)] == [
        ("created", f"staff:{clinic.staff_email}")
    ]


def test_an_edit_by_hand_in_the_console_is_recorded_as_the_console(api, clinic, record_history):
    visit_id = clinic.add_visit("Alex")
    answer(api, clinic, visit_id, "confirmed")
    set_attributes(clinic, visit_id, location={"S": "Annex, 2nd floor"})

    record_history(visit_id)

    events = staff_history(api, clinic, visit_id)
    assert [(e["what"], e["by"]) for e in events] == [
        ("created", "system"),
        ("confirmed", "patient"),
        ("details_changed", "console"),
    ]
    assert events[2]["changes"] == {"location": ["Room 2", "Annex, 2nd floor"]}


def test_a_visit_added_and_deleted_by_hand_in_the_console_is_recorded_and_then_gone_from_the_api(
    api, clinic, stream_records_of, deliver
):
    visit_id = "vis_console_made"
    dynamodb = boto3.client("dynamodb", endpoint_url=config.current().endpoint)
    key = {"patient_id": {"S": clinic.patients["Alex"]}, "visit_id": {"S": visit_id}}
    starts = (date.today() + 4 * DAY).isoformat() + "T15:00:00Z"
    item = {**key, "clinic_id": {"S": clinic.clinic_id}, "starts_at": {"S": starts}, "location": {"S": "Room 1"}}
    dynamodb.put_item(TableName=config.current().table("visits"), Item=item)
    deliver(*stream_records_of(visit_id))
    assert [(e["what"], e["by"]) for e in staff_history(api, clinic, visit_id)] == [("created", "console")]

    dynamodb.delete_item(TableName=config.current().table("visits"), Key=key)
    deliver(*stream_records_of(visit_id))

    kept = [event.what for event in HistoryEvent.query(visit_id)]
    assert kept == ["created", "deleted"]  # the record stays in the table, for years
    assert api.get(f"/clinic/sessions/{visit_id}/history", clinic.staff_token).status_code == 404


def test_staff_still_read_the_history_of_a_visit_whose_start_was_mangled_by_hand(api, clinic, record_history):
    visit_id = clinic.add_visit("Alex")
    set_attributes(clinic, visit_id, starts_at={"S": "next tuesday"})

    record_history(visit_id)

    events = staff_history(api, clinic, visit_id)
    assert events[-1]["what"] == "moved" and events[-1]["by"] == "console"
    assert events[-1]["changes"]["date"][1] is None  # the new start cannot be read as a date


# --- What the patient sees ----------------------------------------------------------------


def test_the_patient_sees_you_or_the_clinic_a_moves_old_and_new_time_and_their_own_reason_only(
    api, make_clinic, record_history
):
    world = make_clinic(timezone_name="America/Chicago")
    visit_id = world.add_visit("Alex", starts_in=10 * DAY)
    answer(api, world, visit_id, "cancelled", reason="Car trouble.")
    staff_patch(api, world, visit_id, location="Room 9", provider="Jordan Lee, LMFT")
    moved = staff_patch(api, world, visit_id, date=(date.today() + 12 * DAY).isoformat(), start_time="08:15")
    set_attributes(world, visit_id, cancel_reason={"S": "Staff note: called twice, no answer."})

    record_history(visit_id)

    events = patient_history(api, world, visit_id)
    assert [(e["what"], e["by"]) for e in events] == [
        ("created", "clinic"),
        ("cancel_requested", "you"),
        ("details_changed", "clinic"),
        ("moved", "clinic"),
        ("details_changed", "clinic"),
    ]
    assert events[1]["reason"] == "Car trouble."
    assert [e["changes"] for e in events if e["what"] != "moved"] == [{}, {}, {}, {}]
    assert events[3]["changes"]["date"][1] == moved["date"]
    assert events[3]["changes"]["start_time"][1] == "08:15"
    assert set(events[3]["changes"]) == {"date", "start_time"}  # not the answer the move cleared
    shown = repr(events)
    for staff_only in ("Room 9", "Jordan Lee", "Staff note", world.staff_email, "console", "patient_response"):
        assert staff_only not in shown


def test_a_move_is_shown_in_the_clinics_time_zone(api, make_clinic, record_history):
    world = make_clinic(timezone_name="Asia/Tokyo")
    visit_id = world.add_visit("Alex", starts_in=10 * DAY)
    moved = staff_patch(api, world, visit_id, date=(date.today() + 15 * DAY).isoformat(), start_time="09:00")

    record_history(visit_id)

    (move,) = [e for e in patient_history(api, world, visit_id) if e["what"] == "moved"]
    assert move["changes"]["start_time"][1] == "09:00"
    assert move["changes"]["date"][1] == moved["date"]


# --- Who may read it -----------------------------------------------------------------------


@pytest.fixture
def two_clinics(make_clinic):
    return make_clinic(patients=("Alex", "Sam")), make_clinic(patients=("Bea",))


def test_another_patients_or_another_clinics_visit_history_reads_like_a_missing_one(api, two_clinics):
    first, second = two_clinics
    alexs = first.add_visit("Alex")
    missing = api.get("/portal/sessions/vis_nothing_here/history", first.token_for("Sam"))

    theirs = api.get(f"/portal/sessions/{alexs}/history", first.token_for("Sam"))
    other_clinic = api.get(f"/clinic/sessions/{alexs}/history", second.staff_token)

    assert theirs.status_code == other_clinic.status_code == missing.status_code == 404
    assert theirs.data == missing.data
    assert other_clinic.data == api.get("/clinic/sessions/vis_nothing_here/history", second.staff_token).data


@pytest.mark.parametrize("path", ["/portal/sessions/{id}/history", "/clinic/sessions/{id}/history"])
@pytest.mark.parametrize("token", [None, "", "garbage.token.here"])
def test_history_needs_a_valid_token(api, clinic, path, token):
    visit_id = clinic.add_visit("Alex")
    response = api.get(path.format(id=visit_id), token)
    assert response.status_code == 401
    assert response.data["Code"] == "UnauthorizedError"


def test_each_role_reads_only_its_own_history_route(api, clinic):
    visit_id = clinic.add_visit("Alex")
    assert api.get(f"/clinic/sessions/{visit_id}/history", clinic.token_for("Alex")).status_code == 403
    assert api.get(f"/portal/sessions/{visit_id}/history", clinic.staff_token).status_code == 403


# --- One stream, one reader: a failing consumer fails only its own record -----------------


@pytest.fixture
def history_writes_fail():
    """Makes every PutItem to the history table fail (as a throttled table would) while set."""
    events = HistoryEvent._get_connection().connection.client.meta.events
    state = {"failing": True}

    def refuse(params, **_):
        if state["failing"] and params.get("TableName") == config.current().table("history"):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Put")

    events.register("before-parameter-build.dynamodb.PutItem", refuse, unique_id="test-history-refuses")
    yield state
    events.unregister("before-parameter-build.dynamodb.PutItem", unique_id="test-history-refuses")


def test_a_failing_history_write_fails_only_its_record_and_the_email_still_goes_out_once(
    api, clinic, stream_records_of, deliver, inbox, history_writes_fail
):
    visit_id = clinic.add_visit("Alex")
    answer(api, clinic, visit_id, "cancelled")
    created, cancelled = stream_records_of(visit_id)

    first_try = deliver(created, cancelled)

    assert first_try == {"batchItemFailures": [{"itemIdentifier": created["dynamodb"]["SequenceNumber"]},
                                              {"itemIdentifier": cancelled["dynamodb"]["SequenceNumber"]}]}  # fmt: skip
    assert len(inbox(clinic.admin_email)) == 1  # the email did not wait for the history

    history_writes_fail["failing"] = False
    assert deliver(created, cancelled) == {"batchItemFailures": []}  # Lambda's retry

    assert len(inbox(clinic.admin_email)) == 1
    assert [e["what"] for e in staff_history(api, clinic, visit_id)] == ["created", "cancel_requested"]


# --- What a record means (pure) ------------------------------------------------------------


def image(**values):
    return {name: {"BOOL": value} if isinstance(value, bool) else {"S": value} for name, value in values.items()}


@pytest.mark.parametrize(
    "old, new, what",
    [
        (image(session_class="A"), image(session_class="Cancelled by client"), history.CANCELLED),
        (image(session_class="Cancelled by client"), image(session_class="A"), history.DETAILS_CHANGED),
        (image(completed=False), image(completed=True), history.COMPLETED),
        (image(completed=True), image(completed=False), history.DETAILS_CHANGED),
        (image(completed=False), image(completed="true"), history.COMPLETED),  # typed as text in the console
        (image(starts_at="a", patient_response="CLIENT_CONFIRMED"), image(starts_at="b"), history.MOVED),
        (image(), image(patient_response="CLIENT_CONFIRMED"), history.CONFIRMED),
        (
            image(patient_response="CLIENT_CONFIRMED"),
            image(patient_response="CLIENT_CANCELLED"),
            history.CANCEL_REQUESTED,
        ),
        (image(patient_response="CLIENT_CANCELLED"), image(), history.ANSWER_REMOVED),
        (image(patient_response="CLIENT_CANCELLED"), image(patient_response="maybe"), history.ANSWER_REMOVED),
        (image(provider="X"), image(provider="Y"), history.DETAILS_CHANGED),
        (image(changed_by="patient", change_id="1"), image(changed_by="patient", change_id="2"), None),
    ],
)
def test_one_word_for_each_change_the_most_telling_first(old, new, what):
    changes = history.changed_fields(old, new)
    assert history.what_happened("MODIFY", changes, frozenset({"Cancelled by client"})) == what
