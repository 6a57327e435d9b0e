"""`make run`'s entry point brings up the demo the contract describes, and stops on SIGTERM."""

import gzip
import json
import urllib.error
import urllib.request

import pyotp
import pytest
import yaml

from tests.local_stack import ROOT, LocalStack, log_in_staff, port_is_closed

WEB = ROOT / "chalicelib" / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


def call(base, method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def local_stack():
    stack = LocalStack("smoke-stack.log").start()
    yield stack
    stack.stop()


def login(base, email, password):
    status, body = call(base, "POST", "/auth/login", {"username": email, "password": password})
    assert status == 200, body
    return body["id_token"]


def test_the_demo_patient_sees_every_status(local_stack):
    base = local_stack.url
    token = login(base, "alex@demo-clinic.example", "Demo-Patient-2026!")

    me = call(base, "GET", "/portal/me", token=token)[1]
    listing = call(base, "GET", "/portal/sessions", token=token)[1]

    assert me["patient"]["name"] == "Alex Rivera"
    assert me["clinic"]["name"] == "Demo Family Therapy"
    assert me["clinic"]["timezone"] == "America/New_York"
    statuses = [v["status"] for v in listing["sessions"]]
    assert statuses.count("completed") >= 1 and statuses.count("cancelled") >= 1
    assert statuses.count("awaiting_response") >= 3
    assert statuses.count("patient_confirmed") >= 1 and statuses.count("pending_cancel") >= 1


def test_make_run_prints_the_demo_staff_totp_secret_whose_codes_log_staff_in(local_stack):
    secret, _northside = local_stack.staff_totp_secrets()
    assert pyotp.TOTP(secret).now().isdigit()
    tokens = log_in_staff(local_stack.url, "staff@demo-clinic.example", "Demo-Staff-2026!", secret)
    assert call(local_stack.url, "GET", "/clinic/settings", token=tokens["id_token"])[0] == 200


def test_the_demo_staff_password_alone_gets_no_token(local_stack):
    status, body = call(
        local_stack.url,
        "POST",
        "/auth/login",
        {"username": "staff@demo-clinic.example", "password": "Demo-Staff-2026!"},
    )
    assert status == 200
    assert body["challenge"] == "SOFTWARE_TOKEN_MFA" and "id_token" not in body


def test_the_demo_staff_and_second_patient_log_in(local_stack):
    base = local_stack.url
    secret, _northside = local_stack.staff_totp_secrets()
    staff = log_in_staff(base, "staff@demo-clinic.example", "Demo-Staff-2026!", secret)["id_token"]
    settings = call(base, "GET", "/clinic/settings", token=staff)[1]
    assert settings["admin_email"] == "frontdesk@demo-clinic.example"
    assert [c["name"] for c in settings["session_classes"] if c["cancelled"]] == [
        "Cancelled by client",
        "Cancelled by clinic",
    ]
    sam = login(base, "sam@demo-clinic.example", "Demo-Patient-2026!")
    upcoming = [
        v for v in call(base, "GET", "/portal/sessions", token=sam)[1]["sessions"] if v["status"] == "awaiting_response"
    ]
    assert len(upcoming) >= 2


def test_the_second_clinic_has_its_staff_and_riley_is_a_patient_of_both(local_stack):
    base = local_stack.url
    _demo, secret = local_stack.staff_totp_secrets()
    staff = log_in_staff(base, "staff@northside.example", "Demo-Staff-2026!", secret)["id_token"]
    settings = call(base, "GET", "/clinic/settings", token=staff)[1]
    assert (settings["name"], settings["timezone"], settings["admin_email"]) == (
        "Northside Counseling",
        "America/Chicago",
        "office@northside.example",
    )
    riley = login(base, "riley@demo-clinic.example", "Demo-Patient-2026!")
    clinics = call(base, "GET", "/portal/me", token=riley)[1]["clinics"]
    assert [c["name"] for c in clinics] == ["Demo Family Therapy", "Northside Counseling"]
    assert call(base, "GET", "/portal/sessions", token=riley)[0] == 400
    for clinic in clinics:
        sessions = call(base, "GET", "/portal/sessions", token=riley, headers={"X-Clinic-Id": clinic["id"]})[1]
        assert len([v for v in sessions["sessions"] if v["status"] == "awaiting_response"]) >= 2
    alex = login(base, "alex@demo-clinic.example", "Demo-Patient-2026!")
    assert [c["name"] for c in call(base, "GET", "/portal/me", token=alex)[1]["clinics"]] == ["Demo Family Therapy"]


def test_the_page_and_the_api_description_are_served(local_stack):
    base = local_stack.url
    with urllib.request.urlopen(base + "/", timeout=10) as page:
        assert "text/html" in page.headers["Content-Type"]
        assert b"Scheduling" in page.read()
    with urllib.request.urlopen(base + "/openapi.yaml", timeout=10) as spec:
        assert spec.read().startswith(b"openapi: 3.1")


def test_every_file_of_the_page_is_served_with_its_type_and_the_pages_csp(local_stack):
    """The script is ES modules: each one must come with a JavaScript type (browsers refuse a
    module otherwise) and the page's headers. The description lists exactly these files."""
    base = local_stack.url
    files = sorted(path.name for path in WEB.iterdir())
    assert {"index.html", "styles.css", "app.js", "api.js", "login.js"} <= set(files)
    spec = yaml.safe_load((ROOT / "chalicelib" / "openapi.yaml").read_text(encoding="utf-8"))
    [name_parameter] = [p for p in spec["paths"]["/web/{name}"]["get"]["parameters"] if p.get("name") == "name"]
    assert sorted(name_parameter["schema"]["enum"]) == files

    with urllib.request.urlopen(base + "/", timeout=10) as page:
        page_csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page_csp
    for name in files:
        with urllib.request.urlopen(f"{base}/web/{name}", timeout=10) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPES[(WEB / name).suffix], name
            assert response.headers["Content-Security-Policy"] == page_csp, name
            assert response.headers["X-Content-Type-Options"] == "nosniff", name
            assert response.read() == (WEB / name).read_bytes(), name

    for name in ["nope.js", "static.py", "openapi.yaml", "..%2Fstatic.py"]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/web/{name}", timeout=10)
        assert refused.value.code == 404, name


def test_make_run_compresses_large_answers_and_answers_head_without_a_body(local_stack):
    spec = (ROOT / "chalicelib" / "openapi.yaml").read_bytes()
    request = urllib.request.Request(f"{local_stack.url}/openapi.yaml", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.read()) == spec
    head = urllib.request.Request(f"{local_stack.url}/openapi.yaml", method="HEAD")
    with urllib.request.urlopen(head, timeout=10) as response:
        assert (response.status, response.read()) == (200, b"")
        assert response.headers["Content-Length"] == str(len(spec))


def test_sigterm_stops_everything(local_stack):
    assert local_stack.stop() == 0
    assert port_is_closed(local_stack.port), "the API still listens after SIGTERM"
    assert port_is_closed(local_stack.aws_port), "the AWS emulator still listens after SIGTERM"
