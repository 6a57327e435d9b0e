"""A person who is a patient of two clinics (the demo's Riley Brooks) chooses one after logging in,
sees only that clinic's visits, keeps the choice for the session and can switch; a person of one
clinic never sees the choice."""

from playwright.sync_api import Page, expect

from local import demo

from .portal import expect_visits_loaded, fill_login
from .stack import CLINIC_NAME, PATIENT_LOGIN
from .test_accessibility import AXE, axe_violations

RILEY = (demo.RILEY_EMAIL, demo.PATIENT_PASSWORD)
DEMO_PROVIDER, NORTHSIDE_PROVIDER = demo.PATEL, demo.OKAFOR


def choose(page: Page, clinic_name: str) -> None:
    expect(page.get_by_role("heading", name="Choose a clinic", level=1)).to_be_visible()
    page.get_by_role("button", name=clinic_name, exact=True).click()
    expect_visits_loaded(page)


def providers(page: Page) -> set[str]:
    return set(page.locator("#upcoming-table tbody tr[data-visit-id] td:nth-child(3)").all_inner_texts())


def test_a_person_of_two_clinics_chooses_one_by_name_and_sees_its_visits_only(page):
    page.goto("/")
    fill_login(page, *RILEY)

    expect(page.get_by_role("heading", name="Choose a clinic", level=1)).to_be_focused()
    expect(page.locator("#clinic-list button")).to_have_text([CLINIC_NAME, demo.NORTHSIDE_NAME])
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("button", name="Switch clinic")).to_be_hidden()

    choose(page, demo.NORTHSIDE_NAME)

    expect(page.locator("#clinic-name")).to_have_text(demo.NORTHSIDE_NAME)
    expect(page.locator("#signed-in-as")).to_have_text("Signed in as Riley Brooks")
    expect(page.locator("#timezone-note")).to_contain_text("America/Chicago")
    assert providers(page) == {NORTHSIDE_PROVIDER}


def test_the_choice_survives_a_reload_and_switch_clinic_chooses_again(page):
    page.goto("/")
    fill_login(page, *RILEY)
    choose(page, CLINIC_NAME)
    assert providers(page) == {DEMO_PROVIDER}

    page.reload()
    expect_visits_loaded(page)
    expect(page.locator("#clinic-name")).to_have_text(CLINIC_NAME)
    assert providers(page) == {DEMO_PROVIDER}

    page.get_by_role("button", name="Switch clinic").click()
    choose(page, demo.NORTHSIDE_NAME)
    expect(page.locator("#clinic-name")).to_have_text(demo.NORTHSIDE_NAME)
    assert providers(page) == {NORTHSIDE_PROVIDER}


def test_log_out_forgets_the_choice(page):
    page.goto("/")
    fill_login(page, *RILEY)
    choose(page, demo.NORTHSIDE_NAME)

    page.get_by_role("button", name="Log out").click()
    fill_login(page, *RILEY)

    expect(page.get_by_role("heading", name="Choose a clinic", level=1)).to_be_visible()


def test_a_person_of_one_clinic_never_sees_the_choice(page):
    page.goto("/")
    fill_login(page, *PATIENT_LOGIN)

    expect_visits_loaded(page)
    expect(page.get_by_role("button", name="Switch clinic")).to_be_hidden()
    expect(page.locator("#clinic-view")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('portal.clinic_id')") is None


def test_the_choice_meets_wcag_aa_and_works_by_keyboard(page):
    axe_source = AXE.read_text(encoding="utf-8")
    page.goto("/")
    fill_login(page, *RILEY)
    expect(page.get_by_role("heading", name="Choose a clinic", level=1)).to_be_focused()
    assert axe_violations(page, axe_source) == []

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=CLINIC_NAME, exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    expect_visits_loaded(page)
    expect(page.locator("#clinic-name")).to_have_text(CLINIC_NAME)
    assert axe_violations(page, axe_source) == []
