"""The local server (`make run`) answers as the deployed API does, also to requests a browser never sends."""

import http.client
import json
import threading

import pytest
from chalice import Chalice
from chalice.config import Config

from local import emulator
from local.gateway import dev_server


@pytest.fixture
def local_server():
    """The local server of `make run`, in front of a one-route app of its own."""
    app = Chalice(app_name="gateway-test")

    @app.route("/thing")
    def thing():
        return {"ok": True}

    port = emulator.free_port()
    server = dev_server(app, Config.create(chalice_stage="local", app_name="gateway-test"), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()


def request(port, method, path="/thing"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Allow"), response.read()
    finally:
        connection.close()


def test_a_route_answers_through_the_local_server(local_server):
    status, _, body = request(local_server, "GET")
    assert (status, json.loads(body)) == (200, {"ok": True})


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_that_no_route_has_gets_the_json_405_not_a_501(local_server, method):
    status, allow, body = request(local_server, method)

    assert status == 405
    assert allow == "GET"
    assert json.loads(body) == {"Code": "MethodNotAllowedError", "Message": f"Unsupported method: {method}"}


@pytest.mark.parametrize("authorization", [None, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "Bearer caf\xe9"])
def test_a_path_that_no_route_has_is_a_json_404_that_repeats_no_token(local_server, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    connection = http.client.HTTPConnection("127.0.0.1", local_server, timeout=5)
    try:
        connection.putrequest("GET", "/no/such/path")
        for name, value in headers.items():
            connection.putheader(name, value.encode("latin-1"))
        connection.endheaders()
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()

    assert status == 404
    assert json.loads(body) == {"Code": "NotFoundError", "Message": "There is no such path."}


def test_the_portals_gateway_answers_an_unknown_path_with_404_too(api, clinic):
    token = clinic.token_for("Alex")

    response = api.get("/portal/no-such-page", token)

    assert response.status_code == 404
    assert response.data["Code"] == "NotFoundError"
    assert token not in response.body.decode()
