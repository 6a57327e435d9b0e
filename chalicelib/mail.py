"""What every email the portal sends shares: the SES request (configuration set, tags), the
headers other relays would not add, SES's permanent refusals, templates and the clock as an
email writes it.

Senders: the clinic's emails (`notifications`) and the patients' reminders (`reminder_email`).
"""

import functools
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from string import Template

from chalicelib import config

TEMPLATES = Path(__file__).parent / "templates"
# SES refusals that a retry would meet again.
PERMANENT_SES_ERRORS = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "AccountSuspendedException",
    "SendingPausedException",
}
_TAG_VALUE = re.compile(r"[^A-Za-z0-9_-]")


def tag(value: str) -> str:
    """An SES message tag value: ASCII letters, digits, `_` and `-`, at most 256 characters."""
    return _TAG_VALUE.sub("_", str(value))[:256] or "none"


def stamp(message: EmailMessage, now: datetime) -> None:
    """`Date` and `Message-ID`: SES adds them, but a message must not depend on the relay."""
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_domain())


def sender_domain() -> str:
    return config.current().sender_email.rpartition("@")[2] or "localhost"


def ses_request(message: EmailMessage, to: str, tags: dict[str, str]) -> dict:
    """SES v2 SendEmail for a built message: raw MIME, the configuration set (TLS required, what
    happens to the email reported to operations), and ids as tags (never personal data)."""
    settings = config.current()
    request = {
        "FromEmailAddress": settings.sender_email,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": message.as_bytes()}},
        "EmailTags": [{"Name": name, "Value": tag(value)} for name, value in tags.items()],
    }
    if settings.configuration_set:
        request["ConfigurationSetName"] = settings.configuration_set
    return request


def render(name: str, values: dict[str, str], escape=None) -> str:
    """A template from `templates/`, with every value escaped for HTML when `escape` is given."""
    if escape is not None:
        values = {key: escape(value) for key, value in values.items()}
    return _template(name).substitute(values)


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def clock(moment: datetime) -> str:
    """`9:05 AM`: how a US clinic writes a time."""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
