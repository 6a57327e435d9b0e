"""What a patient sees and does on the Scheduling page, in Chromium, against the stack of `make run`."""

import re
import time
import uuid
from datetime import timedelta

import boto3
import pytest
import requests
from playwright.sync_api import expect

from .portal import button, expect_visits_loaded, fill_login, log_in, row, stored_tokens
from .stack import CLINIC_NAME, CLINIC_PHONE, PATIENT_LOGIN, PATIENT_NAME, STAFF_LOGIN

COLUMNS = ["Date", "Start time", "Provider", "Location", "Status"]
NOT_OPEN_MESSAGE = f"This visit can no longer be changed online. Please call the clinic at {CLINIC_PHONE}."
NETWORK_MESSAGE = "Could not reach the clinic's portal. Check your connection and try again."
EXPIRED_MESSAGE = "Your session has expired. Please log in again."
BUSY_MESSAGE = "The portal is busy right now. You are still logged in: please try again in a minute."
NOT_PATIENT_MESSAGE = "This account cannot use the client portal. Please contact the clinic."


def status_of(row_locator):
    return row_locator.locator(".status-text")


def answer_buttons(row_locator):
    """The buttons that answer the visit (every row also has its History toggle)."""
    return row_locator.locator("button[data-action]")


# --- Logging in and out ------------------------------------------------------------------


def test_the_demo_patient_logs_in_and_sees_the_scheduling_page(page):
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    fill_login(page, *PATIENT_LOGIN)

    expect_visits_loaded(page)
    expect(page.locator("#clinic-name")).to_have_text(CLINIC_NAME)
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {PATIENT_NAME}")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_be_hidden()
    tokens = stored_tokens(page)
    assert all(tokens.values()), tokens


def test_a_wrong_password_is_refused_in_words(page):
    page.goto("/")

    fill_login(page, PATIENT_LOGIN[0], "Not-The-Password-1!")

    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
    expect(page.get_by_role("heading", name="Scheduling")).to_be_hidden()


def test_an_invited_patient_chooses_a_new_password_first(page, stack, staff):
    email = f"jamie.{uuid.uuid4().hex[:8]}@demo-clinic.example"
    staff.call("POST", "/clinic/patients", {"name": "Jamie Ortiz", "email": email}, expect=201)
    # Cognito's invitation email carries a temporary password; set a known one in the emulator instead.
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    pool_id = next(
        pool["Id"] for pool in cognito.list_user_pools(MaxResults=10)["UserPools"] if pool["Name"].endswith("-patients")
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password="Temporary-Pass-2026!", Permanent=False
    )
    page.goto("/")

    fill_login(page, email, "Temporary-Pass-2026!")
    page.get_by_label("New password").fill("Jamie-Chose-This-2026!")
    page.get_by_role("button", name="Set password").click()

    expect(page.locator("#signed-in-as")).to_have_text("Signed in as Jamie Ortiz")
    expect(page.locator("#visits-summary")).to_have_text("No visits in this date range.")


def test_log_out_clears_the_session(logged_in):
    page = logged_in

    page.get_by_role("button", name="Log out").click()

    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    assert not any(stored_tokens(page).values())
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.locator("tr[data-visit-id]")).to_have_count(0)


# --- The visit tables ----------------------------------------------------------------------


def test_the_tables_show_every_status_in_words_with_only_the_offered_actions(logged_in):
    page = logged_in
    upcoming, past = page.locator("#upcoming-table"), page.locator("#past-table")

    for table in (upcoming, past):
        expect(table.locator("thead th")).to_have_text(COLUMNS)
    expect(upcoming.locator("caption")).to_have_text("Upcoming visits")
    expect(past.locator("caption")).to_have_text("Past visits")

    # Upcoming: the three open statuses, each with its buttons.
    awaiting = upcoming.locator('tr[data-status="awaiting_response"]')
    expect(awaiting.first).to_be_visible()
    for visit_row in awaiting.all():
        expect(status_of(visit_row)).to_have_text("Awaiting your response")
        expect(visit_row.get_by_role("button")).to_have_text(["Confirm", "Cancel", "History"])
    for status, words in (("patient_confirmed", "Patient confirmed"), ("pending_cancel", "Pending cancel")):
        visit_row = upcoming.locator(f'tr[data-status="{status}"]').first
        expect(status_of(visit_row)).to_have_text(words)
        expect(visit_row.get_by_role("button")).to_have_text(["Change", "History"])
        assert "button--link" in button(visit_row, "Change").get_attribute("class")

    # Past: completed and cancelled, marked as past, with nothing to answer (only their history).
    for status, words in (("completed", "Completed"), ("cancelled", "Cancelled")):
        visit_row = past.locator(f'tr[data-status="{status}"]').first
        expect(status_of(visit_row)).to_have_text(words)
        expect(visit_row).to_have_class(re.compile(r"\bis-past\b"))
        expect(visit_row.get_by_role("button")).to_have_text(["History"])
    expect(upcoming.locator("tr.is-past")).to_have_count(0)

    # A demo visit reads as a patient would say it.
    first = upcoming.locator('tr[data-status="patient_confirmed"]').first
    expect(first.locator("td")).to_have_text(
        [
            re.compile(r"^[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, \d{4}$"),
            re.compile(r"^2:00\sPM$"),  # the clinic's 14:00, as US patients write it
            "Jordan Lee, LMFT",
            "Telehealth (video)",
            re.compile("^Patient confirmed"),
        ]
    )


def test_the_range_starts_at_the_apis_default_and_can_be_changed(logged_in, staff):
    page = logged_in
    today = staff.today()
    expect(page.get_by_label("From")).to_have_value((today - timedelta(days=30)).isoformat())
    expect(page.get_by_label("To")).to_have_value((today + timedelta(days=90)).isoformat())
    start, end = (today + timedelta(days=1)).isoformat(), (today + timedelta(days=13)).isoformat()

    page.get_by_label("From").fill(start)
    page.get_by_label("To").fill(end)
    page.get_by_role("button", name="Show visits").click()

    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"^\d+ upcoming visits? and 0 past visits"))
    dates = page.locator("tr[data-visit-id]").evaluate_all("(rows) => rows.map((r) => r.dataset.date)")
    assert dates and all(start <= day <= end for day in dates), dates
    expect(page.get_by_text("No past visits in this date range.")).to_be_visible()
    expect(page.get_by_label("From")).to_have_value(start)
    expect(page.get_by_label("To")).to_have_value(end)


def test_a_reversed_range_is_explained_in_words(logged_in, staff):
    page = logged_in
    today = staff.today()

    page.get_by_label("From").fill((today + timedelta(days=10)).isoformat())
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_role("button", name="Show visits").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text(re.compile(r"later than"))
    expect(alert).not_to_have_text(re.compile(r"[{}]|Code"))
    expect(page.locator("tr[data-visit-id]").first).to_be_visible()  # the list on screen stays


# --- Confirm, cancel, change ----------------------------------------------------------------


def test_confirm(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)
    expect(status_of(visit_row)).to_have_text("Awaiting your response")

    button(visit_row, "Confirm").click()

    expect(visit_row).to_have_attribute("data-status", "patient_confirmed")
    expect(status_of(visit_row)).to_have_text("Patient confirmed")
    expect(answer_buttons(visit_row)).to_have_text(["Change"])
    expect(button(visit_row, "Change")).to_be_focused()
    assert staff.visit(visit)["patient_response"] == "CLIENT_CONFIRMED"


def test_cancel_sends_the_request_and_shows_the_clinics_notice(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)

    button(visit_row, "Cancel").click()
    dialog = page.get_by_role("dialog", name="Cancel this visit?")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason (optional)").fill("Away for work that week.")
    button(dialog, "Send cancellation request").click()

    expect(dialog).to_be_hidden()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(staff.settings["cancel_notice"])
    expect(alert).to_contain_text("still your responsibility to call the clinic")
    expect(alert).to_have_attribute("data-kind", "notice")
    expect(status_of(visit_row)).to_have_text("Pending cancel")
    expect(answer_buttons(visit_row)).to_have_text(["Change"])
    stored = staff.visit(visit)
    assert (stored["patient_response"], stored["cancel_reason"]) == ("CLIENT_CANCELLED", "Away for work that week.")


def test_keep_visit_closes_the_dialog_and_changes_nothing(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)

    button(visit_row, "Cancel").click()
    button(page, "Keep visit").click()

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(button(visit_row, "Cancel")).to_be_focused()
    expect(status_of(visit_row)).to_have_text("Awaiting your response")
    assert staff.visit(visit)["patient_response"] is None


def confirm_in_page(page, visit_row):
    button(visit_row, "Confirm").click()
    expect(status_of(visit_row)).to_have_text("Patient confirmed")


def cancel_in_page(page, visit_row):
    button(visit_row, "Cancel").click()
    button(page.get_by_role("dialog"), "Send cancellation request").click()
    expect(status_of(visit_row)).to_have_text("Pending cancel")


@pytest.mark.parametrize("answer", [confirm_in_page, cancel_in_page], ids=["confirmed", "cancelled"])
def test_change_removes_the_answer_and_brings_the_buttons_back(page, new_visit, staff, answer):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)
    answer(page, visit_row)

    button(visit_row, "Change").click()

    expect(status_of(visit_row)).to_have_text("Awaiting your response")
    expect(answer_buttons(visit_row)).to_have_text(["Confirm", "Cancel"])
    expect(button(visit_row, "Confirm")).to_be_focused()
    assert staff.visit(visit)["patient_response"] is None


def test_a_reload_keeps_the_patient_logged_in_and_the_answers(page, new_visit):
    visit = new_visit()
    log_in(page)
    confirm_in_page(page, row(page, visit))
    tokens = stored_tokens(page)

    page.reload()

    expect_visits_loaded(page)
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {PATIENT_NAME}")
    expect(page.get_by_label("Email", exact=True)).to_be_hidden()
    expect(status_of(row(page, visit))).to_have_text("Patient confirmed")
    assert stored_tokens(page) == tokens


# --- Errors in words ------------------------------------------------------------------------


def test_a_visit_closed_by_the_clinic_meanwhile_says_to_call_the_clinic(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)
    expect(button(visit_row, "Confirm")).to_be_visible()
    staff.change_visit(visit["id"], session_class="Cancelled by clinic")

    button(visit_row, "Confirm").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text(NOT_OPEN_MESSAGE)
    expect(alert).to_have_attribute("data-kind", "error")
    # The list is reloaded: the visit shows as cancelled, still among the upcoming ones (its date
    # has not passed), without buttons.
    expect(page.locator("#upcoming-table").locator(f'tr[data-visit-id="{visit["id"]}"]')).to_have_attribute(
        "data-status", "cancelled"
    )
    expect(status_of(visit_row)).to_have_text("Cancelled")
    expect(answer_buttons(visit_row)).to_have_count(0)


def test_cancel_when_the_clinic_takes_cancellations_by_phone_says_so(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)
    staff.change_settings(patient_cancel_enabled=False)
    try:
        button(visit_row, "Cancel").click()
        button(page.get_by_role("dialog"), "Send cancellation request").click()

        expect(page.get_by_role("alert")).to_have_text(
            f"The clinic takes cancellations by phone. Please call {CLINIC_PHONE}."
        )
        # The list is reloaded without the Cancel buttons the clinic no longer offers.
        expect(answer_buttons(visit_row)).to_have_text(["Confirm"])
    finally:
        staff.change_settings(patient_cancel_enabled=True)
    assert staff.visit(visit)["patient_response"] is None


def test_network_trouble_says_so_and_keeps_the_list(logged_in):
    page = logged_in
    rows_before = page.locator("tr[data-visit-id]").count()
    page.route("**/portal/sessions?*", lambda route: route.abort("internetdisconnected"))

    page.get_by_role("button", name="Show visits").click()

    expect(page.get_by_role("alert")).to_have_text(NETWORK_MESSAGE)
    expect(page.locator("tr[data-visit-id]")).to_have_count(rows_before)
    expect(page.get_by_role("button", name="Show visits")).to_be_enabled()


def test_an_action_without_network_says_so(page, new_visit):
    visit = new_visit()
    log_in(page)
    visit_row = row(page, visit)
    page.route("**/response", lambda route: route.abort("internetdisconnected"))

    button(visit_row, "Confirm").click()

    expect(page.get_by_role("alert")).to_have_text(NETWORK_MESSAGE)
    expect(status_of(visit_row)).to_have_text("Awaiting your response")
    expect(button(visit_row, "Confirm")).to_be_enabled()


# --- Sessions that run out -----------------------------------------------------------------


def test_an_expired_id_token_is_refreshed_without_asking_the_patient(logged_in):
    page = logged_in
    page.evaluate("sessionStorage.setItem('portal.expires_at', '1')")

    with page.expect_response("**/auth/refresh") as refresh:
        page.reload()

    assert refresh.value.status == 200
    expect_visits_loaded(page)
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {PATIENT_NAME}")
    assert int(stored_tokens(page)["portal.expires_at"]) > 1


def test_a_session_that_cannot_be_refreshed_returns_to_the_login_form_with_a_message(logged_in):
    page = logged_in
    page.evaluate("""() => {
        sessionStorage.setItem('portal.id_token', 'no-longer-valid');
        sessionStorage.setItem('portal.refresh_token', 'no-longer-valid');
    }""")

    page.reload()

    expect(page.get_by_role("alert")).to_have_text(EXPIRED_MESSAGE)
    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Scheduling")).to_be_hidden()
    assert not any(stored_tokens(page).values())


def test_a_refresh_the_api_cannot_answer_now_keeps_the_patient_logged_in_with_a_retry_message(logged_in):
    page = logged_in
    tokens = stored_tokens(page)
    page.evaluate("sessionStorage.setItem('portal.expires_at', '1')")
    page.route("**/auth/refresh", lambda route: route.fulfill(status=503, content_type="application/json", body="{}"))

    page.get_by_role("button", name="Show visits").click()

    expect(page.get_by_role("alert")).to_have_text(BUSY_MESSAGE)
    expect(page.get_by_role("heading", name="Scheduling")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    after = stored_tokens(page)
    assert (after["portal.id_token"], after["portal.refresh_token"]) == (
        tokens["portal.id_token"],
        tokens["portal.refresh_token"],
    )

    page.unroute("**/auth/refresh")  # the API answers again: the next try just works
    page.get_by_role("button", name="Show visits").click()
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"visits? in this date range"))


@pytest.mark.parametrize("status", [429, 500])
def test_too_many_requests_or_a_server_error_on_refresh_is_not_a_log_out(logged_in, status):
    page = logged_in
    page.evaluate("sessionStorage.setItem('portal.expires_at', '1')")
    page.route(
        "**/auth/refresh", lambda route: route.fulfill(status=status, content_type="application/json", body="{}")
    )

    page.reload()

    expect(page.get_by_role("alert")).to_have_text(BUSY_MESSAGE)
    expect(page.get_by_label("Email", exact=True)).to_be_hidden()
    assert stored_tokens(page)["portal.refresh_token"]


def test_log_out_revokes_the_refresh_token(logged_in, stack):
    page = logged_in
    refresh_token = stored_tokens(page)["portal.refresh_token"]

    with page.expect_request("**/auth/logout") as logout:
        page.get_by_role("button", name="Log out").click()

    assert logout.value.post_data_json == {"refresh_token": refresh_token}
    assert logout.value.response().status == 204
    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    refused = requests.post(f"{stack.url}/auth/refresh", json={"refresh_token": refresh_token}, timeout=10)
    assert refused.status_code == 401


def test_log_out_still_logs_out_when_the_api_cannot_be_reached(logged_in):
    page = logged_in
    page.route("**/auth/logout", lambda route: route.abort("internetdisconnected"))

    page.get_by_role("button", name="Log out").click()

    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    assert not any(stored_tokens(page).values())


def test_a_staff_login_on_the_patients_page_is_told_it_is_not_a_patient_account(page):
    page.goto("/")

    fill_login(page, *STAFF_LOGIN)

    expect(page.get_by_role("alert")).to_have_text(NOT_PATIENT_MESSAGE)
    expect(page.get_by_role("heading", name="Scheduling")).to_be_hidden()


# --- Messages the patient must not miss -------------------------------------------------------


def test_on_a_phone_the_cancel_notice_comes_into_view_after_cancelling_a_visit_far_down(page, new_visit):
    visit = new_visit()
    page.set_viewport_size({"width": 375, "height": 812})
    log_in(page)
    visit_row = row(page, visit)

    button(visit_row, "Cancel").click()
    button(page.get_by_role("dialog"), "Send cancellation request").click()

    expect(status_of(visit_row)).to_have_text("Pending cancel")
    expect(page.get_by_role("alert")).to_be_in_viewport()
    expect(button(visit_row, "Change")).to_be_focused()


def test_on_a_phone_the_409_message_comes_into_view(page, new_visit, staff):
    visit = new_visit()
    page.set_viewport_size({"width": 375, "height": 812})
    log_in(page)
    staff.change_visit(visit["id"], session_class="Cancelled by clinic")

    button(row(page, visit), "Confirm").click()

    expect(page.get_by_role("alert")).to_have_text(NOT_OPEN_MESSAGE)
    expect(status_of(row(page, visit))).to_have_text("Cancelled")
    expect(page.get_by_role("alert")).to_be_in_viewport()


# --- History ------------------------------------------------------------------------------


def wait_for_history(staff, visit, events: int, timeout: float = 30) -> None:
    """The history is written from the visits stream: it appears within seconds, not at once."""
    deadline = time.monotonic() + timeout
    while len(staff.call("GET", f"/clinic/sessions/{visit['id']}/history")["events"]) < events:
        assert time.monotonic() < deadline, "the stream function did not record the change in time"
        time.sleep(0.2)


def test_a_visits_history_opens_under_it_and_tells_what_happened_in_words(page, new_visit, staff):
    visit = new_visit()
    log_in(page)
    button(row(page, visit), "Confirm").click()
    expect(button(row(page, visit), "Change")).to_be_visible()
    wait_for_history(staff, visit, events=2)

    toggle = button(row(page, visit), "History")
    toggle.click()

    expect(toggle).to_have_attribute("aria-expanded", "true")
    history = page.get_by_role("region", name=re.compile("^History of the visit on"))
    moment = r"[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, \d{4} · \d{1,2}:\d{2}\s[AP]M"
    expect(history.get_by_role("listitem")).to_have_text(
        [
            re.compile(rf"^The clinic scheduled this visit on {moment}\.$"),
            re.compile(rf"^You confirmed on {moment}\.$"),
        ]
    )
    expect(toggle).to_be_focused()

    toggle.click()

    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(history).to_have_count(0)


def test_an_open_history_stays_open_and_is_brought_up_to_date_after_an_answer(page, new_visit, staff):
    visit = new_visit()
    wait_for_history(staff, visit, events=1)  # "scheduled", from the stream: seconds late on a busy machine
    log_in(page)
    button(row(page, visit), "History").click()
    history = page.get_by_role("region", name=re.compile("^History of the visit on"))
    expect(history.get_by_role("listitem")).to_have_count(1)

    button(row(page, visit), "Confirm").click()
    expect(button(row(page, visit), "Change")).to_be_visible()
    wait_for_history(staff, visit, events=2)
    button(row(page, visit), "Change").click()

    expect(button(row(page, visit), "History")).to_have_attribute("aria-expanded", "true")
    expect(history.get_by_role("listitem").nth(1)).to_have_text(re.compile("^You confirmed on "))
