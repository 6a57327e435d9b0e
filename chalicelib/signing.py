"""Tamper-proof tokens for what the API hands out and takes back: list cursors, and links.

`sign(purpose, payload)` gives an opaque string; `verify(purpose, token)` gives the payload
back, or raises `BadSignature` for anything that was not signed by us for that same purpose
(altered, truncated, made up, or a token of another purpose). HMAC-SHA256 with a key from
AWS Secrets Manager, read through Powertools' parameters utility and cached per container.

The secret is JSON: `{"current": "k2", "k1": "<random>", "k2": "<random>"}`. Tokens are
signed with the current key and name its id, so keys rotate (`python -m ops.admin
rotate-signing-key`) without breaking tokens signed with an older key that is still listed.
A token naming a key this container has not seen yet makes it read the secret again.
"""

import base64
import hashlib
import hmac
import json
import re
from functools import cache

from chalicelib import aws, config

VERSION = "v1"
# A warm container picks up a rotated key within this many seconds (verification of a token
# signed with a key it does not know yet fetches the secret at once).
CACHE_SECONDS = 300
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MIN_KEY_LENGTH = 32


class BadSignature(ValueError):
    """The token was not signed by this deployment for this purpose. The reason is never shown."""


def sign(purpose: str, payload: dict) -> str:
    keys = _keys()
    key_id = keys["current"]
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{VERSION}.{key_id}.{body}.{_mac(keys[key_id], purpose, key_id, body)}"


def verify(purpose: str, token: str) -> dict:
    try:
        version, key_id, body, mac = token.split(".")
    except (AttributeError, ValueError):
        raise BadSignature("malformed") from None
    if version != VERSION or not _KEY_ID.match(key_id):
        raise BadSignature("malformed")
    keys = _keys()
    if key_id not in keys:
        keys = _keys(fresh=True)  # rotated since this container last read the secret
    if key_id not in keys or key_id == "current":
        raise BadSignature("unknown key")
    if not hmac.compare_digest(mac, _mac(keys[key_id], purpose, key_id, body)):
        raise BadSignature("wrong signature")
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        raise BadSignature("unreadable") from None
    if not isinstance(payload, dict):
        raise BadSignature("unreadable")
    return payload


def _mac(key: str, purpose: str, key_id: str, body: str) -> str:
    message = f"{purpose}\n{key_id}\n{body}".encode()
    return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _keys(fresh: bool = False) -> dict[str, str]:
    keys = _provider().get(
        config.current().signing_keys_secret, max_age=CACHE_SECONDS, transform="json", force_fetch=fresh
    )
    check_keys(keys)
    return keys


def check_keys(keys) -> None:
    """The secret's shape: a current key id that names one of the listed keys, each long enough."""
    if not isinstance(keys, dict) or keys.get("current") not in keys or keys.get("current") == "current":
        raise RuntimeError("The signing keys secret must be JSON with a 'current' key id that it lists.")
    for key_id, key in keys.items():
        if key_id == "current":
            continue
        if not _KEY_ID.match(key_id) or not isinstance(key, str) or len(key) < _MIN_KEY_LENGTH:
            raise RuntimeError(f"The signing key {key_id!r} must be text of at least {_MIN_KEY_LENGTH} characters.")


@cache
def _provider():
    # Imported here: only the requests that sign or verify pay for it.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def forget_keys() -> None:
    """A new binding may be another secret (`runtime.bind`)."""
    _provider.cache_clear()
