"""Reminder emails: armed from the visits stream, sent by the sweep, answered in one click through
links that only a button can act on."""

import re
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import reminders, signing, times
from chalicelib.models import Reminder, ReminderSweep
from tests.conftest import PUBLIC_URL
from tests.console import set_attributes

HOUR = timedelta(hours=1)
NO_QUIET_HOURS = {"start": "00:00", "end": "00:00"}


@pytest.fixture
def reminding(make_clinic, api):
    """A clinic with reminders on, 2 hours before each visit, no quiet hours."""

    def build(hours_before=(2,), quiet_hours=NO_QUIET_HOURS, **settings):
        world = make_clinic(**settings)
        response = api.patch(
            "/clinic/settings",
            world.staff_token,
            json_body={"reminders": {"enabled": True, "hours_before": list(hours_before), "quiet_hours": quiet_hours}},
        )
        assert response.status_code == 200, response.data
        return world

    return build


@pytest.fixture
def armed(stream_records_of, deliver):
    """The visit's stream records so far, delivered to the stream function: its reminders are armed."""

    def arm(visit_id):
        assert deliver(*stream_records_of(visit_id)) == {"batchItemFailures": []}
        return [r for r in Reminder.scan() if r.visit_id == visit_id]

    return arm


@pytest.fixture
def sweep():
    """The every-minute sweep, run as if it were `now` (the last sweep two hours before)."""

    def run(now):
        ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(now - 2 * HOUR)).save()
        return reminders.send_due(now)

    return run


def reminders_to(inbox, world, name="Alex"):
    return [message for message in inbox(world.email_of(name)) if message.subject.startswith("Reminder:")]


def visit_in(world, hours, minutes=1, **fields):
    """A visit `hours` (and a minute) ahead: its 2-hour reminder falls due a minute from now."""
    return world.add_visit("Alex", starts_in=timedelta(hours=hours, minutes=minutes), **fields)


def now():
    return datetime.now(UTC)


# --- Who gets one, and when ------------------------------------------------------------------


def test_an_awaiting_visit_gets_one_reminder_per_lead_time_when_each_falls_due(reminding, armed, sweep, inbox):
    world = reminding(hours_before=(2, 24))
    visit_id = visit_in(world, 26)
    assert sorted(int(r.hours_before) for r in armed(visit_id)) == [2, 24]

    sweep(now() + 2 * HOUR + 5 * timedelta(minutes=1))  # the 24-hour one is due
    sweep(now() + 2 * HOUR + 5 * timedelta(minutes=1))  # a second sweep sends nothing again
    assert len(reminders_to(inbox, world)) == 1

    sweep(now() + 24 * HOUR + 5 * timedelta(minutes=1))  # the 2-hour one
    assert len(reminders_to(inbox, world)) == 2


@pytest.mark.parametrize(
    "shape",
    [
        {"response": "CLIENT_CANCELLED"},  # pending cancel
        {"session_class": "Cancelled by clinic"},
        {"completed": True},
    ],
    ids=["pending cancel", "cancelled", "completed"],
)
def test_no_reminder_for_a_visit_pending_cancel_cancelled_or_completed(reminding, armed, sweep, inbox, shape):
    world = reminding()
    armed(visit_in(world, 2, **shape))

    report = sweep(now() + 5 * timedelta(minutes=1))

    assert reminders_to(inbox, world) == []
    assert report.skipped >= 1


def test_no_reminder_for_a_patient_who_turned_them_off_or_whose_address_bounces(reminding, armed, sweep, inbox, api):
    world = reminding()
    world.add_patient("Sam")
    api.patch("/portal/preferences", world.token_for("Alex"), json_body={"email_reminders": False})
    from chalicelib.models import Patient

    sam = Patient.get(world.patients["Sam"])
    sam.update(actions=[Patient.email_status.set("bouncing"), Patient.email_status_address.set(sam.email)])
    armed(visit_in(world, 2))
    armed(world.add_visit("Sam", starts_in=timedelta(hours=2, minutes=1)))

    sweep(now() + 5 * timedelta(minutes=1))

    assert reminders_to(inbox, world, "Alex") == [] and reminders_to(inbox, world, "Sam") == []


def test_no_reminder_while_the_clinic_has_reminders_off(make_clinic, armed, sweep, inbox):
    world = make_clinic()  # the contract's default: off
    armed(visit_in(world, 48))

    sweep(now() + 5 * timedelta(minutes=1))

    assert reminders_to(inbox, world) == []


def test_a_moved_visits_old_reminder_never_goes_its_new_one_does_and_the_old_link_refuses(
    reminding, armed, sweep, inbox, api, client
):
    world = reminding()
    visit_id = visit_in(world, 2, minutes=30)
    armed(visit_id)
    sweep(now() + 31 * timedelta(minutes=1))
    (first,) = reminders_to(inbox, world)
    old_link = links_in(first)["Confirm"]

    later = (now() + 5 * HOUR).astimezone(world_tz(world))
    moved = api.patch(
        f"/clinic/sessions/{visit_id}",
        world.staff_token,
        json_body={"date": later.date().isoformat(), "start_time": later.strftime("%H:%M")},
    )
    assert moved.status_code == 200, moved.data
    armed(visit_id)
    sweep(now() + 31 * timedelta(minutes=1))  # the old time's reminder is skipped now
    assert len(reminders_to(inbox, world)) == 1

    sweep(now() + 3 * HOUR + 5 * timedelta(minutes=1))  # the new time's is due (5 hours ahead, 2 before)
    assert len(reminders_to(inbox, world)) == 2
    page = open_link(client, old_link)
    assert page.status_code == 410
    assert "moved" in page.text
    assert world.stored_visit("Alex", visit_id).patient_response is None


def test_visits_cancelled_right_before_their_reminders_fall_due_get_none(reminding, sweep, inbox, api):
    world = reminding()
    visit_ids = [visit_in(world, 2, minutes=2) for _ in range(200)]
    reminders.rearm_clinic(world.clinic_id)  # what the stream does for each, in one go
    for visit_id in visit_ids:
        staff_cancel = api.patch(
            f"/clinic/sessions/{visit_id}", world.staff_token, json_body={"session_class": "Cancelled by clinic"}
        )
        assert staff_cancel.status_code == 200

    report = sweep(now() + 5 * timedelta(minutes=1))

    assert reminders_to(inbox, world) == []
    assert report.skipped >= 200


def test_reminders_due_during_an_outage_go_out_once_when_it_is_over_but_not_for_visits_that_started(
    reminding, armed, inbox
):
    world = reminding(hours_before=(3,))
    ahead, started = visit_in(world, 6), visit_in(world, 3, minutes=30)
    armed(ahead)
    armed(started)
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(now())).save()  # then the outage

    back = now() + 4 * HOUR  # both fell due meanwhile; one visit has started
    reminders.send_due(back)
    reminders.send_due(back + timedelta(minutes=1))

    assert [m.subject for m in reminders_to(inbox, world)] == [reminder_subject(world, ahead)]


def test_a_reminder_armed_twice_or_swept_twice_at_once_sends_one_email(reminding, armed, sweep, inbox):
    world = reminding()
    visit_id = visit_in(world, 2)
    (reminder,) = armed(visit_id)
    armed(visit_id)  # the stream delivered again
    reminders.rearm_clinic(world.clinic_id)  # and the settings were saved again

    due = now() + 5 * timedelta(minutes=1)
    first = sweep(due)
    # A second sweep that read the reminder before the first one claimed it gets nothing to do.
    again = reminders.deliver(Reminder.get(reminder.due_day, reminder.reminder_key), due)

    assert first.sent == 1 and again is None
    assert len(reminders_to(inbox, world)) == 1
    assert Reminder.get(reminder.due_day, reminder.reminder_key).state == reminders.SENT


# --- The email --------------------------------------------------------------------------------


def test_the_email_says_what_when_and_where_from_the_clinic_and_carries_the_calendar_file(
    reminding, armed, sweep, inbox
):
    world = reminding(name="Riverside Family Therapy", admin_email="Front Desk <desk.riverside@tests.example>")
    visit_id = world.add_visit(
        "Alex", starts_in=timedelta(hours=2, minutes=1), provider="Dr. Maya Patel", location="Room 2, 120 Main St"
    )
    armed(visit_id)
    sweep(now() + 5 * timedelta(minutes=1))

    (message,) = reminders_to(inbox, world)
    assert message.sender == "Riverside Family Therapy <portal-noreply@tests.example>"
    assert message.subject == reminder_subject(world, visit_id)
    assert message.header("Reply-To") == "Front Desk <desk.riverside@tests.example>"
    assert message.text.startswith("Hi Alex,")
    for words in ("Riverside Family Therapy", "Room 2, 120 Main St", "Dr. Maya Patel", local_time(world, visit_id)):
        assert words in message.text
    assert "Individual therapy" not in message.text + message.html  # no session class
    assert set(links_in(message)) == {"Confirm", "Cancel", "portal"}
    unsubscribe = message.header("List-Unsubscribe")
    assert re.fullmatch(rf"<{re.escape(PUBLIC_URL)}/u/[A-Za-z0-9._-]+>", unsubscribe)
    assert message.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert message.header("Date") and message.header("Message-ID").endswith("@tests.example>")
    ((name, kind, body),) = message.attachments
    assert (name.endswith(".ics"), kind) == (True, "text/calendar")
    assert f"UID:{visit_id}@tests.example" in body.decode()


def test_the_provider_is_left_out_when_the_clinic_hides_it_and_cancel_when_it_takes_cancellations_by_phone(
    reminding, armed, sweep, inbox, api
):
    world = reminding(patient_cancel_enabled=False)
    api.patch("/clinic/settings", world.staff_token, json_body={"reminders": {"show_provider": False}})
    armed(world.add_visit("Alex", starts_in=timedelta(hours=2, minutes=1), provider="Dr. Maya Patel"))
    sweep(now() + 5 * timedelta(minutes=1))

    (message,) = reminders_to(inbox, world)
    assert "Dr. Maya Patel" not in message.text + message.html
    assert set(links_in(message)) == {"Confirm", "portal"}


def test_a_confirmed_visits_reminder_offers_to_change_the_answer(reminding, armed, sweep, inbox):
    world = reminding()
    armed(visit_in(world, 2, response="CLIENT_CONFIRMED"))
    sweep(now() + 5 * timedelta(minutes=1))

    (message,) = reminders_to(inbox, world)
    assert set(links_in(message)) == {"Change my answer", "portal"}


def test_a_reminder_for_a_visit_on_a_daylight_saving_day_shows_the_clinics_local_time(reminding, sweep, inbox, armed):
    world = reminding(hours_before=(2,))
    # New York falls back on 2026-11-01: 01:30 happens twice; 10:00 that day is 15:00 UTC.
    visit_id = world.add_visit("Alex", starts_in=timedelta(hours=2, minutes=1))
    starts = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    set_attributes(world, visit_id, starts_at={"S": times.format_instant(starts)})
    reminders.rearm_clinic(world.clinic_id, now=starts - 3 * HOUR)  # as if the visit were set that morning
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(starts - 3 * HOUR)).save()
    reminders.send_due(starts - 2 * HOUR + timedelta(minutes=1))

    (message,) = reminders_to(inbox, world)
    assert message.subject == "Reminder: your appointment on Sun, Nov 1 at 10:00 AM"
    assert "10:00 AM (Eastern Time)" in message.text


# --- The links -------------------------------------------------------------------------------


def links_in(message) -> dict[str, str]:
    """The links of the email's text part, by what they are for."""
    found = {}
    for line in (line.strip() for line in message.text.splitlines()):
        for label in ("Confirm", "Cancel", "Change my answer"):
            if line.startswith(f"{label}: "):
                found[label] = line.split(": ", 1)[1]
        if line == f"{PUBLIC_URL}/":
            found["portal"] = line
    return found


def path_of(url: str) -> str:
    return url.replace(PUBLIC_URL, "", 1)


def open_link(client, url, method="GET"):
    response = client.http.request(method, path_of(url), headers={})
    response.text = response.body.decode() if response.body else ""
    return response


def post_form(client, url, **fields):
    response = client.http.request(
        "POST",
        path_of(url).split("?")[0],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(fields).encode(),
    )
    response.text = response.body.decode() if response.body else ""
    return response


@pytest.fixture
def reminded(reminding, armed, sweep, inbox):
    """A visit of Alex's, and the reminder email that went out for it."""

    def build(**settings):
        world = reminding(**settings)
        visit_id = visit_in(world, 2)
        armed(visit_id)
        sweep(now() + 5 * timedelta(minutes=1))
        (message,) = reminders_to(inbox, world)
        return world, visit_id, message

    return build


def test_opening_a_link_any_number_of_times_changes_nothing(reminded, client):
    world, visit_id, message = reminded()
    before = world.stored_visit("Alex", visit_id).attribute_values

    for _ in range(100):
        for method in ("GET", "HEAD"):
            assert open_link(client, links_in(message)["Cancel"], method).status_code == 200

    assert world.stored_visit("Alex", visit_id).attribute_values == before


def test_the_links_page_shows_the_visit_and_a_button_for_each_answer_open_now(reminded, client):
    world, visit_id, message = reminded()

    page = open_link(client, links_in(message)["Confirm"])

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "script" not in page.headers["Content-Security-Policy"].replace("default-src 'none'", "")
    assert local_time(world, visit_id) in page.text
    assert re.findall(r'name="action" value="(\w+)"', page.text) == ["confirm", "cancel"]


def test_confirm_through_the_link_answers_as_the_portal_does_and_says_so(reminded, client, stream_records_of, deliver):
    world, visit_id, message = reminded()

    page = post_form(client, links_in(message)["Confirm"], action="confirm")

    assert page.status_code == 200
    assert "your appointment is confirmed" in page.text
    stored = world.stored_visit("Alex", visit_id)
    assert (stored.patient_response, stored.changed_by) == ("CLIENT_CONFIRMED", "reminder-link")


def test_cancel_through_the_link_shows_the_clinics_notice_and_emails_the_clinic_once(
    reminded, client, stream_records_of, deliver, inbox, api
):
    world, visit_id, message = reminded()

    page = post_form(client, links_in(message)["Cancel"], action="cancel", reason="Fever.\nPatient: someone else")
    deliver(*stream_records_of(visit_id))
    deliver(*stream_records_of(visit_id))  # redelivered

    assert page.status_code == 200
    assert "It is still your responsibility to call the clinic" in page.text
    (clinic_email,) = inbox(world.admin_email)
    assert clinic_email.subject.startswith("Cancellation request:")
    assert "> Patient: someone else" in clinic_email.text  # quoted as the patient's own words
    history = api.get(f"/clinic/sessions/{visit_id}/history", world.staff_token).data["events"]
    # (The sweep ran "five minutes from now" here, so its reminder_sent event sorts last.)
    assert sorted((e["what"], e["by"]) for e in history) == [
        ("cancel_requested", "reminder-link"),
        ("created", "system"),
        ("reminder_sent", "system"),
    ]


def test_change_through_the_link_removes_the_answer_and_emails_an_uncancel(
    reminded, client, stream_records_of, deliver, inbox
):
    world, visit_id, message = reminded()
    link = links_in(message)["Cancel"]
    post_form(client, link, action="cancel")

    page = post_form(client, link, action="change")
    deliver(*stream_records_of(visit_id))

    assert page.status_code == 200
    assert world.stored_visit("Alex", visit_id).patient_response is None
    assert [m.subject.split(":")[0] for m in inbox(world.admin_email)] == [
        "Cancellation request",
        "Un-cancellation request",
    ]


def test_a_link_answer_counts_against_the_same_limit_as_the_portal(reminded, client):
    world, visit_id, message = reminded()
    link = links_in(message)["Confirm"]
    statuses = [post_form(client, link, action=("confirm", "change")[n % 2]).status_code for n in range(8)]
    assert statuses == [200] * 6 + [429, 200]  # the 7th change refused; the last has nothing to remove


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # another signature
        lambda token: token.replace(".", "x", 1),  # not the token's shape
        lambda token: "v1.k1.e30.abc",  # made up
        lambda token: token.split(".")[0],  # truncated
    ],
    ids=["resigned", "reshaped", "made up", "truncated"],
)
def test_an_altered_link_answers_a_page_that_says_so_and_changes_nothing(reminded, client, tamper):
    world, visit_id, message = reminded()
    path = path_of(links_in(message)["Confirm"]).split("?")[0]
    token = path.rsplit("/", 1)[1]
    altered = f"{PUBLIC_URL}/r/{tamper(token)}"

    looked = open_link(client, altered)
    posted = post_form(client, altered, action="confirm")

    assert looked.status_code == posted.status_code == 400
    assert "This link is not valid" in looked.text
    assert world.stored_visit("Alex", visit_id).patient_response is None


def test_an_unsubscribe_link_is_not_an_answer_link(reminded, client):
    world, visit_id, message = reminded()
    unsubscribe = message.header("List-Unsubscribe").strip("<>")
    token = path_of(unsubscribe).rsplit("/", 1)[1]
    assert post_form(client, f"{PUBLIC_URL}/r/{token}", action="confirm").status_code == 400


def test_one_click_unsubscribe_turns_reminders_off(reminded, client, api):
    world, visit_id, message = reminded()
    unsubscribe = message.header("List-Unsubscribe").strip("<>")

    looked = open_link(client, unsubscribe)
    assert api.get("/portal/preferences", world.token_for("Alex")).data["email_reminders"] is True
    posted = post_form(client, unsubscribe, **{"List-Unsubscribe": "One-Click"})

    assert looked.status_code == posted.status_code == 200
    assert "You will no longer get reminder emails" in posted.text
    assert api.get("/portal/preferences", world.token_for("Alex")).data["email_reminders"] is False


# --- In the patient's language ----------------------------------------------------------------------

SPANISH_DAY = r"(lun|mar|mié|jue|vie|sáb|dom), \d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)"
SPANISH_TIME = r"\d{1,2}:\d{2} [ap]\. m\."


@pytest.fixture
def reminded_in_spanish(reminding, armed, sweep, inbox, api):
    """Alex chose Spanish (PATCH /portal/preferences); a visit of theirs and its reminder."""
    world = reminding()
    chosen = api.patch("/portal/preferences", world.token_for("Alex"), json_body={"language": "es"})
    assert chosen.status_code == 200 and chosen.data["language"] == "es"
    visit_id = visit_in(world, 2)
    armed(visit_id)
    sweep(now() + 5 * timedelta(minutes=1))
    (message,) = [m for m in inbox(world.email_of("Alex")) if m.subject.startswith("Recordatorio:")]
    return world, visit_id, message


def spanish_links(message) -> dict[str, str]:
    found = {}
    for line in (line.strip() for line in message.text.splitlines()):
        for label in ("Confirmar", "Cancelar", "Cambiar mi respuesta"):
            if line.startswith(f"{label}: "):
                found[label] = line.split(": ", 1)[1]
    return found


def test_a_spanish_patients_reminder_is_all_in_spanish_with_spanish_dates_in_the_clinics_zone(reminded_in_spanish):
    world, visit_id, message = reminded_in_spanish

    assert re.fullmatch(rf"Recordatorio: su cita el {SPANISH_DAY} a las {SPANISH_TIME}", message.subject)
    assert message.header("Content-Language") == "es"
    assert message.header("Reply-To") and message.header("Date") and message.header("Message-ID")
    assert message.text.startswith("Hola, Alex:")
    assert re.search(rf"Fecha: {SPANISH_DAY} \d{{4}}\n", message.text)
    assert re.search(rf"Hora: {SPANISH_TIME} \(hora oriental\)", message.text)
    assert set(spanish_links(message)) == {"Confirmar", "Cancelar"}
    assert '<html lang="es">' in message.html and ">Confirmar</a>" in message.html
    assert "Dejar de recibir recordatorios" in message.html
    for english in ("Reminder", "Hi ", "Date:", "Location", "Confirm:", "Stop reminder", "Questions?", " AM", " PM"):
        assert english not in message.text
    ((name, _, body),) = message.attachments
    calendar = body.decode()
    assert name.startswith("cita-") and "SUMMARY:Cita – Test Family Therapy" in calendar
    assert "DESCRIPTION:Profesional: " in calendar


def test_a_spanish_patients_link_and_unsubscribe_pages_are_in_spanish(reminded_in_spanish, client):
    world, visit_id, message = reminded_in_spanish
    confirm = spanish_links(message)["Confirmar"]

    page = open_link(client, confirm)
    answered = post_form(client, confirm, action="confirm")
    unsubscribe = open_link(client, message.header("List-Unsubscribe").strip("<>"))

    assert page.status_code == answered.status_code == unsubscribe.status_code == 200
    for html_page in (page, answered, unsubscribe):
        assert '<html lang="es">' in html_page.text
    assert "Esperando su respuesta" in page.text and ">Confirmar</button>" in page.text
    assert re.search(rf"<dd>{SPANISH_DAY} \d{{4}}</dd>", page.text)
    assert re.search(rf"<dd>{SPANISH_TIME} \(hora oriental\)</dd>", page.text)
    assert "Cancelar esta cita" in page.text and "Motivo (opcional)" in page.text
    assert "Gracias: su cita está confirmada." in answered.text and "Usted confirmó" in answered.text
    assert "¿Dejar de recibir recordatorios de citas por correo de Test Family Therapy?" in unsubscribe.text
    for english in ("Confirm<", "Awaiting", "Date<", "Cancel this", "Stop reminder"):
        assert english not in page.text + unsubscribe.text


def test_a_refused_link_speaks_its_patients_language_and_a_foreign_one_the_browsers(reminded_in_spanish, client, api):
    world, visit_id, message = reminded_in_spanish
    confirm = spanish_links(message)["Confirmar"]
    later = (now() + 5 * HOUR).astimezone(world_tz(world))
    moved = api.patch(
        f"/clinic/sessions/{visit_id}",
        world.staff_token,
        json_body={"date": later.date().isoformat(), "start_time": later.strftime("%H:%M")},
    )
    assert moved.status_code == 200
    token = path_of(confirm).split("?")[0].rsplit("/", 1)[1]
    altered = f"/r/{token[:-2]}{'AA' if not token.endswith('AA') else 'BB'}"

    gone = client.http.request("GET", path_of(confirm), headers={"Accept-Language": "en-US"})
    foreign_es = client.http.request("GET", altered, headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    foreign_en = client.http.request("GET", altered, headers={"Accept-Language": "en-US,en;q=0.9"})

    assert gone.status_code == 410  # the patient's language, whatever the browser says
    assert '<html lang="es">' in gone.body.decode() and "este enlace ya no funciona" in gone.body.decode()
    assert foreign_es.status_code == foreign_en.status_code == 400
    assert "Este enlace no es válido" in foreign_es.body.decode() and '<html lang="es">' in foreign_es.body.decode()
    assert "This link is not valid" in foreign_en.body.decode() and '<html lang="en">' in foreign_en.body.decode()
    assert foreign_es.headers["Vary"] == "Accept-Language"


@pytest.mark.parametrize(
    ("language", "cutoff", "said"),
    [
        ("en", 1, "Online cancellation closes 1 hour before the appointment."),
        ("es", 1, "La cancelación en línea cierra 1 hora antes de la cita."),
        ("en", 0, None),
    ],
)
def test_the_cancel_form_says_when_online_cancellation_closes_in_the_right_plural(
    reminding, armed, sweep, inbox, api, client, language, cutoff, said
):
    world = reminding(cancel_cutoff_hours=cutoff, patient_cancel_enabled=True)
    api.patch("/portal/preferences", world.token_for("Alex"), json_body={"language": language})
    armed(visit_in(world, 2))
    sweep(now() + 5 * timedelta(minutes=1))
    (message,) = inbox(world.email_of("Alex"))
    cancel = (spanish_links(message) if language == "es" else links_in(message))[
        "Cancelar" if language == "es" else "Cancel"
    ]

    page = open_link(client, cancel)

    closes = re.findall(r"<p>((?:Online cancellation|La cancelación en línea)[^<]*)</p>", page.text)
    assert closes == ([said] if said else [])


def test_an_english_patients_link_page_stays_english_whatever_the_browser_asks(reminded, client):
    world, visit_id, message = reminded()
    page = client.http.request("GET", path_of(links_in(message)["Confirm"]), headers={"Accept-Language": "es"})
    assert '<html lang="en">' in page.body.decode() and "Awaiting your answer" in page.body.decode()


# --- Settings and preferences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reminders_block",
    [
        {"hours_before": []},
        {"hours_before": [1, 2, 3, 4]},
        {"hours_before": [2, 2]},
        {"hours_before": [0]},
        {"hours_before": [337]},
        {"hours_before": [1.5]},
        {"quiet_hours": {"start": "21:00"}},
        {"quiet_hours": {"start": "25:00", "end": "08:00"}},
        {"enabled": "yes"},
        {"colour": "red"},
        {},
    ],
)
def test_invalid_reminder_settings_are_400_and_change_nothing(api, clinic, reminders_block):
    before = api.get("/clinic/settings", clinic.staff_token).data

    response = api.patch("/clinic/settings", clinic.staff_token, json_body={"reminders": reminders_block})

    assert response.status_code == 400
    assert api.get("/clinic/settings", clinic.staff_token).data == before


def test_reminder_settings_change_only_the_parts_sent(api, clinic):
    api.patch("/clinic/settings", clinic.staff_token, json_body={"reminders": {"enabled": True}})
    response = api.patch("/clinic/settings", clinic.staff_token, json_body={"reminders": {"hours_before": [2, 48, 24]}})
    assert response.data["reminders"] == {
        "enabled": True,
        "hours_before": [48, 24, 2],
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "show_provider": True,
    }


def test_changed_reminder_settings_rearm_the_upcoming_visits_and_the_old_lead_time_never_goes(
    reminding, armed, api, clinic_saved, sweep, inbox
):
    world = reminding(hours_before=(2,))
    visit_id = visit_in(world, 30)
    armed(visit_id)

    api.patch("/clinic/settings", world.staff_token, json_body={"reminders": {"hours_before": [24]}})
    clinic_saved(world)  # the clinics stream delivers the change

    assert {int(r.hours_before) for r in Reminder.scan() if r.visit_id == visit_id} == {2, 24}
    sweep(now() + 6 * HOUR + 5 * timedelta(minutes=1))  # the new 24-hour reminder
    sweep(now() + 28 * HOUR + 5 * timedelta(minutes=1))  # the old 2-hour one: skipped
    assert len(reminders_to(inbox, world)) == 1


def test_a_patient_reads_and_changes_their_own_preferences_only(api, make_clinic):
    world = make_clinic(patients=("Alex", "Sam"))
    alex = world.token_for("Alex")

    assert api.get("/portal/preferences", alex).data == {"email_reminders": True, "language": "en"}
    changed = api.patch("/portal/preferences", alex, json_body={"language": "es", "email_reminders": False})

    assert changed.data == {"email_reminders": False, "language": "es"}
    assert api.get("/portal/preferences", world.token_for("Sam")).data == {"email_reminders": True, "language": "en"}
    listed = {p["name"]: p for p in api.get("/clinic/patients", world.staff_token).data["patients"]}
    assert (listed["Alex"]["email_reminders"], listed["Sam"]["email_reminders"]) == (False, True)


@pytest.mark.parametrize("patch", [{"language": "fr"}, {"email_reminders": "no"}, {"name": "X"}, {}])
def test_invalid_preferences_are_400(api, clinic, patch):
    assert api.patch("/portal/preferences", clinic.token_for("Alex"), json_body=patch).status_code == 400


def test_preferences_are_the_patients_route_only(api, clinic):
    assert api.get("/portal/preferences", clinic.staff_token).status_code == 403
    assert api.get("/portal/preferences").status_code == 401


# --- Helpers about the clinic's clock --------------------------------------------------------------


def world_tz(world):
    from zoneinfo import ZoneInfo

    from chalicelib.models import Clinic

    return ZoneInfo(Clinic.get(world.clinic_id).timezone)


def local_time(world, visit_id) -> str:
    starts = times.parse_instant(world.stored_visit("Alex", visit_id).starts_at).astimezone(world_tz(world))
    return f"{starts.hour % 12 or 12}:{starts.minute:02d} {'AM' if starts.hour < 12 else 'PM'}"


def reminder_subject(world, visit_id) -> str:
    starts = times.parse_instant(world.stored_visit("Alex", visit_id).starts_at).astimezone(world_tz(world))
    return f"Reminder: your appointment on {starts:%a, %b} {starts.day} at {local_time(world, visit_id)}"


# --- The deployed function ------------------------------------------------------------------------


def scheduled_event():
    """What EventBridge hands a scheduled function."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": times.format_instant(now()),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/send-reminders"],
        "detail": {},
    }


def test_the_scheduled_function_sends_what_is_due_now(reminding, armed, client, inbox):
    world = reminding()
    visit_id = world.add_visit("Alex", starts_in=timedelta(hours=2, seconds=2))
    armed(visit_id)
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(now() - timedelta(minutes=1))).save()
    time.sleep(3)  # the reminder falls due (2 hours before the start)

    result = client.lambda_.invoke("send_reminders", scheduled_event()).payload

    assert result["sent"] >= 1
    assert [m.subject for m in reminders_to(inbox, world)] == [reminder_subject(world, visit_id)]


def test_a_reminder_ses_refuses_stays_due_and_the_next_run_sends_it_once(reminding, armed, client, inbox, ses_refuses):
    world = reminding()
    visit_id = world.add_visit("Alex", starts_in=timedelta(hours=2, seconds=2))
    armed(visit_id)
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(now() - timedelta(minutes=1))).save()
    time.sleep(3)  # the reminder falls due (2 hours before the start)
    signing.forget_keys()  # a new container: the links' keys are read from Secrets Manager first
    ses_refuses[world.email_of("Alex")] = 1  # throttled once

    first = client.lambda_.invoke("send_reminders", scheduled_event()).payload
    assert first["sent"] == 0
    assert reminders_to(inbox, world) == []

    second = client.lambda_.invoke("send_reminders", scheduled_event()).payload
    third = client.lambda_.invoke("send_reminders", scheduled_event()).payload

    assert (second["sent"], third["sent"]) == (1, 0)
    assert [m.subject for m in reminders_to(inbox, world)] == [reminder_subject(world, visit_id)]


def test_a_reminder_refused_for_many_minutes_is_still_sent_once_ses_accepts_it(reminding, armed, inbox, ses_refuses):
    world = reminding()
    visit_id = visit_in(world, 2, minutes=1)
    (reminder,) = armed(visit_id)
    due = times.parse_instant(reminder.due_at)
    ReminderSweep(*reminders.SWEEP_KEY, swept_until=times.format_instant(due - timedelta(minutes=1))).save()
    ses_refuses[world.email_of("Alex")] = 10  # an SES outage of ten minutes

    outcomes = [reminders.send_due(due + timedelta(minutes=minute, seconds=30)) for minute in range(12)]

    assert [(o.sent, o.failed) for o in outcomes] == [(0, 1)] * 10 + [(1, 0), (0, 0)]
    assert [m.subject for m in reminders_to(inbox, world)] == [reminder_subject(world, visit_id)]
