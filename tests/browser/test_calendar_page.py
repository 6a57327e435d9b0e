"""Calendars on the Scheduling page, in Chromium against the stack of `make run`: "Add to calendar"
saves the visit's file, and the Calendar feed section gets, copies and stops an address."""

import re
from pathlib import Path

import requests
from playwright.sync_api import expect

from tests.calendars import parse

from .portal import axe_violations, log_in, row
from .stack import PATIENT_LOGIN
from .test_accessibility import PHONE, focused, tab_to

FEED_URL = re.compile(r"^http://127\.0\.0\.1:\d+/cal/[A-Za-z0-9_-]{43}\.ics$")
DOMAIN = "demo-clinic.example"  # of the demo's sender address


def add_to_calendar(scope):
    return scope.get_by_role("link", name="Add to calendar", exact=True)


def feed_section(page):
    return page.get_by_role("region", name="Calendar feed")


def get_address(page) -> str:
    field = page.get_by_label("Feed address")
    before = field.input_value()
    feed_section(page).get_by_role("button", name=re.compile(r"^Get (feed|a new) address$")).click()
    if before:
        expect(field).not_to_have_value(before)
    expect(field).to_have_value(FEED_URL)
    return field.input_value()


def feed_status(url: str) -> int:
    return requests.get(url, timeout=10).status_code


# --- Add to calendar -------------------------------------------------------------------------


def test_add_to_calendar_saves_the_visits_own_file(page, new_visit):
    visit = new_visit(start_time="16:45", location="Room 3; 120 Main St, Suite B")
    log_in(page)

    with page.expect_download() as download:
        add_to_calendar(row(page, visit)).click()

    assert download.value.suggested_filename == f"appointment-{visit['date']}.ics"
    calendar = parse(Path(download.value.path()).read_bytes())
    event = calendar.event(f"{visit['id']}@{DOMAIN}")
    assert event.location == "Room 3; 120 Main St, Suite B"
    assert event.summary == "Appointment – Demo Family Therapy"
    assert event.status == "CONFIRMED"


def test_only_upcoming_visits_that_still_take_place_offer_add_to_calendar(page, new_visit, staff):
    cancelled = new_visit()
    staff.change_visit(cancelled["id"], session_class="Cancelled by clinic")
    log_in(page)

    for status in ("awaiting_response", "patient_confirmed", "pending_cancel"):
        expect(add_to_calendar(page.locator(f'#upcoming-table tr[data-status="{status}"]').first)).to_be_visible()
    expect(add_to_calendar(row(page, cancelled))).to_have_count(0)
    expect(add_to_calendar(page.locator("#past-table"))).to_have_count(0)
    # Named for what it does, described by the visit's date and time, like the visit's buttons.
    link = add_to_calendar(page.locator('#upcoming-table tr[data-status="awaiting_response"]').first)
    expect(link).to_have_accessible_description(re.compile(r"^\w{3}, \w{3} \d{1,2}, \d{4} \d{1,2}:\d{2}\s[AP]M$"))


def test_a_keyboard_alone_saves_a_calendar_file(page, new_visit):
    visit = new_visit()
    log_in(page)
    row(page, visit).locator("td").first.click()  # where the keyboard starts (the list may be long)

    stops = tab_to(page, lambda f: f["visit"] == visit["id"] and f["text"] == "Add to calendar")

    assert stops[-1]["focusVisible"] and stops[-1]["ring"]
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"appointment-{visit['date']}.ics"


# --- The calendar feed -----------------------------------------------------------------------


def test_the_feed_section_says_who_can_see_what(logged_in):
    section = feed_section(logged_in)
    expect(section.get_by_role("heading", name="Calendar feed")).to_be_visible()
    expect(section).to_contain_text("Anyone who has it can see when and where your appointments are")
    expect(section).to_contain_text("nothing else about your visits")
    expect(section).to_contain_text("stop sharing")


def test_get_copy_and_stop_sharing_a_feed_address(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page)
    section = feed_section(page)

    url = get_address(page)

    expect(page.get_by_label("Feed address")).to_be_focused()
    expect(section.get_by_role("status")).to_have_text(
        "Your new feed address is ready. Copy it into your calendar app."
    )
    response = requests.get(url, timeout=10)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/calendar; charset=utf-8")
    assert parse(response.content).events

    section.get_by_role("button", name="Copy address").click()

    expect(section.get_by_role("status")).to_have_text("Address copied. Paste it into your calendar app.")
    assert page.evaluate("navigator.clipboard.readText()") == url

    section.get_by_role("button", name="Stop sharing").click()

    expect(section.get_by_role("status")).to_contain_text("Sharing stopped.")
    expect(page.get_by_label("Feed address")).to_be_hidden()
    expect(section.get_by_role("button", name="Copy address")).to_be_hidden()
    expect(section.get_by_role("button", name="Get feed address")).to_be_focused()
    assert feed_status(url) == 404


def test_without_a_clipboard_the_address_is_selected_to_copy_by_hand(page):
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    log_in(page)
    url = get_address(page)

    feed_section(page).get_by_role("button", name="Copy address").click()

    field = page.get_by_label("Feed address")
    expect(field).to_be_focused()
    assert field.evaluate("(f) => f.value.slice(f.selectionStart, f.selectionEnd)") == url
    expect(feed_section(page).get_by_role("status")).to_contain_text("press Ctrl+C")


def test_a_new_address_replaces_the_old_one(logged_in):
    page = logged_in
    old = get_address(page)

    new = get_address(page)

    assert new != old
    assert (feed_status(old), feed_status(new)) == (404, 200)
    feed_section(page).get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_label("Feed address")).to_be_hidden()


def test_log_out_forgets_the_address_on_the_page(logged_in):
    page = logged_in
    url = get_address(page)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()  # the session is over
    log_in(page, *PATIENT_LOGIN)

    expect(page.get_by_label("Feed address")).to_be_hidden()
    assert page.get_by_label("Feed address").input_value() == ""
    assert url not in page.content()
    feed_section(page).get_by_role("button", name="Stop sharing").click()
    expect(feed_section(page).get_by_role("status")).to_contain_text("Sharing stopped.")


# --- For everyone -----------------------------------------------------------------------------


def test_the_feed_section_meets_wcag_aa_on_a_phone_and_fits_it(page, axe_source):
    page.set_viewport_size(PHONE)
    log_in(page)
    get_address(page)

    assert axe_violations(page, axe_source) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for name in ("Get a new address", "Copy address", "Stop sharing"):
        box = feed_section(page).get_by_role("button", name=name).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
        assert box["height"] >= 24, (name, box)
    feed_section(page).get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_label("Feed address")).to_be_hidden()


def test_a_keyboard_alone_gets_and_stops_a_feed_address(logged_in):
    page = logged_in
    page.get_by_role("heading", name="Calendar feed").click()  # where the keyboard starts

    tab_to(page, lambda f: f["id"] == "feed-create")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Feed address")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Copy address"
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "feed-stop" and focused(page)["ring"]
    page.keyboard.press("Enter")

    expect(page.get_by_label("Feed address")).to_be_hidden()
    expect(page.get_by_role("button", name="Get feed address")).to_be_focused()
