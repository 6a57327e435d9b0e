"""Client portal scheduling API: the routes, the token authorizer and the error edge; the
visits stream handler that emails the clinic, the clinics stream handler that sends the emails
kept for want of an address, the daily report of emails kept too long, and the consumer of what
SES reports about each email.

Each route reads the request, calls one function in `chalicelib/`, and returns a dict.
Domain errors become HTTP errors in `api()`, and nowhere else. Every entry point binds the
service to its deployment on first use (`runtime.ensure_bound`); importing this module reads
nothing but the CORS origin that `chalice package` and `chalice local` set for the stage.
"""

import functools
import os
import re
import time
import urllib.parse
from datetime import UTC, datetime

from chalice import (
    AuthResponse,
    BadRequestError,
    Chalice,
    ConflictError,
    CORSConfig,
    ForbiddenError,
    NotFoundError,
    Rate,
    Response,
    TooManyRequestsError,
    UnauthorizedError,
)

from chalicelib import (
    accounts,
    auth,
    calendar_feeds,
    email_events,
    errors,
    http_cache,
    i18n,
    ical,
    inputs,
    link_pages,
    links,
    memberships,
    notifications,
    reminders,
    rules,
    runtime,
    scheduling,
    static,
    streams,
    views,
)
from chalicelib.domain import language_of
from chalicelib.logs import AUDIT_KEYS, logger, touched

app = Chalice(app_name="client-portal")

_CORS = (
    CORSConfig(
        allow_origin=os.environ["CORS_ORIGIN"],
        allow_headers=["Authorization", "Content-Type", "X-Clinic-Id"],
        max_age=600,
    )
    if os.environ.get("CORS_ORIGIN")
    else None
)
# Only `chalice package` reads the stream ARN (it writes it into the template), and the merge
# template (deploy/resources.yaml) replaces it with the visits table's own stream.
PACKAGING_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/replaced-by-merge-template/stream/0"
PACKAGING_CLINICS_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/replaced-by-merge-template-2/stream/0"
PACKAGING_TOPIC = "replaced-by-merge-template"
_VISIT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Calendar apps poll a feed (hourly at best); a copy this young is served from their own cache,
# and "Stop sharing" reaches even such a copy within five minutes. Shared caches keep none.
FEED_CACHE_CONTROL = "private, max-age=300"
CALENDAR_TYPE = "text/calendar; charset=utf-8"
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
_ROUTE_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
# What a link page answers for each domain error (an HTML page, not the API's JSON).
_PAGE_STATUSES = {
    links.LinkExpired: 410,
    errors.BadInput: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooManyChanges: 429,
    errors.DomainError: 400,
}
# What mail clients post for a one-click unsubscribe (RFC 8058), and what a page's form posts.
_FORMS = ["application/x-www-form-urlencoded", "multipart/form-data"]
_HTTP_ERRORS = {
    errors.BadInput: BadRequestError,
    errors.NotAuthenticated: UnauthorizedError,
    errors.Forbidden: ForbiddenError,
    errors.NotFound: NotFoundError,
    errors.Conflict: ConflictError,
    errors.TooManyChanges: TooManyRequestsError,
}
# Answers of these routes carry personal data or credentials: no browser or proxy may keep them.
_NO_STORE = ("/auth/", "/portal/", "/clinic/")


@app.authorizer(ttl_seconds=300)
def cognito_id_token(auth_request):
    """Verifies the Cognito ID token on every /portal and /clinic request (signature, iss, aud, exp)."""
    runtime.ensure_bound()
    try:
        identity = auth.verify_id_token(auth_request.token)
    except auth.InvalidToken as rejected:
        logger.info("Token rejected", extra={"reason": str(rejected)})
        raise auth.Unauthorized() from None
    # A patient's clinics, read once per token: API Gateway caches this answer, so a warm
    # request costs no read of them.
    identity = memberships.resolve(identity)
    # Roles are checked in the handlers: API Gateway caches this answer per token and
    # reuses it for other routes, so the policy must not name only this route.
    return AuthResponse(routes=["*"], principal_id=identity.subject, context=identity.as_context())


@app.middleware("http")
def log_requests(event, get_response):
    """One line per request: who called (user id, role, clinic), what they touched (ids only), the
    outcome. And `Cache-Control: no-store` on every answer of /auth, /portal and /clinic."""
    started = time.perf_counter()
    # API Gateway's request id when there is one; the Lambda invocation's id otherwise (local mode).
    request_id = event.context.get("requestId") or getattr(event.lambda_context, "aws_request_id", None)
    resource = event.context.get("resourcePath") or ""
    logger.append_keys(request_id=request_id, route=f"{event.method} {resource}")
    caller = event.context.get("authorizer") or {}
    if caller.get("subject"):
        touched(
            user_id=caller["subject"],
            role=caller.get("role"),
            clinic_id=caller.get("clinic_id") or None,
            patient_id=caller.get("patient_id") or None,
        )
    visit_id = (event.uri_params or {}).get("visit_id")
    if visit_id and _VISIT_ID.match(visit_id):
        touched(visit_id=visit_id)
    try:
        response = get_response(event)
        if resource.startswith(_NO_STORE):
            response.headers["Cache-Control"] = "no-store"
        logger.info(
            "Request handled",
            extra={"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return response
    finally:
        logger.remove_keys(["request_id", "route", *AUDIT_KEYS])


def api(path, methods=("GET",), role=None, clinic_required=True):
    """Registers a route. With a role, only that role's verified token gets in, and the view
    receives the caller as `identity` (a patient as the membership the request names; with
    `clinic_required` False, a person of several clinics may also name none). Domain errors become
    HTTP errors here, and only here."""

    def register(view):
        @functools.wraps(view)
        def handle(**params):
            runtime.ensure_bound()
            try:
                if role is not None:
                    params["identity"] = caller(role, clinic_required)
                return view(**params)
            except errors.DomainError as error:
                http_error = next(_HTTP_ERRORS[c] for c in type(error).__mro__ if c in _HTTP_ERRORS)
                raise http_error(str(error)) from None

        authorizer = cognito_id_token if role is not None else None
        return app.route(path, methods=with_head(methods), cors=_CORS, authorizer=authorizer)(handle)

    return register


def with_head(methods) -> list[str]:
    """HEAD wherever GET is (RFC 9110 §9.3.2): API Gateway answers only the methods a route has, and
    a link checker or a monitor asks HEAD. The same view runs; the gateway drops the body."""
    methods = list(methods)
    return methods + ["HEAD"] if "GET" in methods and "HEAD" not in methods else methods


def link_page(path, methods=("GET", "HEAD"), content_types=None):
    """Registers a page behind a link in a patient's email (no login: the link's signed token
    speaks for the patient). The view returns a `link_pages.Page`; a link that is not ours, one
    that no longer works, and an answer the rules refuse become a page saying so, with its 4xx."""

    def register(view):
        @functools.wraps(view)
        def handle(**params):
            runtime.ensure_bound()
            try:
                page = view(now=utc_now(), **params)
            except errors.DomainError as error:
                status = next(_PAGE_STATUSES[c] for c in type(error).__mro__ if c in _PAGE_STATUSES)
                # In the link's patient's language once the link is verified; else the browser's.
                language = getattr(error, "language", None) or i18n.from_accept_language(
                    app.current_request.headers.get("accept-language")
                )
                page = link_pages.problem_page(status, error, language)
            # A HEAD gets the headers only (API Gateway and the local server drop the body).
            return Response(body=page.body, status_code=page.status, headers=link_pages.HEADERS)

        options = {"content_types": content_types} if content_types else {}
        return app.route(path, methods=list(methods), **options)(handle)

    return register


def form() -> dict:
    """A form's fields (`application/x-www-form-urlencoded`), the first value of each."""
    raw = (app.current_request.raw_body or b"").decode("utf-8", "replace")
    try:
        fields = urllib.parse.parse_qs(raw, max_num_fields=20)
    except ValueError:
        raise errors.BadInput("This form could not be read.") from None
    return {name: values[0] for name, values in fields.items()}


def caller(role: auth.Role, clinic_required: bool = True) -> auth.Identity:
    identity = auth.Identity.from_context(app.current_request.context.get("authorizer") or {})
    if identity.is_expired():
        raise UnauthorizedError("The session has expired. Please log in again.")
    if identity.role is not role:
        raise ForbiddenError("This route is not available to your account.")
    if role is auth.Role.PATIENT:
        identity = identity.choosing(chosen_clinic(), required=clinic_required)
        touched(clinic_id=identity.clinic_id or None, patient_id=identity.patient_id or None)
    return identity


def chosen_clinic() -> str | None:
    """The clinic a patient's request names: the `X-Clinic-Id` header or the `clinic_id` parameter."""
    header = (app.current_request.headers.get("x-clinic-id") or "").strip()
    parameter = (query("clinic_id") or "").strip()
    if header and parameter and header != parameter:
        raise errors.BadInput("X-Clinic-Id and clinic_id name different clinics; send one.")
    return header or parameter or None


def utc_now() -> datetime:
    return datetime.now(UTC)


def body():
    try:
        return app.current_request.json_body  # malformed JSON is a 400 from Chalice itself
    except RecursionError:  # JSON nested thousands deep: Chalice only turns ValueError into a 400
        raise errors.BadInput("The request body is nested too deeply.") from None


def query(name):
    return (app.current_request.query_params or {}).get(name)


def visit_id_from(value: str) -> str:
    if not _VISIT_ID.match(value):
        raise errors.NotFound("Unknown visit.")
    return value


def created(payload, headers=None) -> Response:
    return Response(body=payload, status_code=201, headers=headers or {})


def public_url(path: str) -> str:
    """An absolute address of this API: the deployment's PUBLIC_URL (a custom domain) when set,
    otherwise where this request came in (its host, and the stage or base path before our
    routes). Called only from a route without path parameters, whose own path is its route."""
    configured = runtime.ensure_bound().public_url
    if configured:
        return configured.rstrip("/") + path
    request = app.current_request
    host = request.headers.get("host") or ""
    if not _HOST.match(host):
        host = request.context.get("domainName") or "localhost"
    scheme = request.headers.get("x-forwarded-proto")
    if scheme not in ("http", "https"):
        scheme = "http" if host.rsplit(":", 1)[0] in _LOOPBACK else "https"
    # API Gateway's own domain puts the stage first (/api/portal/...), a custom domain its base
    # path, `chalice local` nothing: whatever the gateway saw before the route.
    seen = request.context.get("path") or ""
    prefix = seen[: -len(request.path)] if seen.endswith(request.path) else ""
    if not _ROUTE_PREFIX.match(prefix):
        prefix = ""
    return f"{scheme}://{host}{prefix}{path}"


def feed_secret_from(name: str) -> str:
    """`<secret>.ics` → the secret; any other name is an unknown feed."""
    if not name.endswith(".ics"):
        raise errors.NotFound(calendar_feeds.UNKNOWN_FEED)
    return name.removesuffix(".ics")


def calendar_download(file: ical.CalendarFile) -> Response:
    return Response(
        body=file.body,
        headers={
            "Content-Type": CALENDAR_TYPE,
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def calendar_feed_response(body: str, last_modified: datetime, now: datetime) -> Response:
    """The feed with its validators; 304 without a body when the client's copy is current."""
    etag = http_cache.strong_etag(body.encode("utf-8"))
    headers = {
        "Content-Type": CALENDAR_TYPE,
        "ETag": etag,
        "Last-Modified": http_cache.http_date(last_modified),
        "Cache-Control": FEED_CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer",
    }
    if http_cache.not_modified(app.current_request.headers, etag, last_modified, now):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, headers=headers)


# --- Public ----------------------------------------------------------------------------


@api("/health")
def health():
    return {"status": "ok"}


@api("/auth/login", methods=["POST"])
def log_in():
    return accounts.log_in(*inputs.login(body()))


@api("/auth/new-password", methods=["POST"])
def set_new_password():
    return accounts.set_first_password(*inputs.new_password(body()))


@api("/auth/mfa-setup", methods=["POST"])
def set_up_second_factor():
    return accounts.complete_mfa_setup(*inputs.mfa_code(body()))


@api("/auth/mfa", methods=["POST"])
def answer_second_factor():
    return accounts.answer_mfa(*inputs.mfa_code(body()))


@api("/auth/refresh", methods=["POST"])
def refresh_tokens():
    return accounts.refresh(inputs.refresh(body()))


@api("/auth/logout", methods=["POST"])
def log_out():
    accounts.log_out(inputs.refresh(body()))
    return Response(body="", status_code=204)


# --- Patient ---------------------------------------------------------------------------


@api("/portal/me", role=auth.Role.PATIENT, clinic_required=False)
def my_profile(identity):
    return views.me_view(scheduling.persons_clinics(identity))


@api("/portal/preferences", role=auth.Role.PATIENT)
def my_preferences(identity):
    return views.preferences_view(scheduling.patient_preferences(identity))


@api("/portal/preferences", methods=["PATCH"], role=auth.Role.PATIENT)
def change_my_preferences(identity):
    return views.preferences_view(scheduling.update_preferences(identity, inputs.preferences_patch(body())))


@api("/portal/sessions", role=auth.Role.PATIENT)
def my_visits(identity):
    now = utc_now()
    return views.schedule_view(scheduling.patient_visits(identity, query("from"), query("to"), now), now)


@api("/portal/sessions/{visit_id}/response", methods=["PUT"], role=auth.Role.PATIENT)
def answer_visit(visit_id, identity):
    request = inputs.response_request(body())
    now = utc_now()
    visit = scheduling.respond(identity, visit_id_from(visit_id), request, now)
    return views.answer_view(visit, now, with_notice=request.response is rules.PatientResponse.CANCELLED)


@api("/portal/sessions/{visit_id}/response", methods=["DELETE"], role=auth.Role.PATIENT)
def change_answer(visit_id, identity):
    now = utc_now()
    return views.visit_view(scheduling.clear_response(identity, visit_id_from(visit_id), now), now)


@api("/portal/sessions/{visit_id}/history", role=auth.Role.PATIENT)
def my_visit_history(visit_id, identity):
    return views.patient_history_view(scheduling.patient_history(identity, visit_id_from(visit_id)))


@api("/portal/sessions/{visit_id}/calendar.ics", role=auth.Role.PATIENT)
def visit_calendar_file(visit_id, identity):
    visit = scheduling.patient_visit(identity, visit_id_from(visit_id))
    return calendar_download(ical.visit_file(visit, scheduling.patient_language(identity)))


@api("/portal/calendar-feed", methods=["POST"], role=auth.Role.PATIENT)
def new_calendar_feed(identity):
    secret = calendar_feeds.new_feed(identity, utc_now())
    return created(views.feed_view(public_url(f"/cal/{secret}.ics")), headers={"Cache-Control": "no-store"})


@api("/portal/calendar-feed", methods=["DELETE"], role=auth.Role.PATIENT)
def stop_calendar_feed(identity):
    calendar_feeds.stop_feed(identity)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


# --- The calendar feed: no login (calendar apps cannot log in); the secret is the key ------


@api("/cal/{feed}")
def calendar_feed(feed):
    now = utc_now()
    found = calendar_feeds.feed_schedule(feed_secret_from(feed), now)
    return calendar_feed_response(ical.feed_calendar(found.schedule, found.language), found.last_modified, now)


# --- The links in patients' emails: no login; the signed token speaks for the patient --------


@link_page("/r/{token}")
def reminder_link(token, now):
    """Shows the visit and a button for each answer open now: opening it never changes anything."""
    opened = links.open_answer_link(token, now)
    return link_pages.answer_page(opened.visit, now, opened.language, wanted=query("do"))


@link_page("/r/{token}", methods=["POST"], content_types=_FORMS[:1])
def answer_reminder_link(token, now):
    answered = links.answer(token, form(), now)
    return link_pages.answer_page(answered.visit, now, answered.language, done=answered.action)


@link_page("/u/{token}")
def unsubscribe_link(token, now):
    profile = links.unsubscribing(token)
    return link_pages.unsubscribe_page(profile.clinic.name, language_of(profile.patient), done=False)


@link_page("/u/{token}", methods=["POST"], content_types=_FORMS)
def unsubscribe(token, now):
    """A click on the page's button, or a mail client's one-click unsubscribe (its body says only that)."""
    profile = links.unsubscribe(token)
    return link_pages.unsubscribe_page(profile.clinic.name, language_of(profile.patient), done=True)


# --- Clinic staff ----------------------------------------------------------------------


@api("/clinic/settings", role=auth.Role.STAFF)
def clinic_settings(identity):
    return views.settings_view(scheduling.clinic_settings(identity.clinic_id))


@api("/clinic/settings", methods=["PATCH"], role=auth.Role.STAFF)
def change_clinic_settings(identity):
    return views.settings_view(scheduling.update_settings(identity, inputs.settings_patch(body())))


@api("/clinic/patients", role=auth.Role.STAFF)
def clinic_patients(identity):
    page = inputs.page_request(query("limit"), query("cursor"))
    return views.patient_page_view(scheduling.clinic_patients(identity, page))


@api("/clinic/patients", methods=["POST"], role=auth.Role.STAFF)
def add_patient(identity):
    new = inputs.new_patient(body())
    return created(views.patient_view(scheduling.create_patient(identity, new, utc_now(), public_url("/"))))


@api("/clinic/sessions", role=auth.Role.STAFF)
def clinic_visits(identity):
    page = inputs.page_request(query("limit"), query("cursor"))
    now = utc_now()
    return views.clinic_schedule_view(scheduling.clinic_visits(identity, query("from"), query("to"), page, now), now)


@api("/clinic/sessions", methods=["POST"], role=auth.Role.STAFF)
def add_visit(identity):
    now = utc_now()
    return created(views.clinic_visit_view(scheduling.create_visit(identity, inputs.new_visit(body()), now), now))


@api("/clinic/sessions/{visit_id}", methods=["PATCH"], role=auth.Role.STAFF)
def change_visit(visit_id, identity):
    patch = inputs.visit_patch(body())
    now = utc_now()
    return views.clinic_visit_view(scheduling.update_visit(identity, visit_id_from(visit_id), patch, now), now)


@api("/clinic/sessions/{visit_id}/history", role=auth.Role.STAFF)
def visit_history(visit_id, identity):
    return views.staff_history_view(scheduling.staff_history(identity, visit_id_from(visit_id)))


# --- The streams and the schedules: clinic emails, visit history, reminders ------------------------------


# TRIM_HORIZON: a new or re-created mapping starts with the oldest record the stream still
# holds, so no change is skipped (every consumer is idempotent, so nothing happens twice).
# A one-second window groups bursts without delaying a clinic's email noticeably. On AWS,
# deploy/resources.yaml also sets these on the event source mapping, with retries, bisecting
# and the on-failure queue.
@app.on_dynamodb_record(
    stream_arn=PACKAGING_STREAM_ARN,
    name="visit_changes",
    batch_size=10,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=1,
)
def visit_changes(event):
    """Every change to a visit → its consumers (the clinic's email, the visit history, its
    reminders). Returns the records to retry; the event source mapping needs
    `FunctionResponseTypes: [ReportBatchItemFailures]`."""
    runtime.ensure_bound()
    return streams.handle_visit_changes(event.to_dict(), event.context)


# The clinics table's stream: a clinic saved with a valid admin_email (through the portal or in
# the console) gets the emails kept for it, at once; changed reminder settings re-arm the
# upcoming visits' reminders. deploy/resources.yaml sets the real stream.
@app.on_dynamodb_record(
    stream_arn=PACKAGING_CLINICS_STREAM_ARN,
    name="clinic_changes",
    batch_size=10,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=1,
)
def clinic_changes(event):
    runtime.ensure_bound()
    return streams.handle_clinic_changes(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="send_reminders")
def send_reminders(event):
    """Every minute: each reminder that fell due since the last sweep, sent once or skipped (the
    visit moved, was cancelled, the patient turned reminders off...). See chalicelib/reminders.py."""
    runtime.ensure_bound()
    reminders.register_invocation(event.context)
    report = reminders.send_due()
    return {"sent": report.sent, "skipped": report.skipped, "busy": report.busy, "failed": report.failed}


@app.schedule(Rate(1, unit=Rate.DAYS), name="kept_emails_report")
def kept_emails_report(event):
    """Daily: every email kept longer than the 30 days the contract promises is reported (log, metric, alarm)."""
    runtime.ensure_bound()
    notifications.report_kept_too_long()


# What SES reports about each clinic email (delivered, bounced, complained), through the
# configuration set's topic: one log line and one metric each, tied to the visit and change id.
@app.on_sns_message(topic=PACKAGING_TOPIC, name="email_events")
def ses_email_events(event):
    runtime.ensure_bound()
    email_events.record(event.message)


# --- The web page and the API description ----------------------------------------------


@app.route("/", methods=with_head(["GET"]))
def portal_page():
    return static.asset_response("index.html", app.current_request.headers)


@app.route("/web/{name}", methods=with_head(["GET"]))
def portal_asset(name):
    return static.asset_response(name, app.current_request.headers)


@app.route("/openapi.yaml", methods=with_head(["GET"]))
def openapi_description():
    return static.openapi_response(app.current_request.headers)
