"""The reminder a patient gets before a visit: when, where and with whom, and their answer in one
click (the links go to a page where only a button acts: safe from email scanners).

In the patient's language (`chalicelib/i18n.py`), from the clinic's name at the deployment's
sender, with `Reply-To` the clinic's own address, the visit's calendar file attached, and RFC 8058
one-click unsubscribe headers. Nothing about the visit beyond the contract's list: no session
class, no diagnosis, nothing staff wrote.
"""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr

from chalicelib import config, i18n, ical, inputs, links, mail, rules
from chalicelib.domain import ScheduledVisit, language_of
from chalicelib.errors import BadInput
from chalicelib.models import Patient

PERMANENT_SES_ERRORS = mail.PERMANENT_SES_ERRORS
KIND = "reminder"


class Unsendable(Exception):
    """This reminder cannot be sent as things stand (SES refuses it for good)."""


def compose(visit: ScheduledVisit, patient: Patient, hours_before: int, now: datetime) -> EmailMessage:
    """The reminder in the patient's language, dates and times as it writes them, in the clinic's time zone."""
    clinic = visit.clinic
    words = i18n.words(language_of(patient))
    starts = visit.state.starts_at.astimezone(clinic.tz)
    clinic_name = " ".join(clinic.name.split()) or words.gettext("Your clinic")
    first_name = (patient.name or "").split()[0] if (patient.name or "").split() else ""
    phone = (clinic.clinic.phone or "").strip()
    values = {
        "greeting": words.gettext("Hi %(name)s,", name=first_name) if first_name else words.gettext("Hello,"),
        "clinic_name": clinic_name,
        "date": words.date(starts),
        "start_time": words.time(starts),
        "timezone": words.zone(clinic.tz),
        "location": (visit.item.location or "").strip() or words.gettext("(see the portal)"),
        "provider": (visit.item.provider or "").strip() if clinic.show_provider else "",
        "answers": _answers(visit, now, words),
        "questions": (
            words.gettext("Questions? Call %(clinic)s at %(phone)s.", clinic=clinic_name, phone=phone)
            if phone
            else words.gettext("Questions? Call %(clinic)s.", clinic=clinic_name)
        ),
        "portal_url": links.portal_url(),
        "unsubscribe_url": links.unsubscribe_url(patient),
    }

    message = EmailMessage()
    message["From"] = formataddr((clinic_name, config.current().sender_email))
    message["To"] = patient.email
    reply_to = _clinic_address(clinic.clinic.admin_email)
    if reply_to:
        message["Reply-To"] = reply_to  # a reply reaches the clinic, not a no-reply box
    message["Subject"] = words.gettext(
        "Reminder: your appointment on %(date)s at %(time)s", date=words.short_date(starts), time=words.time(starts)
    )
    message["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.stamp(message, now)
    message.set_content(i18n.render("reminder.txt", words.code, values))
    message.add_alternative(i18n.render("reminder.html", words.code, values), subtype="html")
    attachment = ical.visit_file(visit, words.code)
    message.add_attachment(
        attachment.body.encode("utf-8"),
        maintype="text",
        subtype="calendar",
        filename=attachment.filename,
        params={"method": "PUBLISH", "charset": "utf-8"},
    )
    # Set last: turning the message multipart moves every Content-* header into its first part.
    message["Content-Language"] = words.code
    return message


def ses_request(message: EmailMessage, visit: ScheduledVisit, patient: Patient, send_key: str) -> dict:
    """What SES reports about the reminder (a bounce, a complaint) comes back with the patient's id."""
    tags = {
        "kind": KIND,
        "clinic_id": visit.item.clinic_id,
        "patient_id": patient.patient_id,
        "visit_id": visit.item.visit_id,
        "change_id": send_key,
    }
    return mail.ses_request(message, patient.email, tags)


@dataclass(frozen=True)
class _Answer:
    label: str
    url: str
    colour: str


# The buttons' colours (text is white on each, contrast ≥ 4.5:1).
_COLOURS = {rules.Action.CONFIRM: "#1b6e3a", rules.Action.CANCEL: "#b42318", rules.Action.CHANGE: "#0b57d0"}


def _answers(visit: ScheduledVisit, now: datetime, words: i18n.Words) -> list[_Answer]:
    """What the patient can do now: Confirm and Cancel while it awaits an answer (Cancel only while
    the clinic takes cancellations online), Change my answer once answered."""
    labels = {
        rules.Action.CONFIRM: words.gettext("Confirm"),
        rules.Action.CANCEL: words.gettext("Cancel"),
        rules.Action.CHANGE: words.gettext("Change my answer"),
    }
    actions = rules.available_actions(visit.state, visit.clinic.policy, now)
    return [_Answer(labels[action], links.answer_url(visit, action.value), _COLOURS[action]) for action in actions]


def _clinic_address(admin_email: str | None) -> str | None:
    try:
        display_name, address = inputs.parse_mailbox(admin_email or "")
    except BadInput:
        return None
    return formataddr((display_name, address))
