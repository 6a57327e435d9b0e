"""Validators and conditional requests (RFC 9110 §8.8 and §13.1), as pure functions: what lets a
client that polls (a calendar app) ask "has it changed?" and get a bodiless 304 when not."""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def strong_etag(body: bytes) -> str:
    """A strong validator of exactly these bytes."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def http_date(instant: datetime) -> str:
    """`Tue, 01 Dec 2026 14:00:00 GMT` (whole seconds: what a client can send back)."""
    return format_datetime(instant.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime, now: datetime) -> bool:
    """Whether a GET or HEAD with these request headers gets 304 Not Modified.

    If-None-Match decides when present (weak comparison, `*` matches); otherwise
    If-Modified-Since, when it is one valid HTTP date that is not in the future.
    """
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    since = _http_date_or_none(headers.get("if-modified-since"))
    if since is None or since > now:
        return False
    return last_modified.astimezone(UTC).replace(microsecond=0) <= since


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` names this validator (weak comparison, `*` matches); False when absent."""
    return if_none_match is not None and _matches(if_none_match, etag)


def _matches(if_none_match: str, etag: str) -> bool:
    wanted = _opaque(etag)
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or _opaque(candidate) == wanted:
            return True
    return False


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _http_date_or_none(value: str | None) -> datetime | None:
    if not value or "," in value.split(" ", 1)[-1]:  # absent, or more than one date
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # an HTTP date is always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
