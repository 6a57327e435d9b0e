"""`python -m tests.browser.screenshots` (or `make screenshots`): the README's pictures of the
Scheduling page, taken from the stack of `make run` with the demo patient logged in.

Writes, in English and in Spanish (`-es`), docs/scheduling-desktop[-es].png (1280 px wide, the
whole page) and docs/scheduling-phone[-es].png (375 px wide, at twice the pixels as a phone shows
it: the top of the page down to the second upcoming visit); then, once the demo's reminder has
gone out (within two minutes of the start), docs/reminder-email.png (its HTML part as a phone
shows it) and docs/reminder-link-page.png (the page its Confirm link opens).
"""

import re
import sys
import time

from playwright.sync_api import expect, sync_playwright

from .stack import PATIENT_LOGIN, ROOT, LocalStack, chromium_missing, emails_to, launch_chromium

DOCS = ROOT / "docs"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def main() -> None:
    missing = chromium_missing()
    if missing:
        sys.exit(missing)
    DOCS.mkdir(exist_ok=True)
    stack = LocalStack("screenshots-stack.log").start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for suffix, locale in (("", "en-US"), ("-es", "es-US")):
                shoot(browser, stack, f"scheduling-desktop{suffix}.png", DESKTOP, locale, lambda page: None)
                shoot(browser, stack, f"scheduling-phone{suffix}.png", PHONE, locale, down_to_the_second_upcoming_visit)
            shoot_reminder(browser, stack)
            browser.close()
    finally:
        stack.stop()


def down_to_the_second_upcoming_visit(page) -> dict:
    bottom = page.evaluate("""() => {
        const card = document.querySelectorAll('#upcoming-table tbody tr')[1];
        return card.getBoundingClientRect().bottom + window.scrollY;
    }""")
    return {"x": 0, "y": 0, "width": PHONE["viewport"]["width"], "height": bottom + 12}


def shoot(browser, stack: LocalStack, name: str, options: dict, locale: str, clip) -> None:
    """Logs the demo patient in, in the browser's language `locale`, and saves the page;
    `clip(page)` picks a part, or None for all of it."""
    # Reduced motion: no button colour caught halfway through its hover transition.
    context = browser.new_context(base_url=stack.url, reduced_motion="reduce", locale=locale, **options)
    page = context.new_page()
    page.goto("/")
    page.locator("#login-email").fill(PATIENT_LOGIN[0])
    page.locator("#login-password").fill(PATIENT_LOGIN[1])
    page.locator("#login-button").click()
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"\d"))
    language, saved = locale.split("-")[0], page.evaluate("document.documentElement.lang")
    if saved != language:
        # The demo patient's saved language decides after login: the switch changes (and saves) it.
        switch_to(page, language)
    page.evaluate("document.activeElement.blur()")  # no focus ring on the heading
    page.mouse.move(0, 0)  # nor a hover colour on whatever ended up under the pointer
    page.screenshot(path=str(DOCS / name), full_page=True, clip=clip(page))
    if saved != language:
        switch_to(page, saved)  # the demo's reminder goes out in the patient's saved language
    context.close()
    print(f"wrote {(DOCS / name).relative_to(ROOT)}")


def switch_to(page, language: str) -> None:
    with page.expect_response(lambda r: r.url.endswith("/portal/preferences") and r.request.method == "PATCH"):
        page.locator(f'[data-language="{language}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#visits-summary")).to_have_text(re.compile(r"\d"))


def shoot_reminder(browser, stack: LocalStack) -> None:
    """The demo's reminder email as a phone shows it, and the page its Confirm link opens."""
    html = demo_reminder_html(stack)
    context = browser.new_context(base_url=stack.url, reduced_motion="reduce", **PHONE)
    page = context.new_page()
    page.set_content(html)
    save(page, "reminder-email.png")
    confirm_link = re.search(r'<a href="([^"]+)"[^>]*>Confirm</a>', html).group(1).replace("&amp;", "&")
    page.goto(confirm_link)  # opening it changes nothing: the page shows the answers to choose from
    save(page, "reminder-link-page.png")
    context.close()


def demo_reminder_html(stack: LocalStack, wait_seconds: int = 180) -> str:
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        for message in emails_to(stack.aws_endpoint, PATIENT_LOGIN[0]):
            if message["Subject"].startswith("Reminder:"):
                return message.get_body(("html",)).get_content()
        time.sleep(3)
    sys.exit(f"the demo's reminder did not go out within {wait_seconds}s:\n{stack.log_tail()}")


def save(page, name: str) -> None:
    page.mouse.move(0, 0)
    page.screenshot(path=str(DOCS / name), full_page=True)
    print(f"wrote {(DOCS / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
