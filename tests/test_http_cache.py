"""Conditional requests as RFC 9110 has them (chalicelib/http_cache.py, pure): when a poll gets 304."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.http_cache import http_date, not_modified, strong_etag

NOW = datetime(2026, 12, 1, 15, 0, 0, tzinfo=UTC)
CHANGED = datetime(2026, 12, 1, 14, 0, 0, 250_000, tzinfo=UTC)  # sub-second: HTTP dates cannot say it
ETAG = strong_etag(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, False),
        ({"if-none-match": ETAG}, True),
        ({"if-none-match": f"W/{ETAG}"}, True),  # If-None-Match compares weakly
        ({"if-none-match": f'"a", "b", {ETAG}'}, True),
        ({"if-none-match": "*"}, True),
        ({"if-none-match": '"something-else"'}, False),
        ({"if-modified-since": "Tue, 01 Dec 2026 14:00:00 GMT"}, True),
        ({"if-modified-since": "Tue, 01 Dec 2026 13:59:59 GMT"}, False),
        ({"if-modified-since": "Tuesday, 01-Dec-26 14:30:00 GMT"}, True),  # the obsolete RFC 850 form
        ({"if-modified-since": "Tue, 01 Dec 2026 14:00:00 GMT, Wed, 02 Dec 2026 00:00:00 GMT"}, False),
        ({"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"}, False),  # later than now: not valid
        ({"if-modified-since": "yesterday"}, False),
        ({"if-none-match": '"something-else"', "if-modified-since": "Tue, 01 Dec 2026 14:30:00 GMT"}, False),
    ],
)
def test_a_request_gets_304_only_when_its_copy_is_current(headers, expected):
    assert not_modified(headers, ETAG, CHANGED, NOW) is expected


def test_an_etag_is_strong_and_follows_the_bytes():
    assert ETAG.startswith('"') and ETAG.endswith('"') and not ETAG.startswith("W/")
    assert strong_etag(b"a") != strong_etag(b"b")
    assert strong_etag(b"a") == strong_etag(b"a")


def test_an_http_date_is_gmt_in_whole_seconds():
    assert http_date(CHANGED.astimezone(datetime.now().astimezone().tzinfo)) == "Tue, 01 Dec 2026 14:00:00 GMT"
    assert http_date(CHANGED + timedelta(hours=1)) == "Tue, 01 Dec 2026 15:00:00 GMT"
