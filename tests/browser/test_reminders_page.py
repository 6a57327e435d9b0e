"""Reminders end to end, in Chromium against the stack of `make run`: the patient's reminder
choice on the Scheduling page, and a real reminder email whose links answer the visit."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from .portal import button, log_in, row
from .stack import PATIENT_LOGIN, reminder_for


def reminders_box(page):
    return page.get_by_label("Email me a reminder before each visit")


def test_the_reminder_choice_is_saved_and_stays_after_a_reload(page):
    log_in(page)
    box = reminders_box(page)
    expect(box).to_be_checked()  # on unless the patient turned it off

    box.uncheck()
    expect(page.locator("#reminders-status")).to_have_text("Saved: you will not get reminder emails.")
    page.reload()
    expect(reminders_box(page)).to_be_enabled()
    expect(reminders_box(page)).not_to_be_checked()

    reminders_box(page).check()
    expect(page.locator("#reminders-status")).to_have_text("Saved: you will get reminder emails.")
    page.reload()
    expect(reminders_box(page)).to_be_enabled()
    expect(reminders_box(page)).to_be_checked()


@pytest.fixture(scope="module")
def reminded(staff):
    """Two visits whose reminders fall due within the minute (the demo clinic reminds 2 hours
    before; these start just over 2 hours from now), made together so that the waits overlap."""
    starts_at = (datetime.now(UTC) + timedelta(hours=2, seconds=70)).replace(second=0, microsecond=0)
    return {
        "answered": staff.add_visit_starting(starts_at),
        "moved": staff.add_visit_starting(starts_at, provider="Dr. Lee Okafor"),
    }


def link_named(message, name: str) -> str:
    html = message.get_body(("html",)).get_content()
    match = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(name)}</a>', html)
    assert match, f"no {name!r} link in:\n{html}"
    return match.group(1).replace("&amp;", "&")


def test_a_reminder_link_answers_the_visit_only_when_the_patient_clicks(page, stack, staff, reminded):
    visit = reminded["answered"]

    reminder = reminder_for(stack, visit, PATIENT_LOGIN[0])
    assert reminder["Subject"].startswith("Reminder: your appointment on ")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    confirm_link = link_named(reminder, "Confirm")

    # Opening the link (as an email scanner would) changes nothing.
    page.goto(confirm_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your appointment at Demo Family Therapy")
    expect(page.locator(".details")).to_contain_text("Awaiting your answer")
    assert staff.visit(visit)["status"] == "awaiting_response"

    button(page, "Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your appointment is confirmed.")
    expect(page.locator(".details")).to_contain_text("You confirmed")
    assert staff.visit(visit)["status"] == "patient_confirmed"

    button(page, "Change my answer").click()
    expect(page.get_by_role("status")).to_have_text("Your answer was removed. You can answer again below.")
    assert staff.visit(visit)["status"] == "awaiting_response"

    # The portal shows the visit as the link left it.
    log_in(page)
    expect(row(page, visit)).to_have_attribute("data-status", "awaiting_response")


def test_a_moved_visits_old_reminder_link_says_so_and_changes_nothing(page, stack, staff, reminded):
    visit = reminded["moved"]
    confirm_link = link_named(reminder_for(stack, visit, PATIENT_LOGIN[0]), "Confirm")
    moved_to = staff.today() + timedelta(days=3)
    staff.change_visit(visit["id"], date=moved_to.isoformat())

    page.goto(confirm_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(button(page, "Confirm")).to_have_count(0)
    assert staff.visit({**visit, "date": moved_to.isoformat()})["status"] == "awaiting_response"
