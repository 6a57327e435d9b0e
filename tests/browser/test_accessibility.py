"""The page for everyone: WCAG A/AA rules (axe-core), names, keyboard only, visible focus, a phone."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import AXE  # noqa: F401 (other test modules take it from here)
from .portal import axe_violations, button, expect_visits_loaded, log_in, row
from .stack import PATIENT_LOGIN

PHONE = {"width": 375, "height": 812}
# Roles a person operates; each needs a name that says what it does.
WIDGET_ROLES = {
    "button",
    "link",
    "textbox",
    "searchbox",
    "Date",
    "DateTime",
    "InputTime",
    "spinbutton",
    "combobox",
    "listbox",
    "checkbox",
    "radio",
    "switch",
    "slider",
    "tab",
    "menuitem",
    "option",
}


def unnamed_controls(page) -> list:
    """Controls in the accessibility tree (what a screen reader gets) that have no name."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    cdp.detach()
    return [
        node
        for node in nodes
        if not node.get("ignored")
        and node.get("role", {}).get("value") in WIDGET_ROLES
        and not str(node.get("name", {}).get("value", "")).strip()
    ]


def focused(page) -> dict:
    """What has keyboard focus, and how the focus ring looks."""
    return page.evaluate("""() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return {
            tag: el.tagName.toLowerCase(), id: el.id, action: el.dataset.action || null,
            visit: el.closest('tr')?.dataset.visitId || null, text: el.textContent.trim(),
            focusVisible: el.matches(':focus-visible'),
            // Focus inside a date input's own calendar button: Chromium draws that ring itself.
            datePicker: el.type === 'date' && !el.matches(':focus'),
            outline: `${style.outlineStyle} ${style.outlineWidth}`,
            ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        };
    }""")


def tab_to(page, wanted, limit: int = 80) -> list:
    """Presses Tab until `wanted(focus)` holds; returns every stop on the way."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(focused(page))
        if wanted(stops[-1]):
            return stops
    raise AssertionError(f"Tab never reached the control; it went through {stops}")


# --- WCAG rules, by axe-core -------------------------------------------------------------


def test_the_login_form_meets_wcag_aa(page, axe_source):
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert axe_violations(page, axe_source) == []

    page.get_by_label("Email", exact=True).fill(PATIENT_LOGIN[0])
    page.get_by_label("Password", exact=True).fill("Not-The-Password-1!")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    assert axe_violations(page, axe_source) == []


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_the_scheduling_page_meets_wcag_aa(page, new_visit, axe_source, viewport):
    visit = new_visit()
    page.set_viewport_size(viewport)
    log_in(page)
    assert axe_violations(page, axe_source) == []

    button(row(page, visit), "Cancel").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert axe_violations(page, axe_source) == []

    button(page, "Send cancellation request").click()
    expect(page.get_by_role("alert")).to_have_attribute("data-kind", "notice")
    assert axe_violations(page, axe_source) == []


# --- Names, keyboard, focus ----------------------------------------------------------------


def test_every_control_has_an_accessible_name(page, new_visit):
    visit = new_visit()
    page.goto("/")
    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    assert unnamed_controls(page) == []

    log_in(page)
    assert unnamed_controls(page) == []
    # Each visit button is named exactly for what it does; its visit is its description.
    confirm = button(row(page, visit), "Confirm")
    expect(confirm).to_have_accessible_name("Confirm")
    expect(confirm).to_have_accessible_description(re.compile(r"^\w{3}, \w{3} \d{1,2}, \d{4} 4:45\sPM$"))

    button(row(page, visit), "Cancel").click()
    expect(page.get_by_role("dialog", name="Cancel this visit?")).to_be_visible()
    assert unnamed_controls(page) == []


def test_a_keyboard_alone_logs_in_confirms_changes_and_cancels_with_the_focus_always_visible(page, new_visit, staff):
    visit = new_visit()
    page.goto("/")
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    page.keyboard.type(PATIENT_LOGIN[0])
    page.keyboard.press("Tab")
    page.keyboard.type(PATIENT_LOGIN[1])
    page.keyboard.press("Enter")
    expect_visits_loaded(page)
    expect(page.get_by_role("heading", name="Scheduling", level=1)).to_be_focused()

    stops = tab_to(page, lambda f: f["visit"] == visit["id"] and f["action"] == "confirm")
    unringed = [stop for stop in stops if not (stop["focusVisible"] and stop["ring"] or stop["datePicker"])]
    assert unringed == [], "focus must be visible at every Tab stop"
    assert {"range-from", "range-to", "show-visits"} <= {stop["id"] for stop in stops}

    page.keyboard.press("Enter")
    expect(row(page, visit)).to_have_attribute("data-status", "patient_confirmed")
    expect(button(row(page, visit), "Change")).to_be_focused()
    assert focused(page)["ring"]

    page.keyboard.press("Enter")
    expect(row(page, visit)).to_have_attribute("data-status", "awaiting_response")
    expect(button(row(page, visit), "Confirm")).to_be_focused()

    page.keyboard.press("Tab")
    expect(button(row(page, visit), "Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Cancel this visit?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button(row(page, visit), "Cancel")).to_be_focused()

    page.keyboard.press("Enter")
    expect(dialog.get_by_label("Reason (optional)")).to_be_focused()
    page.keyboard.type("Keyboard only.")
    page.keyboard.press("Tab")
    expect(button(dialog, "Send cancellation request")).to_be_focused()
    assert focused(page)["ring"]
    page.keyboard.press("Enter")
    expect(row(page, visit)).to_have_attribute("data-status", "pending_cancel")
    expect(button(row(page, visit), "Change")).to_be_focused()
    assert staff.visit(visit)["cancel_reason"] == "Keyboard only."


def test_the_skip_link_comes_first_and_shows_when_focused(logged_in):
    page = logged_in
    page.reload()  # the page as it opens, still logged in
    expect_visits_loaded(page)

    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box["y"] >= 0 and focused(page)["ring"], box


# --- A phone ------------------------------------------------------------------------------


def test_the_page_fits_a_phone_screen_375_px_wide(page, new_visit):
    visit = new_visit()
    page.set_viewport_size(PHONE)
    log_in(page)

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    visit_row = row(page, visit)
    visit_row.scroll_into_view_if_needed()
    for control in (
        button(visit_row, "Confirm"),
        button(visit_row, "Cancel"),
        page.get_by_role("button", name="Show visits"),
        page.get_by_role("button", name="Log out"),
    ):
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] >= 24 and box["width"] >= 24, box  # WCAG 2.2 target size
    # The column headers are hidden on a phone; each cell carries its own label instead.
    label = visit_row.locator('td[data-label="Provider"]').evaluate(
        "(cell) => getComputedStyle(cell, '::before').content"
    )
    assert label == '"Provider"'
