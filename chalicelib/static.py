"""The patient web page and the OpenAPI description, served by the API itself.

The same files can be deployed as static files in front of the API instead; the page reads
the API's base URL from its own `<meta name="api-base">`.
"""

from functools import cache
from pathlib import Path

from chalice import NotFoundError, Response

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
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def asset_response(name: str) -> Response:
    if name not in _ASSETS:
        raise NotFoundError("Unknown file.")
    headers = dict(_PAGE_HEADERS, **{"Content-Type": _ASSETS[name]})
    return Response(body=_read(_WEB / name), headers=headers)


def openapi_response() -> Response:
    return Response(
        body=_read(_HERE / "openapi.yaml"),
        headers={"Content-Type": "application/yaml; charset=utf-8", "Access-Control-Allow-Origin": "*"},
    )
