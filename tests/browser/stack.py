"""The stack of `make run`, started the way `make run` starts it, and the browser that drives it.

Shared by the browser tests (tests/browser/conftest.py) and the README screenshots
(`python -m tests.browser.screenshots`).
"""

import email
import email.policy
import os
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from local import demo
from tests.calendars import parse
from tests.local_stack import (  # noqa: F401 (the browser fixtures use them)
    ARTIFACTS,
    ROOT,
    LocalStack,
    log_in_staff,
    port_is_closed,
)

# The demo data that `make run` seeds (local/demo.py).
PATIENT_LOGIN = (demo.ALEX[2], demo.PATIENT_PASSWORD)
PATIENT_NAME = demo.ALEX[1]
STAFF_LOGIN = demo.STAFF_LOGIN
CLINIC_NAME = demo.CLINIC_NAME
CLINIC_PHONE = demo.CLINIC_PHONE

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# `playwright install` cannot download its own browsers here: Debian's Chromium is driven
# instead, without the sandbox (CI runs as root) and without calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run, or None when they can."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"Chromium was not found at {CHROMIUM}. The browser tests drive Debian's Chromium: "
        "install it with `apt-get update && apt-get install -y chromium` (`make test` does this)."
    )


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ID tokens are honoured 10 minutes (chalicelib/auth.py): log in again well before that.
TOKEN_REUSE_SECONDS = 8 * 60


class StaffApi:
    """The clinic's side, through the API as clinic tools use it: makes the visits a test needs.
    Logs in as the demo staff user with the TOTP secret `make run` printed."""

    def __init__(self, base_url: str, totp_secret: str):
        self.base_url = base_url
        self.totp_secret = totp_secret
        self.http = requests.Session()
        self._logged_in_at: float | None = None  # not yet (monotonic time starts at boot: no 0.0)
        self.settings = self.call("GET", "/clinic/settings")
        patients = self.call("GET", "/clinic/patients")["patients"]
        self.patient_id = next(p["id"] for p in patients if p["email"] == PATIENT_LOGIN[0])

    def _log_in_when_due(self) -> None:
        if self._logged_in_at is None or time.monotonic() - self._logged_in_at > TOKEN_REUSE_SECONDS:
            tokens = log_in_staff(self.base_url, *STAFF_LOGIN, self.totp_secret)
            self.http.headers["Authorization"] = f"Bearer {tokens['id_token']}"
            self._logged_in_at = time.monotonic()

    def call(self, method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
        self._log_in_when_due()
        response = self.http.request(method, self.base_url + path, json=body, timeout=10)
        assert response.status_code == expect, f"{method} {path} → {response.status_code} {response.text}"
        return response.json()

    def today(self) -> date:
        """Today in the clinic's time zone, as the API counts it."""
        return datetime.now(ZoneInfo(self.settings["timezone"])).date()

    def add_visit(
        self,
        days_ahead: int,
        start_time: str = "16:45",
        provider: str = "Dr. Maya Patel",
        location: str = "Room 3, 120 Main St",
        session_class: str = "Individual therapy",
    ) -> dict:
        """A visit of the demo patient, in the clinic's time zone."""
        return self.call(
            "POST",
            "/clinic/sessions",
            {
                "patient_id": self.patient_id,
                "date": (self.today() + timedelta(days=days_ahead)).isoformat(),
                "start_time": start_time,
                "duration_minutes": 50,
                "provider": provider,
                "location": location,
                "session_class": session_class,
            },
            expect=201,
        )

    def add_visit_starting(self, starts_at: datetime, **fields) -> dict:
        """A visit of the demo patient starting at `starts_at` (to the minute)."""
        local = starts_at.astimezone(ZoneInfo(self.settings["timezone"]))
        return self.add_visit((local.date() - self.today()).days, start_time=f"{local:%H:%M}", **fields)

    def change_visit(self, visit_id: str, **fields) -> dict:
        return self.call("PATCH", f"/clinic/sessions/{visit_id}", fields)

    def visit(self, visit: dict) -> dict:
        """The clinic's current view of a visit."""
        day = visit["date"]
        sessions = self.call("GET", f"/clinic/sessions?from={day}&to={day}")["sessions"]
        return next(v for v in sessions if v["id"] == visit["id"])

    def change_settings(self, **fields) -> dict:
        return self.call("PATCH", "/clinic/settings", fields)


def emails_to(aws_endpoint: str, address: str) -> list[email.message.EmailMessage]:
    """Every email the stack's SES accepted for `address`, oldest first, as mail clients parse them.
    moto keeps them; its data endpoint is the only way in from another process."""
    sent = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=10).json()["ses"]["RawMessage"]
    return [
        email.message_from_string(message["raw_data"], policy=email.policy.default)
        for message in sent
        if address in message["destinations"]
    ]


DEMO_DOMAIN = "demo-clinic.example"  # of the demo's sender address: calendar UIDs end with it
# The local scheduler sweeps every 15 s; a reminder falls due within about a minute of its visit
# being made, so this leaves room for a slow machine.
REMINDER_WAIT_SECONDS = 150


def reminder_for(stack, visit: dict, address: str) -> email.message.EmailMessage:
    """The reminder email of `visit` to `address` (known by its attached calendar file), once sent."""
    deadline = time.monotonic() + REMINDER_WAIT_SECONDS
    uid = f"{visit['id']}@{DEMO_DOMAIN}"
    while time.monotonic() < deadline:
        for message in emails_to(stack.aws_endpoint, address):
            for attachment in message.iter_attachments():
                if (
                    attachment.get_content_type() == "text/calendar"
                    and uid in parse(attachment.get_payload(decode=True)).uids()
                ):
                    return message
        time.sleep(2)
    raise AssertionError(f"no reminder for {visit['id']} within {REMINDER_WAIT_SECONDS}s:\n{stack.log_tail()}")
