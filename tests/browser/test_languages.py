"""The page in the patient's language and clock, and a page without surprises: Spanish and English,
the browser's languages before login and the saved preference after, the language switch, times
as each locale writes them, the date range in the address, and nothing moving as the page loads."""

import re
import time
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from .conftest import wording_mistake
from .portal import axe_violations, button, expect_visits_loaded, row
from .stack import ARTIFACTS, PATIENT_LOGIN, PATIENT_NAME

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
# As Intl writes them in Chromium: "mar, 8 dic 2026" and "4:45 p. m." (the spaces may be no-break ones).
SPANISH_DATE = re.compile(r"^[a-zé]{3}, \d{1,2} [a-z]{3,4} \d{4}$")
SPANISH_MOMENT = r"[a-zé]{3}, \d{1,2} [a-z]{3,4} \d{4} · \d{1,2}:\d{2}\s[ap]\.\s?m\."
SPANISH_SUMMARY = re.compile(r"^\d+ citas? próximas? y \d+ citas? pasadas? en estas fechas\.$")


# --- The patient's saved language, through the patient API ----------------------------------


class Patient:
    """The demo patient's own API calls, for setting and reading the saved language."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        response = requests.post(
            f"{base_url}/auth/login", json={"username": PATIENT_LOGIN[0], "password": PATIENT_LOGIN[1]}, timeout=10
        )
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['id_token']}"}

    def preferences(self) -> dict:
        return requests.get(f"{self.base_url}/portal/preferences", headers=self.headers, timeout=10).json()

    def save_language(self, language: str) -> None:
        response = requests.patch(
            f"{self.base_url}/portal/preferences", json={"language": language}, headers=self.headers, timeout=10
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def patient(stack):
    """The demo patient; whatever a test saves, the next test finds English again."""
    patient = Patient(stack.url)
    yield patient
    patient.save_language("en")


@pytest.fixture
def spanish_patient(patient):
    patient.save_language("es")
    return patient


@pytest.fixture
def browser_in(request, browser, stack):
    """Pages of browsers set to a language (navigator.languages and Accept-Language follow it)."""
    contexts, errors = [], []

    def open_page(locale: str, viewport: dict = DESKTOP):
        context = browser.new_context(base_url=stack.url, viewport=viewport, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: wording_mistake(message) and errors.append(message.text))
        return page

    yield open_page
    if getattr(request.node, "failed_in_call", False) and contexts and contexts[-1].pages:
        ARTIFACTS.mkdir(exist_ok=True)
        contexts[-1].pages[-1].screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    for context in contexts:
        context.close()
    assert not errors, f"the page threw: {errors}"


def log_in_in_spanish(page) -> None:
    page.goto("/")
    page.get_by_label("Correo electrónico", exact=True).fill(PATIENT_LOGIN[0])
    page.get_by_label("Contraseña", exact=True).fill(PATIENT_LOGIN[1])
    page.get_by_role("button", name="Iniciar sesión").click()
    expect_spanish_visits(page)


def expect_spanish_visits(page) -> None:
    expect(page.get_by_role("heading", name="Citas", level=1)).to_be_visible()
    expect(page.locator("#visits-summary")).to_have_text(SPANISH_SUMMARY)


# --- Before login: the browser's languages --------------------------------------------------


def test_a_browser_asking_for_spanish_gets_the_login_page_in_spanish(browser_in):
    page = browser_in("es-MX")
    page.goto("/")

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_title("Citas – Portal del paciente")
    expect(page.locator('meta[name="description"]')).to_have_attribute("content", re.compile("^Consulte sus citas"))
    expect(page.get_by_role("heading", name="Bienvenido", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-pressed", "true")

    page.get_by_label("Correo electrónico", exact=True).fill(PATIENT_LOGIN[0])
    page.get_by_label("Contraseña", exact=True).fill("Not-The-Password-1!")
    page.get_by_role("button", name="Iniciar sesión").click()

    # The API's 401 (its Message is English) is worded from its status, in Spanish.
    expect(page.get_by_role("alert")).to_have_text("El correo electrónico o la contraseña no son correctos.")


def test_a_browser_asking_for_a_language_we_lack_gets_english(browser_in):
    page = browser_in("fr-FR")
    page.goto("/")

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Welcome", level=1)).to_be_visible()


def test_the_switch_words_the_login_page_at_once(browser_in):
    page = browser_in("en-US")
    page.goto("/")
    page.get_by_label("Email", exact=True).fill(PATIENT_LOGIN[0])
    page.get_by_label("Password", exact=True).fill("Not-The-Password-1!")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")

    page.get_by_role("button", name="Español").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Bienvenido", level=1)).to_be_visible()
    # What is already said is said again in the new language.
    expect(page.get_by_role("alert")).to_have_text("El correo electrónico o la contraseña no son correctos.")
    expect(page.get_by_label("Correo electrónico", exact=True)).to_have_value(PATIENT_LOGIN[0])


# --- After login: the saved language -------------------------------------------------------


def test_the_switch_saves_the_language_and_the_saved_language_decides_after_login(browser_in, patient):
    page = browser_in("en-US")
    page.goto("/")
    page.get_by_label("Email", exact=True).fill(PATIENT_LOGIN[0])
    page.get_by_label("Password", exact=True).fill(PATIENT_LOGIN[1])
    page.get_by_role("button", name="Log in").click()
    expect_visits_loaded(page)

    page.get_by_role("group", name="Language").get_by_role("button", name="Español").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect_spanish_visits(page)
    expect(page.locator("#signed-in-as")).to_have_text(f"Sesión iniciada como {PATIENT_NAME}")
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    deadline = time.monotonic() + 10
    while patient.preferences()["language"] != "es":
        assert time.monotonic() < deadline, "the switch did not save the language"
        time.sleep(0.2)

    page.reload()
    expect_spanish_visits(page)

    # Another browser, set to English: once logged in, the patient's saved language decides.
    other = browser_in("en-US")
    other.goto("/")
    expect(other.get_by_role("heading", name="Welcome", level=1)).to_be_visible()
    other.get_by_label("Email", exact=True).fill(PATIENT_LOGIN[0])
    other.get_by_label("Password", exact=True).fill(PATIENT_LOGIN[1])
    other.get_by_role("button", name="Log in").click()
    expect_spanish_visits(other)
    expect(other.locator("html")).to_have_attribute("lang", "es")


# --- The whole flow in Spanish ---------------------------------------------------------------


def test_a_patient_confirms_changes_and_cancels_in_spanish(browser_in, spanish_patient, new_visit, staff):
    visit = new_visit(start_time="16:45")
    page = browser_in("es-US")
    log_in_in_spanish(page)
    visit_row = row(page, visit)

    # The visit as the locale writes it, in the clinic's zone, which the page names.
    expect(visit_row.locator("td").nth(0)).to_have_text(SPANISH_DATE)
    expect(visit_row.locator("td").nth(1)).to_have_text(re.compile(r"^4:45\sp\.\sm\.$"))
    expect(page.locator("#timezone-note")).to_contain_text(f"({staff.settings['timezone']})")
    expect(page.locator("#upcoming-table thead th")).to_have_text(
        ["Fecha", "Hora de inicio", "Profesional", "Lugar", "Estado"]
    )
    expect(visit_row.locator(".status-text")).to_have_text("Esperando su respuesta")
    expect(visit_row.get_by_role("link", name="Agregar al calendario")).to_be_visible()

    button(visit_row, "Confirmar").click()
    expect(visit_row.locator(".status-text")).to_have_text("Confirmada por usted")
    expect(button(visit_row, "Cambiar")).to_be_focused()

    button(visit_row, "Cambiar").click()
    expect(visit_row.locator(".status-text")).to_have_text("Esperando su respuesta")

    button(visit_row, "Cancelar").click()
    dialog = page.get_by_role("dialog", name="¿Cancelar esta cita?")
    expect(dialog.locator("#cancel-dialog-visit")).to_have_text(
        re.compile(rf"^{SPANISH_MOMENT} \(.+\) — Dr\. Maya Patel, Room 3, 120 Main St$")
    )
    dialog.get_by_label("Motivo (opcional)").fill("Viaje de trabajo.")
    button(dialog, "Enviar solicitud de cancelación").click()

    expect(page.get_by_role("alert")).to_have_text(re.compile("^Su solicitud de cancelación se envió a la clínica"))
    expect(visit_row.locator(".status-text")).to_have_text("Cancelación pendiente")
    assert staff.visit(visit)["cancel_reason"] == "Viaje de trabajo."


def test_a_visits_history_reads_in_spanish(browser_in, spanish_patient, new_visit, staff):
    visit = new_visit()
    page = browser_in("es-US")
    log_in_in_spanish(page)
    button(row(page, visit), "Confirmar").click()
    expect(button(row(page, visit), "Cambiar")).to_be_visible()
    deadline = time.monotonic() + 15
    while len(staff.call("GET", f"/clinic/sessions/{visit['id']}/history")["events"]) < 2:
        assert time.monotonic() < deadline, "the stream function did not record the change in time"
        time.sleep(0.2)

    button(row(page, visit), "Historial").click()

    history = page.get_by_role("region", name=re.compile("^Historial de la cita: "))
    expect(history.get_by_role("listitem")).to_have_text(
        [
            re.compile(rf"^La clínica programó esta cita el {SPANISH_MOMENT}\.$"),
            re.compile(rf"^Usted confirmó el {SPANISH_MOMENT}\.$"),
        ]
    )


def test_a_refused_answer_is_worded_from_its_status_in_spanish(browser_in, spanish_patient, new_visit, staff):
    visit = new_visit()
    page = browser_in("es-US")
    log_in_in_spanish(page)
    staff.change_visit(visit["id"], session_class="Cancelled by clinic")

    button(row(page, visit), "Confirmar").click()

    phone = staff.settings["phone"]
    expect(page.get_by_role("alert")).to_have_text(
        f"Esta cita ya no se puede cambiar en línea. Llame a la clínica al {phone}."
    )
    expect(row(page, visit).locator(".status-text")).to_have_text("Cancelada")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_spanish_page_meets_wcag_aa_and_works_by_keyboard_alone(
    browser_in, spanish_patient, new_visit, axe_source, viewport
):
    visit = new_visit()
    page = browser_in("es-US", viewport)
    page.goto("/")
    expect(page.get_by_label("Correo electrónico", exact=True)).to_be_focused()
    assert axe_violations(page, axe_source) == []
    page.keyboard.type(PATIENT_LOGIN[0])
    page.keyboard.press("Tab")
    page.keyboard.type(PATIENT_LOGIN[1])
    page.keyboard.press("Enter")
    expect_spanish_visits(page)
    expect(page.get_by_role("heading", name="Citas", level=1)).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert axe_violations(page, axe_source) == []

    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("(id) => document.activeElement.closest('tr')?.dataset.visitId === id", visit["id"]):
            break
    expect(button(row(page, visit), "Confirmar")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row(page, visit)).to_have_attribute("data-status", "patient_confirmed")
    expect(button(row(page, visit), "Cambiar")).to_be_focused()
    page.keyboard.press("Enter")
    expect(button(row(page, visit), "Confirmar")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="¿Cancelar esta cita?")
    expect(dialog).to_be_visible()
    assert axe_violations(page, axe_source) == []
    page.keyboard.press("Escape")
    expect(button(row(page, visit), "Cancelar")).to_be_focused()


# --- The range in the address ----------------------------------------------------------------


def test_the_date_range_survives_a_reload_and_back_returns_to_the_one_before(logged_in, staff):
    page = logged_in
    today = staff.today()
    default_from = (today - timedelta(days=30)).isoformat()
    start, end = (today + timedelta(days=1)).isoformat(), (today + timedelta(days=13)).isoformat()

    page.get_by_label("From").fill(start)
    page.get_by_label("To").fill(end)
    page.get_by_role("button", name="Show visits").click()
    expect(page).to_have_url(re.compile(rf"\?from={start}&to={end}$"))
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"^\d+ upcoming visits? and 0 past visits"))

    page.reload()

    expect_visits_loaded(page)
    expect(page.get_by_label("From")).to_have_value(start)
    expect(page.get_by_label("To")).to_have_value(end)
    dates = page.locator("tr[data-visit-id]").evaluate_all("(rows) => rows.map((r) => r.dataset.date)")
    assert dates and all(start <= day <= end for day in dates), dates

    page.go_back()

    expect(page.get_by_label("From")).to_have_value(default_from)
    expect(page).not_to_have_url(re.compile(r"from="))


@pytest.mark.parametrize(
    "query", ["?from=2026-02-30&to=2026-03-01", "?from=yesterday", "?from=2030-01-10&to=2030-01-01", "?to=1999-01-01"]
)
def test_a_bad_range_in_the_address_falls_back_to_the_default_range(logged_in, staff, query):
    page = logged_in
    page.goto(f"/{query}")

    expect_visits_loaded(page)
    today = staff.today()
    expect(page.get_by_label("From")).to_have_value((today - timedelta(days=30)).isoformat())
    expect(page.get_by_label("To")).to_have_value((today + timedelta(days=90)).isoformat())
    expect(page.get_by_role("alert")).to_be_empty()


# --- Nothing moves ----------------------------------------------------------------------------

# Every layout shift the browser reports (the Layout Instability API Lighthouse's CLS sums).
RECORD_SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__shifts.push({
      value: entry.value, recent: entry.hadRecentInput,
      sources: (entry.sources || []).map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?'),
    });
  }
}).observe({ type: 'layout-shift', buffered: true });
"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-US", "es-US"])
def test_nothing_moves_as_the_patient_logs_in_and_the_list_loads(browser_in, viewport, locale):
    page = browser_in(locale, viewport)
    page.add_init_script(RECORD_SHIFTS)
    page.goto("/")
    page.locator("#login-email").fill(PATIENT_LOGIN[0])
    page.locator("#login-password").fill(PATIENT_LOGIN[1])
    page.locator("#login-button").click()
    expect(page.locator("#account")).to_be_visible()
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#reminders-section")).to_be_visible()
    page.wait_for_timeout(500)  # a late shift after the list is drawn counts too

    shifts = page.evaluate("window.__shifts")
    # Stricter than Lighthouse's CLS, which leaves out shifts within 0.5 s of a click: here the
    # list often answers that fast, and a slower network must not move the page either.
    assert sum(shift["value"] for shift in shifts) < 0.01, shifts
