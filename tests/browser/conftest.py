"""Fixtures: the stack of `make run` (one per session) → one Chromium → a fresh context per test.

The stack is `python -m local.run`, started and stopped as `make run` and Ctrl-C do. Every
test makes the visits it acts on through the staff API, so tests never depend on each
other's clicks; the seeded demo visits are only looked at, never changed.
"""

import itertools
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from .portal import log_in
from .stack import ARTIFACTS, LocalStack, StaffApi, chromium_missing, launch_chromium, port_is_closed

DESKTOP = {"width": 1280, "height": 900}
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def stack():
    stack = LocalStack("browser-stack.log").start()
    yield stack
    code = stack.stop()
    # This also proves that SIGTERM (and Ctrl-C, the same handler) stops everything.
    assert code == 0, f"`python -m local.run` exited with {code} on SIGTERM:\n{stack.log_tail()}"
    assert port_is_closed(stack.port), "the API still listens after SIGTERM"
    assert port_is_closed(stack.aws_port), "the AWS emulator still listens after SIGTERM"


@pytest.fixture(scope="session")
def staff(stack) -> StaffApi:
    totp_secret, _northside = stack.staff_totp_secrets()
    return StaffApi(stack.url, totp_secret)


@pytest.fixture(scope="session")
def browser():
    missing = chromium_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_in_call = report.failed


@pytest.fixture
def page(request, browser, stack) -> Page:
    """A fresh browser context (its own sessionStorage) on the page. Uncaught page errors fail
    the test; a failing test leaves a screenshot in test-artifacts/."""
    context = browser.new_context(base_url=stack.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("console", lambda message: wording_mistake(message) and page_errors.append(message.text))
    yield page
    if getattr(request.node, "failed_in_call", False):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not page_errors, f"the page threw: {page_errors}"


def wording_mistake(message) -> bool:
    """A console line of i18n.js saying the page named a missing message or left a {placeholder} unfilled."""
    return message.type == "error" and message.text.startswith("i18n:")


# Days after the demo visits (the last is 23 days ahead) and inside the page's default range.
_days_ahead = itertools.count(40)
_LAST_DAY_IN_DEFAULT_RANGE = 90


@pytest.fixture
def new_visit(staff):
    """Makes an upcoming visit of the demo patient, each on its own day inside the default range."""

    def make(**fields):
        days = next(_days_ahead)
        assert days <= _LAST_DAY_IN_DEFAULT_RANGE, "more new visits than days in the default range"
        return staff.add_visit(days, **fields)

    return make


@pytest.fixture
def logged_in(page) -> Page:
    log_in(page)
    return page


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, for portal.axe_violations()."""
    if not AXE.exists():
        pytest.fail(
            f"axe-core is missing at {AXE}: `make test` installs it (npm ci --prefix tests/browser).", pytrace=False
        )
    return AXE.read_text(encoding="utf-8")
