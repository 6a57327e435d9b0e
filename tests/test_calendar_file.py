"""A visit as a calendar file (`GET /portal/sessions/{id}/calendar.ics`): one event that stays the
same event as the visit changes (UID), that calendars update (SEQUENCE), at the right instant,
saying no more than it must. Every file is parsed by two parsers (tests/calendars.py)."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from chalicelib import config
from chalicelib.models import Clinic, Visit
from tests import bodies
from tests.calendars import parse

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "tests.example"  # of the tests' sender address, portal-noreply@tests.example


def calendar_file(api, world, visit_id, name="Alex", **kw):
    return api.get(f"/portal/sessions/{visit_id}/calendar.ics", world.token_for(name), **kw)


def event_of(api, world, visit_id, name="Alex"):
    response = calendar_file(api, world, visit_id, name)
    assert response.status_code == 200, response.text
    return parse(response.text).event(f"{visit_id}@{DOMAIN}")


def raw_update(world, visit_id, expression, values=None, names=None):
    """A change typed in the AWS console: no stamp, no revision."""
    extra = {"ExpressionAttributeValues": values} if values else {}
    if names:
        extra["ExpressionAttributeNames"] = names
    boto3.client("dynamodb", endpoint_url=config.current().endpoint).update_item(
        TableName=Visit.Meta.table_name,
        Key={"patient_id": {"S": world.patients["Alex"]}, "visit_id": {"S": visit_id}},
        UpdateExpression=expression,
        **extra,
    )


def schedule(api, world, **fields) -> str:
    """A visit scheduled by staff through the API, as the clinic does."""
    response = api.post(
        "/clinic/sessions", world.staff_token, json_body=bodies.new_visit(world.patients["Alex"], **fields)
    )
    assert response.status_code == 201, response.data
    return response.data["id"]


# --- What a file is -------------------------------------------------------------------------


def test_a_visit_file_is_one_event_in_a_calendar_of_its_own_with_a_dated_file_name(api, clinic):
    visit_id = schedule(
        api, clinic, date="2030-01-07", start_time="09:30", location="Room 2", provider="Dr. Maya Patel"
    )

    response = calendar_file(api, clinic, visit_id)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="appointment-2030-01-07.ics"'
    assert response.headers["Cache-Control"] == "no-store"
    calendar = parse(response.text)
    assert (str(calendar.calendar["VERSION"]), str(calendar.calendar["METHOD"])) == ("2.0", "PUBLISH")
    assert str(calendar.calendar["PRODID"]).startswith("-//")
    (event,) = calendar.events
    assert event.uid == f"{visit_id}@{DOMAIN}"
    assert event.start == datetime(2030, 1, 7, 14, 30, tzinfo=UTC)  # 09:30 in New York, in January
    assert event.end == event.start + timedelta(minutes=50)
    assert event.summary == "Appointment – Test Family Therapy"
    assert event.location == "Room 2"
    assert event.description == "Provider: Dr. Maya Patel"
    assert event.status == "CONFIRMED"
    assert event.sequence == 1


def test_a_spanish_patients_visit_file_is_in_spanish(api, clinic):
    visit_id = schedule(api, clinic, date="2030-01-07", start_time="09:30", provider="Dr. Maya Patel")
    api.patch("/portal/preferences", clinic.token_for("Alex"), json_body={"language": "es"})

    response = calendar_file(api, clinic, visit_id)

    assert response.headers["Content-Disposition"] == 'attachment; filename="cita-2030-01-07.ics"'
    (event,) = parse(response.text).events
    assert (event.summary, event.description) == ("Cita – Test Family Therapy", "Profesional: Dr. Maya Patel")


def test_the_event_says_nothing_else_about_the_visit_or_the_patient(api, clinic):
    visit_id = clinic.add_visit("Alex", session_class="Family therapy", response="CLIENT_CANCELLED", reason="Flu")

    response = calendar_file(api, clinic, visit_id)

    event = parse(response.text).event(f"{visit_id}@{DOMAIN}")
    assert event.properties == {
        "UID", "SEQUENCE", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "LOCATION", "DESCRIPTION", "STATUS",
    }  # fmt: skip
    assert event.status == "CONFIRMED"  # a cancel request is only a request: the visit stays on
    for private in ("Alex", "Family therapy", "Flu", "CLIENT_CANCELLED", clinic.patients["Alex"]):
        assert private not in response.text


def test_a_visit_the_clinic_cancelled_is_a_cancelled_event(api, clinic):
    visit_id = clinic.add_visit("Alex", session_class="Cancelled by clinic")
    assert event_of(api, clinic, visit_id).status == "CANCELLED"


def test_the_provider_is_left_out_when_the_clinic_hides_it(api, clinic):
    visit_id = clinic.add_visit("Alex")
    clinic.settings(reminders={"show_provider": False})

    event = event_of(api, clinic, visit_id)

    assert event.description is None
    assert "Maya Patel" not in calendar_file(api, clinic, visit_id).text


def test_reminder_settings_typed_as_text_in_the_console_still_show_the_provider(api, clinic):
    visit_id = clinic.add_visit("Alex")
    boto3.client("dynamodb", endpoint_url=config.current().endpoint).update_item(
        TableName=Clinic.Meta.table_name,
        Key={"clinic_id": {"S": clinic.clinic_id}},
        UpdateExpression="SET reminders = :text",
        ExpressionAttributeValues={":text": {"S": "show_provider=false"}},
    )
    assert event_of(api, clinic, visit_id).description == "Provider: Dr. Maya Patel"


# --- One event as the visit changes ---------------------------------------------------------


def test_the_uid_stays_and_the_sequence_grows_with_every_change(api, clinic):
    visit_id = schedule(api, clinic)
    token = clinic.token_for("Alex")
    path = f"/portal/sessions/{visit_id}/response"
    staff = f"/clinic/sessions/{visit_id}"

    def by_staff(**fields):
        return lambda: api.patch(staff, clinic.staff_token, json_body=fields)

    changes = [
        ("patient confirms", lambda: api.put(path, token, json_body={"response": "confirmed"})),
        ("patient changes the answer", lambda: api.delete(path, token)),
        ("patient cancels", lambda: api.put(path, token, json_body={"response": "cancelled"})),
        ("staff move it", by_staff(start_time="11:00")),
        ("staff change the room", by_staff(location="Room 7")),
        ("staff cancel it", by_staff(session_class="Cancelled by clinic")),
    ]
    events = [event_of(api, clinic, visit_id)]

    for what, change in changes:
        assert change().status_code == 200, what
        events.append(event_of(api, clinic, visit_id))

    assert {event.uid for event in events} == {f"{visit_id}@{DOMAIN}"}
    sequences = [event.sequence for event in events]
    assert sequences == sorted(set(sequences)), f"SEQUENCE must grow with every change: {sequences}"
    assert [event.stamp for event in events] == sorted(event.stamp for event in events)
    assert events[-1].status == "CANCELLED"
    assert events[-1].location == "Room 7"


def test_a_moved_visit_is_the_same_event_at_its_new_time(api, clinic):
    visit_id = schedule(api, clinic, date="2030-01-07", start_time="09:30")
    before = event_of(api, clinic, visit_id)

    moved = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": "2030-01-09", "start_time": "15:00"}
    )

    assert moved.status_code == 200
    after = event_of(api, clinic, visit_id)
    assert after.uid == before.uid
    assert after.sequence > before.sequence
    assert (after.start, after.end) == (
        datetime(2030, 1, 9, 20, 0, tzinfo=UTC),
        datetime(2030, 1, 9, 20, 50, tzinfo=UTC),
    )


def test_the_same_answer_again_changes_nothing_so_not_the_sequence(api, clinic):
    visit_id = clinic.add_visit("Alex")
    api.put(f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "confirmed"})
    first = calendar_file(api, clinic, visit_id).text

    again = api.put(
        f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "confirmed"}
    )

    assert again.status_code == 200
    assert calendar_file(api, clinic, visit_id).text == first


def test_a_visit_from_before_revisions_were_counted_starts_at_0_and_grows(api, clinic):
    visit_id = clinic.add_visit("Alex")
    raw_update(clinic, visit_id, "REMOVE revision")
    assert event_of(api, clinic, visit_id).sequence == 0

    api.put(f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "confirmed"})

    assert event_of(api, clinic, visit_id).sequence == 1


@pytest.mark.parametrize(
    "typed, read, after",
    [({"S": "7"}, 7, 8), ({"S": "seven"}, 0, 1), ({"BOOL": True}, 0, 1)],
    ids=["digits as text", "words", "a boolean"],
)
def test_a_revision_typed_by_hand_in_the_console_does_not_block_an_answer(api, clinic, typed, read, after):
    visit_id = clinic.add_visit("Alex")
    raw_update(clinic, visit_id, "SET revision = :typed", {":typed": typed})
    assert event_of(api, clinic, visit_id).sequence == read

    response = api.put(
        f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "confirmed"}
    )

    assert response.status_code == 200
    stored = clinic.stored_visit("Alex", visit_id)
    assert (stored.patient_response, stored.revision, type(stored.revision)) == ("CLIENT_CONFIRMED", after, int)
    assert event_of(api, clinic, visit_id).sequence == after


def test_a_console_edit_shows_in_the_event_but_keeps_its_sequence(api, clinic):
    visit_id = clinic.add_visit("Alex", location="Room 2")
    before = event_of(api, clinic, visit_id)

    raw_update(clinic, visit_id, "SET #where = :room", {":room": {"S": "Room 9"}}, {"#where": "location"})

    after = event_of(api, clinic, visit_id)
    assert after.location == "Room 9"
    assert after.sequence == before.sequence  # documented: edit through the portal, or raise `revision` by hand


# --- Times and text as calendars need them --------------------------------------------------


@pytest.mark.parametrize(
    "day, clock, utc",
    [
        ("2026-03-07", "09:00", datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),  # the day before: EST, UTC−5
        ("2026-03-08", "09:00", datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),  # clocks went forward at 02:00: EDT, UTC−4
        ("2026-11-01", "01:30", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # the repeated hour: its first time, EDT
        ("2026-11-01", "09:00", datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),  # clocks went back at 02:00: EST, UTC−5
    ],
)
def test_a_visit_on_a_daylight_saving_day_is_at_the_right_instant(api, clinic, day, clock, utc):
    visit_id = schedule(api, clinic, date=day, start_time=clock, duration_minutes=90)

    event = event_of(api, clinic, visit_id)

    assert event.start == utc
    assert event.end == utc + timedelta(minutes=90)  # 90 real minutes, also across the change at 02:00


def test_a_long_location_full_of_special_characters_is_escaped_and_folded(api, clinic):
    location = "Suite 4; Building B, 2nd floor \\ back door — Straße 12, Ünïcødé 診療所 " * 4
    location = location[:200].strip()
    plain = schedule(api, clinic, location=location)
    # A line break can only come from the console (the API takes one-line text): escaped as \n.
    with_line_break = location[:60] + "\nRing twice"
    visit_id = schedule(api, clinic, date="2030-01-08")
    raw_update(clinic, visit_id, "SET #where = :text", {":text": {"S": with_line_break}}, {"#where": "location"})

    for visit, expected in ((plain, location), (visit_id, with_line_break)):
        response = calendar_file(api, clinic, visit)
        calendar = parse(response.text)  # CRLF everywhere, ≤ 75 octets a line, both parsers agree
        assert calendar.events[0].location == expected
        unfolded = calendar.raw.replace(b"\r\n ", b"").decode("utf-8")
        assert "\\;" in unfolded and "\\," in unfolded and "\\\\" in unfolded
        assert len(calendar.raw.split(b"\r\n")) > 12  # the location took several folded lines
    assert "\\nRing twice" in calendar.raw.replace(b"\r\n ", b"").decode("utf-8")


def test_a_control_character_typed_in_the_console_never_reaches_the_file(api, clinic):
    visit_id = clinic.add_visit("Alex")
    raw_update(clinic, visit_id, "SET provider = :text", {":text": {"S": "Dr.\x00 Maya\x1b Patel"}})

    event = event_of(api, clinic, visit_id)

    assert event.description == "Provider: Dr. Maya Patel"


# --- Whose file -----------------------------------------------------------------------------


@pytest.fixture
def two_clinics(make_clinic):
    first = make_clinic(patients=("Alex", "Sam"))
    second = make_clinic(patients=("Bea",))
    return first, second, {"sam": first.add_visit("Sam"), "bea": second.add_visit("Bea")}


@pytest.mark.parametrize("target", ["sam", "bea"])
def test_another_patients_visit_file_reads_like_a_missing_one(api, two_clinics, target):
    first, _, visits = two_clinics
    first.add_visit("Alex")

    theirs = calendar_file(api, first, visits[target])
    missing = calendar_file(api, first, "vis_0000000000")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.data == missing.data == {"Code": "NotFoundError", "Message": "Unknown visit."}


@pytest.mark.parametrize(
    "authorization, status",
    [(None, 401), ("Bearer ", 401), ("Bearer not-a-jwt", 401), ("staff", 403)],
    ids=["no token", "empty", "garbage", "staff token"],
)
def test_the_file_needs_the_patients_own_token(api, clinic, authorization, status):
    visit_id = clinic.add_visit("Alex")
    headers = {"Authorization": f"Bearer {clinic.staff_token}" if authorization == "staff" else authorization}
    if authorization is None:
        headers = {}

    response = api.get(f"/portal/sessions/{visit_id}/calendar.ics", headers=headers)

    assert response.status_code == status
    assert set(response.data) == {"Code", "Message"}


def test_a_cold_start_does_not_pay_for_the_calendar_library():
    code = "import sys, app; print('icalendar' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
