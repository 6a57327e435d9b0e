"""The small pages behind the links in patients' emails: a reminder's answer page, the
unsubscribe page, and the page that says a link no longer works.

In the language of the link's patient (a link that is not ours: the browser's `Accept-Language`),
dates and times as it writes them, in the clinic's time zone. Plain HTML, no script: a page only
shows, and only its forms (`POST`, a person's click) act. Everything from the database or the
request is escaped (the template autoescapes). Served with no-store, no referrer (the token is in
the address) and a strict content security policy.
"""

from dataclasses import dataclass

from chalicelib import errors, i18n, links, rules
from chalicelib.domain import ScheduledVisit

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    # The page's language follows the link's patient (or Accept-Language): a shared cache must not mix them.
    "Vary": "Accept-Language",
}
# The pages live at /r/<token> and /u/<token>, beside /web/: the portal's own stylesheet.
STYLESHEET = "../web/styles.css"
# The clinics' default cancel notice (rules.DEFAULT_CANCEL_NOTICE), here to be translated; a
# clinic's own notice is shown as the clinic wrote it.
DEFAULT_CANCEL_NOTICE = i18n.N_(
    "Your cancellation request has been sent to the clinic. "
    "It is still your responsibility to call the clinic to cancel this appointment."
)


@dataclass(frozen=True)
class Page:
    status: int
    body: str


@dataclass(frozen=True)
class _Message:
    text: str
    kind: str  # "notice" or "error"


def _status_words(status: rules.Status, words: i18n.Words) -> str:
    return {
        rules.Status.AWAITING_RESPONSE: words.gettext("Awaiting your answer"),
        rules.Status.PATIENT_CONFIRMED: words.gettext("You confirmed"),
        rules.Status.PENDING_CANCEL: words.gettext("You asked to cancel (the clinic has your request)"),
        rules.Status.CANCELLED: words.gettext("Cancelled"),
        rules.Status.COMPLETED: words.gettext("Completed"),
    }[status]


def answer_page(visit: ScheduledVisit, now, language: str, done: str | None = None, wanted: str | None = None) -> Page:
    """The visit, its status, and a form per action the patient can take now (`wanted`, the button
    the email's link was for, first). After a click, `done` says what happened."""
    words = i18n.words(language)
    clinic = visit.clinic
    messages = []
    if done == "cancel":
        notice = clinic.cancel_notice
        if notice == rules.DEFAULT_CANCEL_NOTICE:
            notice = words.gettext(DEFAULT_CANCEL_NOTICE)
        messages.append(_Message(notice, "notice"))
    elif done == "confirm":
        messages.append(_Message(words.gettext("Thank you: your appointment is confirmed."), "notice"))
    elif done == "change":
        messages.append(_Message(words.gettext("Your answer was removed. You can answer again below."), "notice"))
    actions = [action.value for action in rules.available_actions(visit.state, clinic.policy, now)]
    actions.sort(key=lambda action: action != wanted)
    paragraphs = []
    # Said on the cancel form, so the patient knows how long it stays open.
    cancel_closes = (
        words.ngettext(
            "Online cancellation closes %(count)s hour before the appointment.",
            "Online cancellation closes %(count)s hours before the appointment.",
            clinic.policy.cancel_cutoff_hours,
        )
        if clinic.policy.cancel_cutoff_hours
        else ""
    )
    if not actions:
        paragraphs.append(
            words.gettext("This appointment can no longer be changed online.") + " " + _call(visit, words)
        )
    title = words.gettext("Your appointment at %(clinic)s", clinic=clinic.name)
    return _page(
        200,
        words,
        title,
        clinic.name,
        messages=messages,
        details=_details(visit, words),
        actions=actions,
        paragraphs=paragraphs,
        cancel_closes=cancel_closes,
    )


def unsubscribe_page(clinic_name: str, language: str, done: bool) -> Page:
    words = i18n.words(language)
    clinic_name = clinic_name or words.gettext("Client portal")
    if done:
        notice = words.gettext(
            "You will no longer get reminder emails from %(clinic)s. You can turn them on again in the client portal.",
            clinic=clinic_name,
        )
        return _page(
            200, words, words.gettext("Reminder emails are off"), clinic_name, messages=[_Message(notice, "notice")]
        )
    return _page(200, words, words.gettext("Reminder emails"), clinic_name, actions=["unsubscribe"])


def problem_page(status: int, error: errors.DomainError, language: str) -> Page:
    """A link that is not ours, one that no longer works, or an answer the rules refuse: said in
    the reader's words, chosen by the kind of refusal (never the API's English message)."""
    words = i18n.words(language)
    return _page(
        status,
        words,
        words.gettext("This link cannot be used"),
        words.gettext("Client portal"),
        messages=[_Message(_problem(error, words), "error")],
        paragraphs=[words.gettext("You can also log in to the client portal, or call the clinic.")],
    )


def _problem(error: errors.DomainError, words: i18n.Words) -> str:
    if isinstance(error, links.LinkExpired):
        return {
            "gone": words.gettext("This appointment is no longer on your schedule."),
            "moved": words.gettext("This appointment was moved, so this link no longer works."),
            "started": words.gettext("This appointment has already started, so this link no longer works."),
            "closed": words.gettext("The clinic has closed this appointment, so this link no longer works."),
        }.get(error.reason, words.gettext("This link no longer works."))
    if isinstance(error, links.LinkNotValid):
        return words.gettext(
            "This link is not valid. Please use the link in your latest email, or log in to the portal."
        )
    if isinstance(error, errors.TooManyChanges):
        return words.gettext(
            "This appointment's answer has been changed too many times online. Please call the clinic to change it."
        )
    if isinstance(error, errors.NotOpen):
        return words.gettext("This appointment can no longer be changed online. Please call the clinic.")
    if isinstance(error, errors.Forbidden):
        return words.gettext("The clinic takes cancellations by phone only.")
    if isinstance(error, errors.Conflict):
        return words.gettext("This appointment changed meanwhile. Open the link again to see it as it is now.")
    if isinstance(error, errors.BadInput):
        return words.gettext("This answer could not be read. Open the link again and use one of its buttons.")
    return words.gettext("This link cannot be used right now. Please log in to the client portal.")


def _details(visit: ScheduledVisit, words: i18n.Words) -> list[tuple[str, str]]:
    clinic = visit.clinic
    starts = visit.state.starts_at.astimezone(clinic.tz)
    rows = [
        (words.gettext("Date"), words.date(starts)),
        (words.gettext("Time"), f"{words.time(starts)} ({words.zone(clinic.tz)})"),
        (words.gettext("Location"), (visit.item.location or "").strip() or words.gettext("(see the portal)")),
    ]
    if clinic.show_provider and (visit.item.provider or "").strip():
        rows.append((words.gettext("Provider"), visit.item.provider.strip()))
    rows.append((words.gettext("Status"), _status_words(rules.visit_status(visit.state, clinic.policy), words)))
    return rows


def _call(visit: ScheduledVisit, words: i18n.Words) -> str:
    phone = (visit.clinic.clinic.phone or "").strip()
    return (
        words.gettext("Please call the clinic at %(phone)s.", phone=phone)
        if phone
        else words.gettext("Please call the clinic.")
    )


def _page(status: int, words: i18n.Words, title: str, clinic_name: str, **parts) -> Page:
    values = {"messages": [], "details": [], "actions": [], "paragraphs": [], "cancel_closes": "", **parts}
    values.update(title=title, clinic_name=clinic_name or words.gettext("Client portal"), stylesheet=STYLESHEET)
    return Page(status, i18n.render("link_page.html", words.code, values))
