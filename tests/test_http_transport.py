"""What the API answers beyond its JSON: HEAD wherever GET is, validators on the page's files and
the API description (304 to If-None-Match), and gzip compression (API Gateway's
`minimum_compression_size`, and the local server doing the same)."""

import gzip
import http.client
import json
import threading
from pathlib import Path

import pytest
from chalice import Chalice, Response
from chalice.config import Config

from local import emulator
from local.gateway import accepts_gzip, compression_threshold, dev_server
from tests.test_openapi import SPEC

GET_PATHS = [path for path, item in SPEC["paths"].items() if "get" in item]
CHALICE_CONFIG = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())


def test_every_get_of_the_description_has_a_head_with_the_same_statuses():
    for path in GET_PATHS:
        get, head = SPEC["paths"][path]["get"], SPEC["paths"][path].get("head")
        assert head is not None, f"HEAD {path} is not described"
        assert set(head["responses"]) == set(get["responses"]), path
        assert head.get("security", SPEC["security"]) == get.get("security", SPEC["security"]), path


def test_every_get_route_of_the_app_answers_head(app):
    for path, methods in app.routes.items():
        if "GET" in methods:
            assert "HEAD" in methods, path


@pytest.mark.parametrize("path", ["/health", "/", "/web/app.js", "/web/styles.css", "/openapi.yaml"])
def test_head_of_a_public_route_answers_as_its_get(api, path):
    got, headed = api.get(path), api.call("HEAD", path)
    assert got.status_code == headed.status_code == 200
    assert dict(headed.headers) == dict(got.headers)  # Content-Type, ETag, security headers: all the same


@pytest.mark.parametrize("path", ["/portal/me", "/portal/preferences", "/portal/sessions"])
def test_head_of_a_patient_route_answers_as_its_get_and_needs_the_same_token(api, clinic, path):
    token = clinic.token_for("Alex")
    assert api.call("HEAD", path, token).status_code == api.get(path, token).status_code == 200
    assert api.call("HEAD", path).status_code == 401
    assert api.call("HEAD", path, clinic.staff_token).status_code == 403
    assert api.call("HEAD", path, token).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/web/app.js", "/web/styles.css", "/openapi.yaml"])
def test_the_pages_files_and_the_description_answer_304_while_the_clients_copy_is_current(api, path):
    first = api.get(path)
    etag = first.headers["ETag"]

    again = api.get(path, headers={"If-None-Match": etag})
    weak = api.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    stale = api.get(path, headers={"If-None-Match": '"not-this-one"'})

    assert first.status_code == stale.status_code == 200 and stale.body == first.body
    assert again.status_code == weak.status_code == 304
    assert again.body == b"" and again.headers["ETag"] == etag
    assert first.headers["Cache-Control"] == "no-cache"  # always asked again: a new deployment shows at once


def test_the_etag_is_a_hash_of_the_files_bytes(api):
    from chalicelib.http_cache import strong_etag

    response = api.get("/web/styles.css")
    assert response.headers["ETag"] == strong_etag(response.body)


def test_api_gateway_compresses_answers_of_a_kilobyte_and_more():
    assert CHALICE_CONFIG["minimum_compression_size"] == 1024
    assert compression_threshold() == 1024


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        (None, False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_as_http_says(header, accepted):
    assert accepts_gzip(header) is accepted


@pytest.fixture
def local_server():
    """The local server of `make run`, in front of an app with a large and a small answer."""
    app = Chalice(app_name="compression-test")

    @app.route("/large", methods=["GET", "HEAD"])
    def large():
        return Response(body="x" * 5000, headers={"Content-Type": "text/plain", "Vary": "Accept-Language"})

    @app.route("/small")
    def small():
        return {"ok": True}

    port = emulator.free_port()
    server = dev_server(app, Config.create(chalice_stage="local", app_name="compression-test"), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()


def fetch(port, path, method="GET", **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_local_server_compresses_as_api_gateway_does(local_server):
    status, headers, body = fetch(local_server, "/large", **{"Accept-Encoding": "gzip, deflate"})

    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"x" * 5000
    assert int(headers["Content-Length"]) == len(body) < 5000
    assert headers["Vary"] == "Accept-Language, Accept-Encoding"


def test_the_local_server_sends_a_client_that_takes_no_gzip_the_plain_body(local_server):
    status, headers, body = fetch(local_server, "/large")
    assert status == 200 and "Content-Encoding" not in headers and body == b"x" * 5000
    assert "Accept-Encoding" in headers["Vary"]


def test_the_local_server_leaves_a_small_answer_alone(local_server):
    status, headers, body = fetch(local_server, "/small", **{"Accept-Encoding": "gzip"})
    assert status == 200 and "Content-Encoding" not in headers and json.loads(body) == {"ok": True}


def test_a_head_through_the_local_server_has_no_body(local_server):
    status, headers, body = fetch(local_server, "/large", "HEAD", **{"Accept-Encoding": "gzip"})
    assert (status, body) == (200, b"") and headers["Content-Length"] == "5000"
