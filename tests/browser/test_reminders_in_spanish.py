"""A Spanish-speaking patient's reminder, end to end against the stack of `make run`: the patient
chooses Spanish (PATCH /portal/preferences, as the page does), a visit falls due, the reminder
the emulator's SES accepted is in Spanish, and its link page opens in Chromium in Spanish
(`lang="es"`, Spanish dates and 12-hour times in the clinic's zone), meeting WCAG A/AA (axe-core)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from local import demo

from .portal import axe_violations, button
from .stack import CLINIC_NAME, reminder_for
from .test_reminders_page import link_named

SAM_EMAIL = demo.SAM[2]
SPANISH_DATE = r"(lun|mar|mié|jue|vie|sáb|dom), \d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic) \d{4}"
SPANISH_TIME = r"\d{1,2}:\d{2} [ap]\. m\."


def set_language(stack, language: str) -> None:
    """What the page's language switch does: the patient's own PATCH /portal/preferences."""
    login = requests.post(
        f"{stack.url}/auth/login", json={"username": SAM_EMAIL, "password": demo.PATIENT_PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    response = requests.patch(
        f"{stack.url}/portal/preferences",
        json={"language": language},
        headers={"Authorization": f"Bearer {login.json()['id_token']}"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["language"] == language, response.text


@pytest.fixture(scope="module")
def spanish_reminder(stack, staff):
    """Sam reads Spanish; a visit of Sam's whose reminder falls due within the minute, and that reminder."""
    set_language(stack, "es")
    try:
        patients = staff.call("GET", "/clinic/patients")["patients"]
        sam_id = next(p["id"] for p in patients if p["email"] == SAM_EMAIL)
        starts_at = (datetime.now(UTC) + timedelta(hours=2, seconds=70)).replace(second=0, microsecond=0)
        local = starts_at.astimezone(staff_zone(staff))
        visit = staff.call(
            "POST",
            "/clinic/sessions",
            {
                "patient_id": sam_id,
                "date": local.date().isoformat(),
                "start_time": f"{local:%H:%M}",
                "duration_minutes": 50,
                "provider": "Dr. Maya Patel",
                "location": "Room 3, 120 Main St",
                "session_class": "Individual therapy",
            },
            expect=201,
        )
        yield visit, reminder_for(stack, visit, SAM_EMAIL)
    finally:
        set_language(stack, "en")  # the demo's Sam reads English again for any later test


def staff_zone(staff):
    from zoneinfo import ZoneInfo

    return ZoneInfo(staff.settings["timezone"])


def test_a_spanish_patients_reminder_is_in_spanish(spanish_reminder):
    _, reminder = spanish_reminder
    text = reminder.get_body(("plain",)).get_content()
    html = reminder.get_body(("html",)).get_content()

    assert re.fullmatch(rf"Recordatorio: su cita el .+ a las {SPANISH_TIME}", reminder["Subject"])
    assert reminder["Content-Language"] == "es"
    assert text.startswith("Hola, Sam:")
    assert re.search(rf"Fecha: {SPANISH_DATE}\n", text) and re.search(rf"Hora: {SPANISH_TIME} \(hora", text)
    assert '<html lang="es">' in html and ">Confirmar</a>" in html and ">Cancelar</a>" in html
    assert "Dejar de recibir recordatorios" in html
    for english in ("Reminder", "Confirm:", "Date:", "Stop reminder emails"):
        assert english not in text


def test_its_link_page_opens_in_spanish_answers_in_spanish_and_meets_wcag_aa(page, staff, spanish_reminder, axe_source):
    visit, reminder = spanish_reminder

    page.goto(link_named(reminder, "Confirmar"))

    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Su cita en {CLINIC_NAME}")
    details = page.locator(".details")
    expect(details).to_contain_text("Esperando su respuesta")
    expect(details).to_contain_text(re.compile(SPANISH_DATE))
    expect(details).to_contain_text(re.compile(rf"{SPANISH_TIME} \(hora"))
    expect(button(page, "Cancelar esta cita")).to_be_visible()
    assert axe_violations(page, axe_source) == []
    assert staff.visit(visit)["status"] == "awaiting_response"  # opening it changed nothing

    button(page, "Confirmar").click()

    expect(page.get_by_role("status")).to_have_text("Gracias: su cita está confirmada.")
    expect(details).to_contain_text("Usted confirmó")
    assert page.locator("html").get_attribute("lang") == "es"
    assert axe_violations(page, axe_source) == []
    assert staff.visit(visit)["status"] == "patient_confirmed"
