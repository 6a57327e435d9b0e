"""The small pages behind the links in patients' emails: a reminder's answer page, the
unsubscribe page, and the page that says a link no longer works.

Plain HTML, no script: a page only shows, and only its forms (`POST`, a person's click) act.
Everything from the database or the request is escaped. Served with no-store, no referrer (the
token is in the address) and a strict content security policy.
"""

import html
from dataclasses import dataclass

from chalicelib import mail, rules
from chalicelib.domain import ScheduledVisit

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
# The pages live at /r/<token> and /u/<token>, beside /web/: the portal's own stylesheet.
STYLESHEET = "../web/styles.css"
STATUS_WORDS = {
    rules.Status.AWAITING_RESPONSE: "Awaiting your answer",
    rules.Status.PATIENT_CONFIRMED: "You confirmed",
    rules.Status.PENDING_CANCEL: "You asked to cancel (the clinic has your request)",
    rules.Status.CANCELLED: "Cancelled",
    rules.Status.COMPLETED: "Completed",
}
DONE = {
    "confirm": "Thank you: your appointment is confirmed.",
    "change": "Your answer was removed. You can answer again below.",
}


@dataclass(frozen=True)
class Page:
    status: int
    body: str


def answer_page(visit: ScheduledVisit, now, done: str | None = None, wanted: str | None = None) -> Page:
    """The visit, its status, and a form per action the patient can take now (`wanted`, the button
    the email's link was for, first). After a click, `done` says what happened."""
    clinic = visit.clinic
    parts = []
    if done == "cancel":
        parts.append(_message(clinic.cancel_notice, "notice"))
    elif done in DONE:
        parts.append(_message(DONE[done], "notice"))
    parts.append(_details(visit))
    actions = [action.value for action in rules.available_actions(visit.state, clinic.policy, now)]
    actions.sort(key=lambda action: action != wanted)
    for action in actions:
        parts.append(_FORMS[action])
    if not actions:
        parts.append(_paragraph(f"This appointment can no longer be changed online. {_call(visit)}"))
    return Page(200, _page(f"Your appointment at {clinic.name}", clinic.name, "\n".join(parts)))


def unsubscribe_page(clinic_name: str, done: bool) -> Page:
    if done:
        body = _message(
            f"You will no longer get reminder emails from {clinic_name}. "
            "You can turn them on again in the client portal.",
            "notice",
        )
        return Page(200, _page("Reminder emails are off", clinic_name, body))
    form = (
        '<form method="post" class="card">\n'
        f"  <p>Stop appointment reminder emails from {html.escape(clinic_name)}?</p>\n"
        '  <button type="submit" class="button button--primary">Stop reminder emails</button>\n'
        "</form>"
    )
    return Page(200, _page("Reminder emails", clinic_name, form))


def problem_page(status: int, message: str, clinic_name: str = "Client portal") -> Page:
    """A link that is not ours, one that no longer works, or an answer the rules refuse."""
    body = (
        _message(message, "error") + "\n" + _paragraph("You can also log in to the client portal, or call the clinic.")
    )
    return Page(status, _page("This link cannot be used", clinic_name, body))


def _details(visit: ScheduledVisit) -> str:
    clinic = visit.clinic
    starts = visit.state.starts_at.astimezone(clinic.tz)
    rows = [
        ("Date", f"{starts:%A, %B} {starts.day}, {starts.year}"),
        ("Time", f"{mail.clock(starts)} ({starts.tzname() or clinic.tz.key})"),
        ("Location", (visit.item.location or "").strip() or "(see the portal)"),
    ]
    if clinic.show_provider and (visit.item.provider or "").strip():
        rows.append(("Provider", visit.item.provider.strip()))
    rows.append(("Status", STATUS_WORDS[rules.visit_status(visit.state, clinic.policy)]))
    cells = "\n".join(f"    <dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in rows)
    return f'<dl class="card details">\n{cells}\n</dl>'


_FORMS = {
    "confirm": (
        '<form method="post" class="card">\n'
        '  <input type="hidden" name="action" value="confirm">\n'
        '  <button type="submit" class="button button--confirm">Confirm</button>\n'
        "</form>"
    ),
    "cancel": (
        '<form method="post" class="card">\n'
        '  <input type="hidden" name="action" value="cancel">\n'
        '  <div class="field">\n'
        '    <label for="reason">Reason (optional)</label>\n'
        '    <textarea id="reason" name="reason" rows="3" maxlength="500"></textarea>\n'
        "  </div>\n"
        "  <p>Your request goes to the clinic. It is still your responsibility to call the clinic to cancel.</p>\n"
        '  <button type="submit" class="button button--danger">Cancel this appointment</button>\n'
        "</form>"
    ),
    "change": (
        '<form method="post" class="card">\n'
        '  <input type="hidden" name="action" value="change">\n'
        '  <button type="submit" class="button button--secondary">Change my answer</button>\n'
        "</form>"
    ),
}


def _call(visit: ScheduledVisit) -> str:
    phone = (visit.clinic.clinic.phone or "").strip()
    return f"Please call the clinic at {phone}." if phone else "Please call the clinic."


def _message(text: str, kind: str) -> str:
    role = "alert" if kind == "error" else "status"
    return f'<p class="message" role="{role}" data-kind="{kind}">{html.escape(text)}</p>'


def _paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _page(title: str, clinic_name: str, body: str) -> str:
    return mail.render(
        "link_page.html",
        {
            "title": html.escape(title),
            "clinic_name": html.escape(clinic_name or "Client portal"),
            "stylesheet": STYLESHEET,
            "body": body,
        },
    )
