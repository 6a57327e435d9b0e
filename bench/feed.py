"""The calendar feed's figures: what one poll of `GET /cal/{secret}.ics` costs in DynamoDB requests
and bytes, for a patient with a visit in every status, and what a poll that changed nothing
(If-None-Match → 304) costs.

The feed is made the way the page makes it (`POST /portal/calendar-feed`) and read through the
test client (gateway and handler, no login), as a calendar app would read it.
"""

import json
import statistics
import time
from urllib.parse import urlsplit

RUNS = 20


class FeedBroken(Exception):
    """The feed did not answer as it must (not 200/304, another number of events)."""


def _get(client, path: str, headers: dict | None = None):
    started = time.perf_counter()
    response = client.http.request("GET", path, headers=headers or {})
    return response, (time.perf_counter() - started) * 1000


def measure(client, counter, token: str, expected_events: int) -> dict:
    made = client.http.request("POST", "/portal/calendar-feed", headers={"Authorization": f"Bearer {token}"})
    if made.status_code != 201:
        raise FeedBroken(f"POST /portal/calendar-feed answered {made.status_code}")
    # The address starts with the deployment's public URL (its own path, /api, included): the
    # test client serves the routes themselves.
    path = "/cal/" + urlsplit(json.loads(made.body)["url"]).path.rsplit("/cal/", 1)[1]
    _get(client, path)  # warm: the first read of the feed table makes its connection
    durations, requests = [], []
    for _ in range(RUNS):
        with counter.measure() as tally:
            response, ms = _get(client, path)
        if response.status_code != 200:
            raise FeedBroken(f"GET {path} answered {response.status_code}")
        durations.append(ms)
        requests.append(tally.requests("dynamodb"))
    events = response.body.count(b"BEGIN:VEVENT")
    if events != expected_events:
        raise FeedBroken(f"the feed holds {events} visits, not {expected_events}")
    with counter.measure() as unchanged:
        again, _ = _get(client, path, {"If-None-Match": response.headers["ETag"]})
    if again.status_code != 304 or again.body:
        raise FeedBroken(f"a conditional GET with the current ETag answered {again.status_code}")
    return {
        "feed_requests_small": max(requests),
        "feed_requests_304": unchanged.requests("dynamodb"),
        "feed_visits": events,
        "feed_bytes_per_visit": round(len(response.body) / events),
        "feed_dynamodb_bytes_per_visit": round(tally.bytes_received / events),
        "feed_read_amplification": round(tally.examined / tally.returned, 3) if tally.returned else None,
        "feed_ms_p50": round(statistics.median(durations), 2),
        "feed_path": path,
    }


def requests_at(client, counter, path: str) -> int:
    """DynamoDB requests of one poll of an existing feed (at another table size)."""
    with counter.measure() as tally:
        response, _ = _get(client, path)
    if response.status_code != 200:
        raise FeedBroken(f"GET {path} answered {response.status_code}")
    return tally.requests("dynamodb")
