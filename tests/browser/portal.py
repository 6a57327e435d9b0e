"""What a patient does on the Scheduling page, in the words a patient sees there."""

import re

from playwright.sync_api import Page, expect

from .stack import PATIENT_LOGIN, PATIENT_NAME


def log_in(page: Page, email: str = PATIENT_LOGIN[0], password: str = PATIENT_LOGIN[1]) -> None:
    """Logs the demo patient in from a fresh page and waits for the visits."""
    page.goto("/")
    fill_login(page, email, password)
    expect_visits_loaded(page)
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {PATIENT_NAME}")


def fill_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_visits_loaded(page: Page) -> None:
    expect(page.get_by_role("heading", name="Scheduling", level=1)).to_be_visible()
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"visits? in this date range"))


def row(page: Page, visit: dict):
    """The visit's row, wherever it is (it is rebuilt after every action)."""
    return page.locator(f'tr[data-visit-id="{visit["id"]}"]')


def button(scope, name: str):
    """A button by its exact accessible name: "Cancel" must not also find "Keep visit"."""
    return scope.get_by_role("button", name=name, exact=True)


def stored_tokens(page: Page) -> dict:
    return page.evaluate("""() => Object.fromEntries(
        ['portal.id_token', 'portal.refresh_token', 'portal.expires_at'].map((k) => [k, sessionStorage.getItem(k)]))""")


WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_violations(page: Page, axe_source: str) -> list:
    """The page's WCAG A/AA violations, by axe-core (the `axe_source` fixture)."""
    # Evaluated through DevTools, so the page's own Content-Security-Policy stays as deployed.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA_TAGS)
    return [f"{v['id']} ({v['help']}): {[n['target'] for n in v['nodes']]}" for v in result["violations"]]
