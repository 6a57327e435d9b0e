"""The reminder a patient gets before a visit: when, where and with whom, and their answer in one
click (the links go to a page where only a button acts: safe from email scanners).

From the clinic's name at the deployment's sender, with `Reply-To` the clinic's own address, the
visit's calendar file attached, and RFC 8058 one-click unsubscribe headers. Nothing about the
visit beyond the contract's list: no session class, no diagnosis, nothing staff wrote.
"""

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr

from chalicelib import config, ical, inputs, links, mail, rules
from chalicelib.domain import ScheduledVisit
from chalicelib.errors import BadInput
from chalicelib.models import Patient

PERMANENT_SES_ERRORS = mail.PERMANENT_SES_ERRORS
KIND = "reminder"


class Unsendable(Exception):
    """This reminder cannot be sent as things stand (SES refuses it for good)."""


def compose(visit: ScheduledVisit, patient: Patient, hours_before: int, now: datetime) -> EmailMessage:
    clinic = visit.clinic
    starts = visit.state.starts_at.astimezone(clinic.tz)
    clinic_name = " ".join(clinic.name.split()) or "Your clinic"
    unsubscribe = links.unsubscribe_url(patient)
    values = {
        "first_name": (patient.name or "").split()[0] if (patient.name or "").split() else "there",
        "clinic_name": clinic_name,
        "clinic_phone": (clinic.clinic.phone or "").strip() or "the clinic",
        "date": f"{starts:%A, %B} {starts.day}, {starts.year}",
        "start_time": mail.clock(starts),
        "timezone": starts.tzname() or clinic.tz.key,
        "location": (visit.item.location or "").strip() or "(see the portal)",
        "portal_url": links.portal_url(),
        "unsubscribe_url": unsubscribe,
    }
    provider = (visit.item.provider or "").strip() if clinic.show_provider else ""
    answers = _answers(visit, now)

    message = EmailMessage()
    message["From"] = formataddr((clinic_name, config.current().sender_email))
    message["To"] = patient.email
    reply_to = _clinic_address(clinic.clinic.admin_email)
    if reply_to:
        message["Reply-To"] = reply_to  # a reply reaches the clinic, not a no-reply box
    message["Subject"] = f"Reminder: your appointment on {starts:%a, %b} {starts.day} at {mail.clock(starts)}"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.stamp(message, now)
    message.set_content(
        mail.render(
            "reminder.txt",
            dict(
                values,
                provider_line=f"\n  Provider:  {provider}" if provider else "",
                answer_block=_answer_text(answers),
            ),
        )
    )
    escaped = {key: html.escape(value) for key, value in values.items()}
    provider_row = _PROVIDER_ROW.format(provider=html.escape(provider)) if provider else ""
    message.add_alternative(
        mail.render("reminder.html", dict(escaped, provider_row=provider_row, answer_buttons=_answer_html(answers))),
        subtype="html",
    )
    attachment = ical.visit_file(visit)
    message.add_attachment(
        attachment.body.encode("utf-8"),
        maintype="text",
        subtype="calendar",
        filename=attachment.filename,
        params={"method": "PUBLISH", "charset": "utf-8"},
    )
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


def _answers(visit: ScheduledVisit, now: datetime) -> list[tuple[str, str]]:
    """(label, link) for what the patient can do now: Confirm and Cancel while it awaits an answer
    (Cancel only while the clinic takes cancellations online), Change my answer once answered."""
    actions = rules.available_actions(visit.state, visit.clinic.policy, now)
    labels = {rules.Action.CONFIRM: "Confirm", rules.Action.CANCEL: "Cancel", rules.Action.CHANGE: "Change my answer"}
    return [(labels[action], links.answer_url(visit, action.value)) for action in actions]


def _answer_text(answers: list[tuple[str, str]]) -> str:
    if not answers:
        return "It can no longer be changed online; to change it, call the clinic."
    return "\n".join(["Your answer, in one click:"] + [f"  {label}: {url}" for label, url in answers])


_PROVIDER_ROW = '<tr><th align="left" scope="row" style="padding-right: 16px;">Provider</th><td>{provider}</td></tr>'
_BUTTON = (
    '<a href="{url}" style="display: inline-block; margin: 0 8px 8px 0; padding: 10px 18px; border-radius: 6px; '
    'background: {background}; color: #ffffff; font-weight: bold; text-decoration: none;">{label}</a>'
)
_COLOURS = {"Confirm": "#1b6e3a", "Cancel": "#b42318", "Change my answer": "#0b57d0"}


def _answer_html(answers: list[tuple[str, str]]) -> str:
    if not answers:
        return "<p>It can no longer be changed online; to change it, call the clinic.</p>"
    buttons = "".join(
        _BUTTON.format(url=html.escape(url), background=_COLOURS[label], label=html.escape(label))
        for label, url in answers
    )
    return f"<p>{buttons}</p>"


def _clinic_address(admin_email: str | None) -> str | None:
    try:
        display_name, address = inputs.parse_mailbox(admin_email or "")
    except BadInput:
        return None
    return formataddr((display_name, address))
