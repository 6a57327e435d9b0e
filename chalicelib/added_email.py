"""The email a person gets when a clinic adds them to its portal and they have a login already
(a new person gets Cognito's invitation instead): which clinic, and where to log in, in the
language the clinic gave for them.

From the clinic's name at the deployment's sender. Minimum necessary: the subject names no clinic
(a clinic's name can say what kind of care it gives), the body no name and nothing about visits.
"""

from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr

from botocore.exceptions import ClientError

from chalicelib import aws, config, i18n, mail
from chalicelib.i18n import N_
from chalicelib.logs import logger

KIND = "added-to-clinic"
SUBJECT = N_("You have been added to a client portal")


def compose(
    clinic_name: str, clinic_phone: str, to: str, portal_url: str, language: str, now: datetime
) -> EmailMessage:
    words = i18n.words(language)
    name = " ".join((clinic_name or "").split()) or words.gettext("A clinic")
    phone = (clinic_phone or "").strip()
    values = {
        "clinic_name": name,
        "portal_url": portal_url,
        "unexpected": (
            words.gettext("Did not expect this? Call %(clinic)s at %(phone)s.", clinic=name, phone=phone)
            if phone
            else words.gettext("Did not expect this? Call %(clinic)s.", clinic=name)
        ),
    }
    message = EmailMessage()
    message["From"] = formataddr((name, config.current().sender_email))
    message["To"] = to
    message["Subject"] = words.gettext(SUBJECT)
    mail.stamp(message, now)
    message.set_content(i18n.render("added_to_clinic.txt", words.code, values))
    message.add_alternative(i18n.render("added_to_clinic.html", words.code, values), subtype="html")
    message["Content-Language"] = words.code  # after the body: setting the content clears Content-* headers
    return message


def send(message: EmailMessage, clinic_id: str, patient_id: str) -> None:
    """Sends it once. A failure is logged (ids only) and not raised: the clinic's answer must read
    the same whether or not the person had a login, and the membership stands either way."""
    request = mail.ses_request(
        message, message["To"].addresses[0].addr_spec, {"kind": KIND, "clinic_id": clinic_id, "patient_id": patient_id}
    )
    try:
        response = aws.sesv2().send_email(**request)
    except ClientError as error:
        logger.warning(
            "Added-to-clinic email not sent",
            extra={"clinic_id": clinic_id, "patient_id": patient_id, "reason": error.response["Error"].get("Code")},
        )
        return
    logger.info(
        "Added-to-clinic email sent",
        extra={"clinic_id": clinic_id, "patient_id": patient_id, "message_id": response["MessageId"]},
    )
