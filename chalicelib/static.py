"""The patient web page and the OpenAPI description, served by the API itself.

The same files can be deployed as static files in front of the API instead; the page reads
the API's base URL from its own `<meta name="api-base">`.

Every file carries a strong `ETag` (a hash of its bytes) with `Cache-Control: no-cache`: a browser
asks again each time (a new deployment shows at once) and gets a bodiless 304 while its copy is
the current one (`If-None-Match`). API Gateway compresses the larger ones (`minimum_compression_size`).
"""

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from chalice import NotFoundError, Response

from chalicelib import http_cache

_HERE = Path(__file__).parent
_WEB = _HERE / "web"
# The script is native ES modules, one file per concern: every *.js file directly in web/ is
# served, so a new module needs no change here (openapi.yaml lists the names). Nothing else is.
_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "styles.css": "text/css; charset=utf-8",
    **{path.name: "text/javascript; charset=utf-8" for path in sorted(_WEB.glob("*.js"))},
}
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(path: Path) -> tuple[str, str]:
    """The file's text and its ETag, read once per container."""
    text = path.read_text(encoding="utf-8")
    return text, http_cache.strong_etag(text.encode("utf-8"))


def asset_response(name: str, request_headers: Mapping[str, str]) -> Response:
    if name not in _ASSETS:
        raise NotFoundError("Unknown file.")
    return _file_response(_WEB / name, dict(_PAGE_HEADERS, **{"Content-Type": _ASSETS[name]}), request_headers)


def openapi_response(request_headers: Mapping[str, str]) -> Response:
    headers = {
        "Content-Type": "application/yaml; charset=utf-8",
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": "no-cache",
    }
    return _file_response(_HERE / "openapi.yaml", headers, request_headers)


def _file_response(path: Path, headers: dict, request_headers: Mapping[str, str]) -> Response:
    body, etag = _read(path)
    headers = dict(headers, ETag=etag)
    if http_cache.etag_matches(request_headers.get("if-none-match"), etag):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, headers=headers)
