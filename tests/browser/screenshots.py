"""`python -m tests.browser.screenshots` (or `make screenshots`): the README's pictures of the
Scheduling page, taken from the stack of `make run` with the demo patient logged in.

Writes, in English and in Spanish (`-es`), docs/scheduling-desktop[-es].png (1280 px wide, the
whole page) and docs/scheduling-phone[-es].png (375 px wide, at twice the pixels as a phone shows
it: the top of the page down to the second upcoming visit).
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright

from .stack import PATIENT_LOGIN, ROOT, LocalStack, chromium_missing, launch_chromium

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
    language = locale.split("-")[0]
    if page.evaluate("document.documentElement.lang") != language:
        # The demo patient's saved language decides after login: the switch changes (and saves) it.
        page.locator(f'[data-language="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("#visits-summary")).to_have_text(re.compile(r"\d"))
    page.evaluate("document.activeElement.blur()")  # no focus ring on the heading
    page.mouse.move(0, 0)  # nor a hover colour on whatever ended up under the pointer
    page.screenshot(path=str(DOCS / name), full_page=True, clip=clip(page))
    context.close()
    print(f"wrote {(DOCS / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
