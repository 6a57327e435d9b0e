"""`make bench` (`python -m bench.run`): what each request costs, checked against budgets.

Starts its own AWS emulator in this process, seeds it, measures, prints a table and then,
as the very last line, every figure as one JSON object. Exits 1 when a figure misses its
budget (or could not be measured), 2 when the measurement itself is broken.

Order matters. The request counter is installed before anything creates an AWS client (no
import makes one: clients are made on first use). The small-table figures (latency,
overhead) are taken before the filler that makes the visits table 100,000 items, because
moto answers an index Query by walking the whole table (seconds per Query at 100,000 items)
where DynamoDB reads only the patient's partition; the figures that must stay flat as
clinics grow (requests, items examined) are taken at both sizes.
"""

import json
import math
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chalice.test import Client

from app import app
from bench import feed, footprint, reminders, seed, stream
from bench.counting import JwksFetches, RequestCounter
from bench.replay import Replay
from bench.seed import TIMEZONE
from chalicelib import times
from chalicelib.logs import logger
from chalicelib.models import Visit
from local import emulator, records
from local.gateway import use_portal_gateway

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
SENDER_EMAIL = "portal-noreply@bench.example"
STAGE = "bench"  # not in .chalice/config.json: the test client adds only the top-level variables
RUNS = 40  # timed repetitions per side (≥ 30), interleaved
RUNS_REPLAYED = 200  # replayed requests are cheap: more runs, a steadier median on a noisy machine
RUNS_100K = 3  # at 100,000 items each moto Query takes seconds: enough to show it, no more
SMALL_TABLE_VISITS = 1_000  # the reminders are measured at this many visits, then at 100,000
WARM_UP = 3
IMPORT_RUNS = 15
STREAM_CANCELS = 30
LISTED_VISITS = 100

# (key, budget, what). A figure is within budget when it is <= the budget.
BUDGETS = [
    ("list_requests", 2, "DynamoDB requests, one warm GET /portal/sessions (worst of both table sizes)"),
    ("respond_requests", 3, "DynamoDB requests, one PUT …/response (worst of both table sizes)"),
    ("scans", 0, "Scan calls anywhere during the run"),
    ("read_amplification", 1.1, "items examined ÷ returned, 100-visit list, 100,000-item table"),
    ("jwks_fetches_warm", 0, "token key fetches after the container's first request"),
    ("stream_requests_no_email", 1, "AWS requests for a stream record that needs no email: its history event only"),
    ("history_writes_per_record", 1, "history writes for one stream record (a redelivery adds none)"),
    ("history_requests", 2, "DynamoDB requests, one GET /portal/sessions/{id}/history (visit + clinic, one Query)"),
    ("history_read_amplification", 1.1, "items examined ÷ returned, reading a visit's history"),
    ("feed_requests", 3, "DynamoDB requests, one GET /cal/{secret}.ics (worst of both table sizes)"),
    ("overhead_ratio", 2.0, "our GET /portal/sessions ÷ bare pynamodb query, medians, DynamoDB replayed"),
    ("import_ratio", 2.5, "cold `import app` ÷ cold `import chalice, boto3`, medians"),
    ("clinic_page_requests", 2, "DynamoDB requests per page, paging a 20,000-visit clinic's year (worst page)"),
    ("clinic_page_kib_max", 1024, "largest answer paging that year, KiB (API Gateway's limit is 10 MiB)"),
    ("reminder_arm_requests", 2, "AWS requests to arm a new visit's reminder (worst of both table sizes)"),
    ("reminder_send_requests", 8, "AWS requests per reminder sent, its sweep's share included (worst of both sizes)"),
]
REPORTED = [
    ("list_ms_p50", "GET /portal/sessions, 100 visits, ms, median (emulator answering)"),
    ("list_ms_p95", "GET /portal/sessions, 100 visits, ms, 95th percentile (emulator answering)"),
    ("respond_ms_p50", "PUT …/response, ms, median (emulator answering)"),
    ("emails_per_s", "clinic emails sent per second by the stream handler"),
    ("history_ms", "GET /portal/sessions/{id}/history, 12 events, ms (emulator answering)"),
    ("import_ms", "cold `import app`, ms, median"),
    ("feed_bytes_per_visit", "calendar feed bytes per visit in it (125 visits, every status)"),
    ("feed_dynamodb_bytes_per_visit", "bytes DynamoDB sent per visit for one feed poll"),
    ("feed_requests_304", "DynamoDB requests of a feed poll answered 304 (If-None-Match)"),
    ("feed_read_amplification", "items examined ÷ returned, one feed poll"),
    ("feed_ms_p50", "GET /cal/{secret}.ics, 125 visits, ms, median (emulator answering)"),
    ("bundle_mib", "Lambda bundle, zipped, MiB"),
    ("bare_query_ms_p50", "the bare pynamodb query alone, ms, median (emulator answering)"),
    ("overhead_ratio_emulator", "overhead ratio with the emulator answering both sides"),
    ("list_ms_p50_replayed", "GET /portal/sessions, ms, median, DynamoDB replayed"),
    ("bare_query_ms_p50_replayed", "the bare query, ms, median, DynamoDB replayed"),
    ("list_ms_cold", "the process's first GET /portal/sessions (keys fetched, clients made), ms"),
    ("jwks_fetches_cold", "token key fetches by that first request"),
    ("jwks_fetches_staff_pool", "key fetches of the staff pool, by the first staff request (once)"),
    ("list_requests_cold", "DynamoDB requests of that first request (with the authorizer's read of the clinics)"),
    ("list_requests_small", "DynamoDB requests, one warm GET, before the filler"),
    ("read_amplification_small", "items examined ÷ returned, before the filler"),
    ("list_requests_100k", "DynamoDB requests, one GET at 100,000 items"),
    ("respond_requests_100k", "DynamoDB requests, one PUT at 100,000 items"),
    ("feed_requests_100k", "DynamoDB requests, one feed poll at 100,000 items"),
    ("list_ms_p50_100k", "GET at 100,000 items, ms, median (moto walks the table per Query)"),
    ("bare_query_ms_p50_100k", "bare query at 100,000 items, ms, median (the same walk)"),
    ("table_visits", "items in the visits table for the 100k figures"),
    ("clinic_year_pages", "pages of 500 for the 20,000-visit clinic's year (every visit exactly once)"),
    ("clinic_page_requests_first", "DynamoDB requests of the first page (the last page's: clinic_page_requests_last)"),
    ("clinic_page_requests_last", "DynamoDB requests of the last page: the same as the first, flat"),
    ("clinic_page_ms_p50", "GET /clinic/sessions?limit=500, ms, median page (moto walks the table per Query)"),
    ("reminder_table_visits_small", "visits in the table when the first reminders were measured"),
    ("reminder_send_requests_small", "AWS requests per reminder sent, 1,000 visits"),
    ("reminder_send_requests_100k", "AWS requests per reminder sent, 100,000 visits: the same"),
    ("reminder_arm_requests_100k", "AWS requests to arm one reminder, 100,000 visits"),
    ("reminder_sweep_dynamodb_100k", f"DynamoDB requests of a sweep sending {reminders.BATCH} reminders, 100k visits"),
    ("import_baseline_ms", "cold `import chalice, boto3`, ms, median"),
    ("bundle_unzipped_mib", "Lambda bundle, unzipped, MiB"),
]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2)


def ratio(numerator: list[float], denominator: list[float]) -> float:
    return round(statistics.median(numerator) / statistics.median(denominator), 2)


class Broken(Exception):
    """The measurement itself is wrong (a counter that sees nothing, a list with other items)."""


# --- The service, in this process -----------------------------------------------------------


@dataclass(frozen=True)
class Service:
    server: object
    client: Client
    provisioned: emulator.Provisioned


def start_service() -> Service:
    """Emulator → tables, pool, sender (the service bound to them) → the test client, as the suite does."""
    port = emulator.free_port()
    server = emulator.start(port)
    provisioned = emulator.provision(
        f"http://127.0.0.1:{port}",
        table_prefix="portal-bench",
        sender_email=SENDER_EMAIL,
        public_url="https://portal.bench.example",  # where reminder links point
    )
    logger.setLevel("INFO")  # as deployed: the per-request log line is part of the cost
    # Formatted and written, just not shown; the stream lives as long as the process.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    client = Client(app, stage_name=STAGE, project_dir=str(ROOT))
    use_portal_gateway(client)
    return Service(server, client, provisioned)


class Http:
    """Requests through the chalice test client (gateway, authorizer, handler), timed."""

    def __init__(self, client):
        self._client = client

    def request(self, method: str, path: str, token: str = None, body: dict = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else b""
        started = time.perf_counter()
        response = self._client.http.request(method, path, headers=headers, body=data)
        elapsed_ms = (time.perf_counter() - started) * 1000
        payload = json.loads(response.body) if response.body else None
        if response.status_code != 200:
            raise Broken(f"{method} {path} answered {response.status_code}: {payload}")
        return payload, elapsed_ms

    def log_in(self, email: str, password: str) -> str:
        return self.request("POST", "/auth/login", body={"username": email, "password": password})[0]["id_token"]

    def log_in_staff(self, email: str, password: str, totp_secret: str) -> str:
        challenge = self.request("POST", "/auth/login", body={"username": email, "password": password})[0]
        body = {"username": email, "session": challenge["session"], "code": records.totp_code(totp_secret)}
        return self.request("POST", "/auth/mfa", body=body)[0]["id_token"]


# --- The measurements ------------------------------------------------------------------------


def bare_query(data):
    """The Query the list handler makes, with nothing of ours around it: same index, same bounds."""
    from zoneinfo import ZoneInfo

    first, last = times.day_bounds_utc(data.range_from, data.range_to, ZoneInfo(TIMEZONE))
    low, high = times.format_instant(first), times.format_instant(last)

    def query():
        started = time.perf_counter()
        visits = list(
            Visit.by_start.query(data.listed_patient, Visit.starts_at.between(low, high), consistent_read=True)
        )
        return visits, (time.perf_counter() - started) * 1000

    return query


def check_counter(counter, query) -> None:
    """A counter that misses calls would make every request budget pass: prove it sees one."""
    with counter.measure() as tally:
        query()
    if tally.count("Query") != 1 or tally.requests() != 1:
        raise Broken(f"the request counter saw {tally.summary()} for one pynamodb Query")


def list_vs_bare(http, counter, token, path, query, runs) -> dict:
    """Interleaved: handler then bare query on even runs, bare then handler on odd ones."""
    handler_ms, bare_ms, requests = [], [], []
    examined = returned = 0

    def handler():
        nonlocal examined, returned
        with counter.measure() as tally:
            payload, ms = http.request("GET", path, token)
        if len(payload["sessions"]) != LISTED_VISITS:
            raise Broken(f"the listed patient has {len(payload['sessions'])} visits in range, not {LISTED_VISITS}")
        handler_ms.append(ms)
        requests.append(tally.requests("dynamodb"))
        examined, returned = examined + tally.examined, returned + tally.returned

    def bare():
        visits, ms = query()
        if len(visits) != LISTED_VISITS:
            raise Broken(f"the bare query returned {len(visits)} visits, not {LISTED_VISITS}")
        bare_ms.append(ms)

    for run in range(runs):
        for step in (handler, bare) if run % 2 == 0 else (bare, handler):
            step()
    return {
        "handler_ms": handler_ms,
        "bare_ms": bare_ms,
        "max_requests": max(requests),
        "read_amplification": round(examined / returned, 3) if returned else None,
    }


def answer_visits(http, counter, token, visit_ids) -> dict:
    durations, requests = [], []
    for visit_id in visit_ids:
        with counter.measure() as tally:
            payload, ms = http.request(
                "PUT", f"/portal/sessions/{visit_id}/response", token, body={"response": "confirmed"}
            )
        if payload["status"] != "patient_confirmed":
            raise Broken(f"answering {visit_id} left it {payload['status']}")
        durations.append(ms)
        requests.append(tally.requests("dynamodb"))
    return {"ms": durations, "max_requests": max(requests)}


def stream_figures(service: Service, counter, data) -> dict:
    """The stream handler's figures (bench/stream.py); its failure is a finding to report, not a crash."""
    keys = [(data.answering_patient, visit_id) for visit_id in data.answerable[-(STREAM_CANCELS + 1) :]]
    visits = sorted(Visit.batch_get(keys, consistent_read=True), key=lambda visit: visit.visit_id)
    now = times.format_instant(datetime.now(UTC))
    settings = service.provisioned.settings
    try:
        return stream.measure(
            service.client, counter, visits, service.provisioned.visits_stream_arn, settings.region, now
        )
    except Exception as error:
        traceback.print_exc()
        return {
            "stream_requests_no_email": None,
            "emails_per_s": None,
            "stream_error": f"the stream handler raised {type(error).__name__}: {error}",
        }


@dataclass(frozen=True)
class Portal:
    """The bench clinic as the measured requests see it: its data, logins and the listed range."""

    http: Http
    data: seed.BenchData
    listed: str  # the listed patient's token
    answering: str  # the answering patient's token
    path: str  # GET /portal/sessions over the listed range
    query: object  # the bare pynamodb query of the same range


def history_figures(portal: Portal, counter, stream: dict) -> dict:
    """The patient reads the history of the visit the stream figures changed ROOM_CHANGES times."""
    if not stream.get("history_visit"):
        return {"history_requests": None, "history_read_amplification": None}
    with counter.measure() as tally:
        payload, ms = portal.http.request(
            "GET", f"/portal/sessions/{stream['history_visit']}/history", portal.answering
        )
    if len(payload["events"]) != stream["history_events_written"]:
        raise Broken(f"the history holds {len(payload['events'])} events, not {stream['history_events_written']}")
    return {
        "history_requests": tally.requests("dynamodb"),
        "history_read_amplification": round(tally.examined / tally.returned, 3) if tally.returned else None,
        "history_ms": round(ms, 1),
    }


def first_request(portal: Portal, counter, jwks) -> dict:
    """The container's first authorized request: keys fetched once, clients made."""
    fetches_before = jwks.count
    with counter.measure() as cold:
        ms = portal.http.request("GET", portal.path, portal.listed)[1]
    return {
        "list_ms_cold": round(ms, 1),
        "jwks_fetches_cold": jwks.count - fetches_before,
        "list_requests_cold": cold.requests("dynamodb"),
    }


def on_the_small_table(portal: Portal, counter) -> dict:
    """Latency and overhead with the emulator answering, on the clinic's own items only."""
    for _ in range(WARM_UP):
        portal.http.request("GET", portal.path, portal.listed)
        portal.query()
    small = list_vs_bare(portal.http, counter, portal.listed, portal.path, portal.query, RUNS)
    return {
        "list_ms_p50": median(small["handler_ms"]),
        "list_ms_p95": p95(small["handler_ms"]),
        "bare_query_ms_p50": median(small["bare_ms"]),
        "overhead_ratio_emulator": ratio(small["handler_ms"], small["bare_ms"]),
        "list_requests_small": small["max_requests"],
        "read_amplification_small": small["read_amplification"],
    }


def with_dynamodb_replayed(portal: Portal, counter, replay: Replay) -> dict:
    """The overhead ratio with every DynamoDB answer replayed: our code against pynamodb's alone."""
    with replay.recording():
        portal.http.request("GET", portal.path, portal.listed)
    with replay.replaying():
        replayed = list_vs_bare(portal.http, counter, portal.listed, portal.path, portal.query, RUNS_REPLAYED)
    if replay.missing:
        raise Broken(f"nothing recorded to replay for {sorted(replay.missing)}")
    return {
        "overhead_ratio": ratio(replayed["handler_ms"], replayed["bare_ms"]),
        "list_ms_p50_replayed": median(replayed["handler_ms"]),
        "bare_query_ms_p50_replayed": median(replayed["bare_ms"]),
    }


def feed_figures(service: Service, counter, portal: Portal) -> dict:
    """One patient's calendar feed: requests and bytes per poll (bench/feed.py)."""
    # The feed covers 30 days back to 180 ahead: the 100 listed visits and the 25 just after the list's range.
    expected = seed.LISTED_IN_RANGE + seed.LISTED_OUT_OF_RANGE // 2
    try:
        return feed.measure(service.client, counter, portal.listed, expected)
    except feed.FeedBroken as broken:
        raise Broken(str(broken)) from None


PAGE = 500


def paging_a_big_clinic(http: Http, counter, jwks, now: datetime, region: str) -> dict:
    """A 20,000-visit clinic's year, paged as staff tools do: requests and size flat per page.
    The first staff request fetches the staff pool's keys once (counted apart from the warm figure)."""
    fetches_before = jwks.count
    big = seed.seed_big_clinic(now, region)
    token = http.log_in_staff(big.staff_email, big.staff_password, big.totp_secret)
    path = f"/clinic/sessions?from={big.range_from.isoformat()}&to={big.range_to.isoformat()}&limit={PAGE}"
    requests, sizes, durations, seen, cursor = [], [], [], [], None
    while True:
        with counter.measure() as tally:
            payload, ms = http.request("GET", path + (f"&cursor={cursor}" if cursor else ""), token)
        requests.append(tally.requests("dynamodb"))
        sizes.append(len(json.dumps(payload).encode()))
        durations.append(ms)
        seen += [visit["id"] for visit in payload["sessions"]]
        cursor = payload["next_cursor"]
        if cursor is None:
            break
    if len(seen) != big.visits or len(set(seen)) != big.visits:
        raise Broken(f"paging the big clinic returned {len(seen)} visits ({len(set(seen))} distinct), not {big.visits}")
    return {
        "jwks_fetches_staff_pool": jwks.count - fetches_before,
        "clinic_year_pages": len(requests),
        "clinic_page_requests": max(requests),
        "clinic_page_requests_first": requests[0],
        "clinic_page_requests_last": requests[-1],
        "clinic_page_kib_max": round(max(sizes) / 1024, 1),
        "clinic_page_ms_p50": median(durations),
    }


def warm(portal: Portal) -> None:
    """One untimed request per token: the gateway caches the authorizer's answer per token (as API
    Gateway does, for 5 minutes), so the measured requests are warm ones. A cold request also reads
    the patient's clinics once (`list_requests_cold`)."""
    for token in (portal.listed, portal.answering):
        portal.http.request("GET", "/portal/me", token)


def at_100k_visits(portal: Portal, counter, now: datetime, region: str) -> dict:
    """100,000 visits across many clinics and patients: what must stay flat as clinics grow."""
    started = time.perf_counter()
    seed.seed_filler(now, region)
    warm(portal)  # the seeding may have outlasted the gateway's cache of the authorizer's answer
    figures = {"seed_filler_s": round(time.perf_counter() - started, 1), "table_visits": seed.table_size(Visit, region)}
    if figures["table_visits"] != seed.TABLE_VISITS:
        raise Broken(f"the visits table holds {figures['table_visits']} items, not {seed.TABLE_VISITS}")
    big = list_vs_bare(portal.http, counter, portal.listed, portal.path, portal.query, RUNS_100K)
    answered = answer_visits(portal.http, counter, portal.answering, [portal.data.answerable[RUNS]])
    return {
        **figures,
        "list_requests_100k": big["max_requests"],
        "read_amplification": big["read_amplification"],
        "list_ms_p50_100k": median(big["handler_ms"]),
        "bare_query_ms_p50_100k": median(big["bare_ms"]),
        "respond_requests_100k": answered["max_requests"],
    }


def reminder_figures(counter, data, now: datetime, region: str, label: str, days_ahead: int) -> dict:
    """Arming and sending reminders (bench/reminders.py) at the table's current size."""
    bench = reminders.Bench(data.clinic_id, seed.ANSWERING)
    try:
        reminders.turn_reminders_on(bench)
        figures = reminders.measure(counter, bench, now, label, days_ahead)
    except reminders.RemindersBroken as broken:
        raise Broken(str(broken)) from None
    return {**figures, f"reminder_table_visits_{label}": seed.table_size(Visit, region)}


def measure(counter: RequestCounter, jwks: JwksFetches, replay: Replay) -> dict:
    figures = footprint.import_times(ROOT, IMPORT_RUNS)  # first: the emulator is not yet busy
    service = start_service()
    try:
        region = service.provisioned.settings.region
        now = datetime.now(UTC)
        data = seed.seed_bench_clinic(now)
        http = Http(service.client)
        portal = Portal(
            http=http,
            data=data,
            listed=http.log_in(data.logins[data.listed_patient], seed.PASSWORD),
            answering=http.log_in(data.logins[data.answering_patient], seed.PASSWORD),
            path=f"/portal/sessions?from={data.range_from.isoformat()}&to={data.range_to.isoformat()}",
            query=bare_query(data),
        )
        figures.update(first_request(portal, counter, jwks))
        warm_from = jwks.count
        check_counter(counter, portal.query)
        figures.update(on_the_small_table(portal, counter))
        figures.update(with_dynamodb_replayed(portal, counter, replay))
        warm(portal)
        answered = answer_visits(http, counter, portal.answering, data.answerable[:RUNS])
        figures["respond_ms_p50"] = median(answered["ms"])
        figures.update(stream_figures(service, counter, data))
        figures.update(history_figures(portal, counter, figures))
        figures.update(feed_figures(service, counter, portal))
        seed.seed_filler(now, region, total_visits=SMALL_TABLE_VISITS)  # the reminders' first size
        figures.update(reminder_figures(counter, data, now, region, "small", days_ahead=3))
        figures.update(paging_a_big_clinic(http, counter, jwks, now, region))
        figures.update(at_100k_visits(portal, counter, now, region))
        figures.update(reminder_figures(counter, data, now, region, "100k", days_ahead=4))
        try:
            figures["feed_requests_100k"] = feed.requests_at(service.client, counter, figures.pop("feed_path"))
        except feed.FeedBroken as broken:
            raise Broken(str(broken)) from None
        figures["feed_requests"] = max(figures["feed_requests_small"], figures["feed_requests_100k"])
        figures["list_requests"] = max(figures["list_requests_small"], figures["list_requests_100k"])
        figures["respond_requests"] = max(answered["max_requests"], figures["respond_requests_100k"])
        for figure in ("reminder_arm_requests", "reminder_send_requests"):
            figures[figure] = max(figures[f"{figure}_small"], figures[f"{figure}_100k"])
        # The staff pool's own first fetch is a cold one too, of another pool's keys.
        figures["jwks_fetches_warm"] = jwks.count - warm_from - figures["jwks_fetches_staff_pool"]
        figures["scans"] = counter.total.count("Scan")
    finally:
        service.server.stop()
    figures.update(footprint.bundle_size(ROOT))
    return figures


# --- Verdicts and output ---------------------------------------------------------------------


def judge(figures: dict):
    """Table rows and the keys that failed (or could not be measured)."""
    rows, failed = [], []
    for key, budget, what in BUDGETS:
        value, note, verdict = figures.get(key), what, "ok"
        if value is None:
            note, verdict = figures.get("stream_error", "not measured"), "FAIL"
        elif value > budget:
            verdict = "FAIL"
        if verdict == "FAIL":
            failed.append(key)
        rows.append((key, value, f"≤ {budget}", verdict, note))
    for key, what in REPORTED:
        value, note, verdict = figures.get(key), what, ""
        if key == "emails_per_s" and (value is None or figures["emails_sent"] != figures["emails_expected"]):
            # No rate, or a rate of the wrong number of emails: the contract is one email per action.
            note = figures.get("stream_error") or (
                f"sent {figures['emails_sent']} emails for {figures['emails_expected']} patient cancels"
            )
            verdict = "FAIL"
            failed.append(key)
        elif key.startswith("bundle") and value is None:
            note = f"not measured: {figures.get('bundle_error', 'pip failed')}"
        rows.append((key, value, "—", verdict, note))
    return rows, failed


def table(rows) -> str:
    def shown(value):
        return "—" if value is None else str(value)

    name_width = max(len(row[0]) for row in rows)
    value_width = max(len(shown(row[1])) for row in rows)
    lines = [f"{'figure':<{name_width}}  {'value':>{value_width}}  {'budget':<6}  {'result':<6}  what"]
    lines.append("-" * (len(lines[0]) + 40))
    for key, value, budget, verdict, note in rows:
        lines.append(f"{key:<{name_width}}  {shown(value):>{value_width}}  {budget:<6}  {verdict:<6}  {note}")
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    # Before anything makes an AWS client or a key client.
    counter = RequestCounter().install()
    jwks = JwksFetches().install()
    replay = Replay().install()
    try:
        figures = measure(counter, jwks, replay)
    except Broken as broken:
        print(f"bench: the measurement is broken: {broken}", file=sys.stderr)
        print(json.dumps({"error": str(broken)}))
        return 2
    rows, failed = judge(figures)
    figures.update(
        failed=failed,
        bench_s=round(time.perf_counter() - started, 1),
        measured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    verdict = "All budgets hold" if not failed else f"Over budget or not measured: {', '.join(failed)}"
    text = f"{table(rows)}\n\n{verdict}. {figures['bench_s']} s."
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.txt").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(text)
    print(json.dumps(figures, sort_keys=True), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
