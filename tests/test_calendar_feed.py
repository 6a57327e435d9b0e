"""The private calendar feed: `POST`/`DELETE /portal/calendar-feed` and `GET`/`HEAD
/cal/{secret}.ics`. A long random address, stored only as a hash, that shows the patient's
visits as they change, costs polling apps little, and stops working when replaced or stopped."""

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from chalice.app import Request

import app as portal
from chalicelib import aws, calendar_feeds, config, runtime, times
from chalicelib.auth import Identity, Role
from chalicelib.models import CalendarFeed, Clinic, Patient, Visit
from tests.calendars import parse

DOMAIN = "tests.example"
HOST = "portal.tests.example"
FEED_URL = re.compile(rf"^https://{re.escape(HOST)}/cal/(?P<secret>[A-Za-z0-9_-]{{43}})\.ics$")
DAY = timedelta(days=1)


def new_feed(api, world, name="Alex"):
    response = api.post("/portal/calendar-feed", world.token_for(name), headers={"Host": HOST})
    assert response.status_code == 201, response.data
    return response


def feed_path(response) -> str:
    match = FEED_URL.match(response.data["url"])
    assert match, response.data["url"]
    return f"/cal/{match['secret']}.ics"


def secret_of(response) -> str:
    return FEED_URL.match(response.data["url"])["secret"]


def fetch(api, path, method="GET", **headers):
    return api.call(method, path, headers=headers)


def feed_of(api, path):
    response = fetch(api, path)
    assert response.status_code == 200, response.text
    return parse(response.text)


def visit_at(world, local_day, clock="12:00", patient="Alex", **fields) -> str:
    """A visit at a wall-clock time of the clinic's zone, as the clinic's own record."""
    visit_id = world.add_visit(patient, **fields)
    tz = ZoneInfo(world_timezone(world))
    starts_at = times.local_to_utc(local_day, time.fromisoformat(clock), tz)
    world.stored_visit(patient, visit_id).update(actions=[Visit.starts_at.set(times.format_instant(starts_at))])
    return visit_id


def world_timezone(world) -> str:
    return Clinic.get(world.clinic_id).timezone


def clinic_today(world):
    return datetime.now(ZoneInfo(world_timezone(world))).date()


def uid(visit_id):
    return f"{visit_id}@{DOMAIN}"


def feeds_of(world, name="Alex") -> list[CalendarFeed]:
    return list(CalendarFeed.scan(CalendarFeed.patient_id == world.patients[name]))


# --- A new address --------------------------------------------------------------------------


def test_a_new_feed_address_holds_a_long_random_secret_that_is_stored_only_as_a_hash(api, clinic):
    response = new_feed(api, clinic)

    assert set(response.data) == {"url"}
    assert response.headers["Cache-Control"] == "no-store"
    secret = secret_of(response)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    (feed,) = feeds_of(clinic)
    assert (feed.feed_hash, feed.patient_id, feed.clinic_id) == (digest, clinic.patients["Alex"], clinic.clinic_id)
    patient = Patient.get(clinic.patients["Alex"], consistent_read=True)
    assert patient.calendar_feed_hash == digest
    for item in (feed, patient):
        assert secret not in str(item.attribute_values)


def test_a_spanish_patients_feed_is_named_and_worded_in_spanish(api, clinic):
    visit_id = visit_at(clinic, clinic_today(clinic) + 3 * DAY, provider="Dr. Maya Patel")
    api.patch("/portal/preferences", clinic.token_for("Alex"), json_body={"language": "es"})

    calendar = feed_of(api, feed_path(new_feed(api, clinic)))

    assert str(calendar.calendar["NAME"]) == str(calendar.calendar["X-WR-CALNAME"]) == "Citas en Test Family Therapy"
    event = calendar.event(uid(visit_id))
    assert (event.summary, event.description) == ("Cita – Test Family Therapy", "Profesional: Dr. Maya Patel")


def test_every_new_address_is_different(api, clinic):
    assert len({secret_of(new_feed(api, clinic)) for _ in range(5)}) == 5


def test_the_feed_shows_the_patients_visits_from_30_days_back_to_180_ahead_at_the_clinic(api, make_clinic):
    world = make_clinic(patients=("Alex", "Sam"), timezone_name="America/Los_Angeles")
    today = clinic_today(world)
    inside = [
        visit_at(world, today - 30 * DAY, "00:00"),
        visit_at(world, today, "09:00"),
        visit_at(world, today + 180 * DAY, "23:59"),
    ]
    visit_at(world, today - 31 * DAY, "23:59")
    visit_at(world, today + 181 * DAY, "00:00")
    visit_at(world, today + DAY, patient="Sam")
    path = feed_path(new_feed(api, world))

    calendar = feed_of(api, path)

    assert calendar.uids() == {uid(v) for v in inside}
    assert str(calendar.calendar["X-WR-CALNAME"]) == "Test Family Therapy appointments"
    assert str(calendar.calendar["X-WR-TIMEZONE"]) == "America/Los_Angeles"
    assert [str(c["TZID"]) for c in calendar.calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    assert calendar.events[0].start.utcoffset() == timedelta(0)  # events in UTC, the zone only as the calendar's


def test_the_feed_answers_with_its_validators_and_a_private_cache_lifetime(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))

    response = fetch(api, path)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["ETag"])
    assert parsedate_to_datetime(response.headers["Last-Modified"]) <= datetime.now(UTC)
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_an_empty_feed_is_still_a_valid_calendar(api, clinic):
    calendar = feed_of(api, feed_path(new_feed(api, clinic)))
    assert calendar.events == []
    assert calendar.calendar.walk("VTIMEZONE")  # RFC 5545 wants at least one component


def test_the_same_visits_give_the_same_bytes(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    first, second = fetch(api, path), fetch(api, path)
    assert (first.text, first.headers["ETag"]) == (second.text, second.headers["ETag"])


# --- The feed follows the visits ------------------------------------------------------------


def test_a_moved_visit_shows_at_its_new_time_as_the_same_event(api, clinic):
    visit_id = visit_at(clinic, clinic_today(clinic) + 10 * DAY, "10:00")
    path = feed_path(new_feed(api, clinic))
    before = fetch(api, path)
    new_day = (clinic_today(clinic) + 12 * DAY).isoformat()

    moved = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"date": new_day, "start_time": "15:30"}
    )

    assert moved.status_code == 200
    after = fetch(api, path)
    assert after.headers["ETag"] != before.headers["ETag"]
    old, new = parse(before.text).event(uid(visit_id)), parse(after.text).event(uid(visit_id))
    tz = ZoneInfo("America/New_York")
    assert new.start == datetime.combine(datetime.fromisoformat(new_day), time(15, 30), tz).astimezone(UTC)
    assert new.sequence > old.sequence


def test_a_visit_the_clinic_cancelled_stays_in_the_feed_as_cancelled(api, clinic):
    visit_id = clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    before = feed_of(api, path).event(uid(visit_id))

    cancelled = api.patch(
        f"/clinic/sessions/{visit_id}", clinic.staff_token, json_body={"session_class": "Cancelled by clinic"}
    )

    assert cancelled.status_code == 200
    after = feed_of(api, path).event(uid(visit_id))
    assert (before.status, after.status) == ("CONFIRMED", "CANCELLED")
    assert after.sequence > before.sequence


def test_the_patients_answers_raise_the_sequence_in_the_feed(api, clinic):
    visit_id = clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    sequences = [feed_of(api, path).event(uid(visit_id)).sequence]
    answer = f"/portal/sessions/{visit_id}/response"
    token = clinic.token_for("Alex")

    for step in (
        lambda: api.put(answer, token, json_body={"response": "confirmed"}),
        lambda: api.delete(answer, token),
        lambda: api.put(answer, token, json_body={"response": "cancelled"}),
    ):
        assert step().status_code == 200
        sequences.append(feed_of(api, path).event(uid(visit_id)).sequence)

    assert sequences == sorted(set(sequences))


def test_only_the_feeds_clinic_is_shown_for_a_patient_id_found_in_another_clinic(api, make_clinic):
    world, other = make_clinic(), make_clinic(patients=())
    mine = world.add_visit("Alex")
    stray = world.add_visit("Alex")
    world.stored_visit("Alex", stray).update(actions=[Visit.clinic_id.set(other.clinic_id)])

    calendar = feed_of(api, feed_path(new_feed(api, world)))

    assert calendar.uids() == {uid(mine)}


# --- Polling cheaply: conditional requests --------------------------------------------------


def test_a_client_with_the_current_copy_gets_304_without_a_body(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    first = fetch(api, path)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
    ):
        again = fetch(api, path, **headers)
        assert again.status_code == 304, headers
        assert again.body == b""
        assert (again.headers["ETag"], again.headers["Last-Modified"]) == (etag, last_modified)
        assert again.headers["Cache-Control"] == "private, max-age=300"


def test_a_client_with_an_old_copy_gets_the_feed(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    first = fetch(api, path)
    earlier = format_datetime(parsedate_to_datetime(first.headers["Last-Modified"]) - timedelta(seconds=1), True)

    for headers in (
        {"If-None-Match": '"0123456789abcdef0123456789abcdef"'},
        {"If-Modified-Since": earlier},
        # If-None-Match decides when both come (RFC 9110 §13.1.3).
        {"If-None-Match": '"0123456789abcdef0123456789abcdef"', "If-Modified-Since": first.headers["Last-Modified"]},
        {"If-Modified-Since": "not a date"},
    ):
        again = fetch(api, path, **headers)
        assert again.status_code == 200, headers
        assert again.text == first.text


def test_a_change_answers_the_old_etag_with_the_new_feed(api, clinic):
    visit_id = clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    first = fetch(api, path)

    api.put(f"/portal/sessions/{visit_id}/response", clinic.token_for("Alex"), json_body={"response": "confirmed"})

    again = fetch(
        api, path, **{"If-None-Match": first.headers["ETag"], "If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"}
    )
    assert again.status_code == 200
    assert again.headers["ETag"] != first.headers["ETag"]


def test_last_modified_is_the_latest_change_of_a_visit_in_the_feed(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    visit_id = clinic.add_visit("Alex", starts_in=5 * DAY)
    changed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    clinic.stored_visit("Alex", visit_id).update(actions=[Visit.changed_at.set(times.format_instant(changed))])
    older = clinic.add_visit("Alex", starts_in=6 * DAY)
    clinic.stored_visit("Alex", older).update(actions=[Visit.changed_at.set("2020-01-01T00:00:00Z")])

    response = fetch(api, path)

    assert parsedate_to_datetime(response.headers["Last-Modified"]) >= changed


def test_last_modified_is_at_least_the_clinics_midnight_when_the_window_moved(api, clinic):
    visit_id = clinic.add_visit("Alex")
    clinic.stored_visit("Alex", visit_id).update(
        actions=[Visit.changed_at.set("2020-01-01T00:00:00Z"), Visit.created_at.set("2020-01-01T00:00:00Z")]
    )
    path = feed_path(new_feed(api, clinic))

    response = fetch(api, path)

    midnight = datetime.combine(clinic_today(clinic), time.min, ZoneInfo("America/New_York")).astimezone(UTC)
    assert parsedate_to_datetime(response.headers["Last-Modified"]) == midnight


def test_head_answers_the_headers_of_get(api, clinic):
    clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    got = fetch(api, path)

    head = fetch(api, path, method="HEAD")

    assert head.status_code == 200
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == got.headers[name]
    assert fetch(api, path, method="HEAD", **{"If-None-Match": got.headers["ETag"]}).status_code == 304


def test_reading_the_feed_changes_nothing(api, clinic):
    visit_id = clinic.add_visit("Alex")
    path = feed_path(new_feed(api, clinic))
    before = (clinic.stored_visit("Alex", visit_id).attribute_values, [f.attribute_values for f in feeds_of(clinic)])

    for method in ("GET", "HEAD", "GET"):
        fetch(api, path, method=method)

    after = (clinic.stored_visit("Alex", visit_id).attribute_values, [f.attribute_values for f in feeds_of(clinic)])
    assert after == before


# --- Replacing and stopping -----------------------------------------------------------------


def test_a_new_address_stops_the_old_one(api, clinic):
    clinic.add_visit("Alex")
    old = feed_path(new_feed(api, clinic))
    assert fetch(api, old).status_code == 200

    new = feed_path(new_feed(api, clinic))

    assert fetch(api, old).status_code == 404
    assert fetch(api, new).status_code == 200
    assert len(feeds_of(clinic)) == 1


def test_stop_sharing_stops_the_feed(api, clinic):
    path = feed_path(new_feed(api, clinic))

    stopped = api.delete("/portal/calendar-feed", clinic.token_for("Alex"))

    assert stopped.status_code == 204
    assert stopped.body == b""
    assert stopped.headers["Cache-Control"] == "no-store"
    assert fetch(api, path).status_code == 404
    assert feeds_of(clinic) == []
    assert Patient.get(clinic.patients["Alex"], consistent_read=True).calendar_feed_hash is None
    assert api.delete("/portal/calendar-feed", clinic.token_for("Alex")).status_code == 204  # nothing left: still 204


def test_unknown_replaced_stopped_and_malformed_addresses_all_answer_the_same_404(api, clinic):
    replaced = feed_path(new_feed(api, clinic))
    stopped = feed_path(new_feed(api, clinic))
    api.delete("/portal/calendar-feed", clinic.token_for("Alex"))
    unknown = "/cal/" + "A" * 43 + ".ics"
    paths = [unknown, replaced, stopped, "/cal/short.ics", "/cal/" + "A" * 43, "/cal/" + "A" * 43 + ".ICS"]

    answers = [fetch(api, path) for path in paths]

    assert {a.status_code for a in answers} == {404}
    assert all(a.data == {"Code": "NotFoundError", "Message": "Unknown calendar feed."} for a in answers)
    assert {fetch(api, path, method="HEAD").status_code for path in paths} == {404}


def test_a_feed_stops_when_its_patient_is_removed(api, clinic):
    path = feed_path(new_feed(api, clinic))
    Patient.get(clinic.patients["Alex"]).delete()
    assert fetch(api, path).status_code == 404


def test_one_patient_stopping_sharing_leaves_another_patients_feed_working(api, make_clinic):
    first, second = make_clinic(patients=("Alex", "Sam")), make_clinic(patients=("Bea",))
    sams, beas = feed_path(new_feed(api, first, "Sam")), feed_path(new_feed(api, second, "Bea"))
    new_feed(api, first)

    assert api.delete("/portal/calendar-feed", first.token_for("Alex")).status_code == 204

    assert fetch(api, sams).status_code == 200
    assert fetch(api, beas).status_code == 200


def test_a_new_address_issued_meanwhile_from_another_tab_leaves_exactly_one_working(api, clinic):
    """The other tab's transaction lands between this request's read of the patient and its own
    transaction: this one is refused by DynamoDB, reads again, and replaces the other tab's feed."""
    identity = Identity("sub", "alex", Role.PATIENT, clinic.clinic_id, clinic.patients["Alex"], 0)
    events = aws.transactions().client.meta.events
    other_tab = {}

    def land_the_other_tabs_feed_first(**_):
        events.unregister("before-call.dynamodb.TransactWriteItems", land_the_other_tabs_feed_first)
        other_tab["secret"] = calendar_feeds.new_feed(identity, datetime.now(UTC))

    events.register("before-call.dynamodb.TransactWriteItems", land_the_other_tabs_feed_first)
    try:
        mine = new_feed(api, clinic)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", land_the_other_tabs_feed_first)

    assert other_tab["secret"]
    assert fetch(api, f"/cal/{other_tab['secret']}.ics").status_code == 404
    assert fetch(api, feed_path(mine)).status_code == 200
    assert len(feeds_of(clinic)) == 1


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize(
    "authorization, status",
    [(None, 401), ("Bearer ", 401), ("Bearer not-a-jwt", 401), ("staff", 403)],
    ids=["no token", "empty", "garbage", "staff token"],
)
def test_managing_the_feed_needs_the_patients_own_token(api, clinic, method, authorization, status):
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization == "staff":
        headers = {"Authorization": f"Bearer {clinic.staff_token}"}

    response = api.call(method, "/portal/calendar-feed", headers=headers)

    assert response.status_code == status
    assert set(response.data) == {"Code", "Message"}
    assert feeds_of(clinic) == []


def test_the_feed_address_needs_no_login_and_ignores_one(api, clinic):
    path = feed_path(new_feed(api, clinic))
    assert fetch(api, path).status_code == 200
    assert fetch(api, path, Authorization="Bearer not-a-jwt").status_code == 200


# --- The address ----------------------------------------------------------------------------


def test_the_address_uses_the_configured_public_url(api, clinic):
    settings = config.current()
    runtime.bind(replace(settings, public_url="https://portal.clinic.example/"))
    try:
        url = api.post("/portal/calendar-feed", clinic.token_for("Alex"), headers={"Host": HOST}).data["url"]
    finally:
        runtime.bind(settings)
    assert re.fullmatch(r"https://portal\.clinic\.example/cal/[A-Za-z0-9_-]{43}\.ics", url)


@pytest.mark.parametrize(
    "headers, seen_path, expected",
    [
        ({"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"},
         "/api/portal/calendar-feed", "https://abc123.execute-api.us-east-1.amazonaws.com/api/cal/S.ics"),
        ({"host": "portal.clinic.example", "x-forwarded-proto": "https"},
         "/scheduling/portal/calendar-feed", "https://portal.clinic.example/scheduling/cal/S.ics"),
        ({"host": "127.0.0.1:8000"}, "/portal/calendar-feed", "http://127.0.0.1:8000/cal/S.ics"),
        ({"host": "evil.example/<script>"}, "/portal/calendar-feed", "https://api.example/cal/S.ics"),
    ],
    ids=["API Gateway's own domain", "a custom domain with a base path", "make run", "a forged host"],
)  # fmt: skip
def test_without_a_public_url_the_address_is_where_the_request_came_in(aws, headers, seen_path, expected):
    event = {
        "requestContext": {
            "resourcePath": "/portal/calendar-feed",
            "path": seen_path,
            "httpMethod": "POST",
            "domainName": "api.example",
        },
        "headers": headers,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
    }
    previous = getattr(portal.app, "current_request", None)
    portal.app.current_request = Request(event)
    settings = config.current()
    runtime.bind(replace(settings, public_url=""))
    try:
        assert portal.public_url("/cal/S.ics") == expected
    finally:
        runtime.bind(settings)
        portal.app.current_request = previous
