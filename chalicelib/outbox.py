"""The clinic emails kept because they could not be sent as things stand: the outbox table.

An item holds what the email needs (the ids, the kind of action, the visit as the patient acted
on it, when) until it is sent; then it is removed. Readable in the console, counted on the staff
settings (`undelivered_emails`), one partition per clinic.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.models import KEPT, KeptEmail

# The contract's promise: a kept email goes out when a valid address is saved, up to 30 days later.
PROMISED = timedelta(days=30)
# The item's TTL, well past that: an email older than 30 days is reported every day, not dropped.
KEPT_FOR = timedelta(days=90)
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Kept:
    """One kept email: the action's fields (as `notifications.PatientAction` has them) and why it waits."""

    fields: dict[str, str]
    problem: str
    kept_at: str


_FIELDS = (
    "kind",
    "change_id",
    "clinic_id",
    "patient_id",
    "visit_id",
    "patient_name",
    "starts_at",
    "provider",
    "location",
    "acted_at",
    "reason",
)


def keep(fields: dict[str, str], problem: str, now: datetime) -> bool:
    """Stores the email once per action (a redelivered record keeps it once); False if it was kept already."""
    item = KeptEmail(
        **{name: fields.get(name) or "" for name in _FIELDS},
        problem=problem,
        kept_at=_instant_ms(now),
        kept=KEPT,
        expires_at=now + KEPT_FOR,
    )
    item.clinic_id = item.clinic_id or "(none)"
    try:
        item.save(condition=KeptEmail.change_id.does_not_exist())
    except PutError as error:
        if getattr(error, "cause_response_code", None) == _CONDITION_FAILED:
            return False
        raise
    return True


def kept(clinic_id: str) -> list[Kept]:
    """The clinic's kept emails, oldest action first (one Query of its partition)."""
    return sorted((_kept(item) for item in KeptEmail.query(clinic_id, consistent_read=True)), key=_acted)


def kept_everywhere(older_than: datetime | None = None) -> list[Kept]:
    """Every kept email (of any clinic), or those kept before `older_than`: one Query of `by_age`."""
    condition = None if older_than is None else KeptEmail.kept_at < _instant_ms(older_than)
    keys = list(KeptEmail.by_age.query(KEPT, condition))
    found = []
    for key in keys:  # the index holds keys only; read each item itself
        try:
            found.append(_kept(KeptEmail.get(key.clinic_id, key.change_id, consistent_read=True)))
        except KeptEmail.DoesNotExist:
            continue  # sent meanwhile
    return sorted(found, key=_acted)


def count(clinic_id: str) -> int:
    return KeptEmail.count(clinic_id, consistent_read=True)


def remove(clinic_id: str, change_id: str) -> None:
    """The email went out: it is no longer kept (already removed by another sender is fine)."""
    try:
        KeptEmail(clinic_id, change_id).delete(condition=KeptEmail.change_id.exists())
    except DeleteError as error:
        if getattr(error, "cause_response_code", None) != _CONDITION_FAILED:
            raise


def _instant_ms(moment: datetime) -> str:
    """UTC to the millisecond, so kept emails sort in the order they were kept (the stream's order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _kept(item: KeptEmail) -> Kept:
    fields = {name: getattr(item, name) or "" for name in _FIELDS}
    return Kept(fields, item.problem or "", item.kept_at or "")


def _acted(kept_email: Kept) -> tuple[str, str]:
    return kept_email.kept_at, kept_email.fields["change_id"]
