"""Signed tokens (cursors now, links later): bound to a purpose, verifiable across key rotation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from chalicelib import config, signing

ROOT = Path(__file__).resolve().parent.parent


def test_what_is_signed_verifies_to_the_same_payload(aws):
    token = signing.sign("test-purpose", {"clinic": "c1", "after": {"n": 3}})
    assert signing.verify("test-purpose", token) == {"clinic": "c1", "after": {"n": 3}}


def test_a_token_signed_for_one_purpose_does_not_verify_for_another(aws):
    token = signing.sign("clinic-visits-page", {"clinic": "c1"})
    with pytest.raises(signing.BadSignature):
        signing.verify("reminder-link", token)


@pytest.mark.parametrize("token", ["", "v1", "v1.k1.e30", "v1.k1.e30.", "v1.current.e30.x", "v1.k1.!!.x", None])
def test_malformed_tokens_are_bad_signatures_not_errors(aws, token):
    with pytest.raises(signing.BadSignature):
        signing.verify("test-purpose", token)


def test_the_secret_is_read_once_and_then_cached(aws, monkeypatch):
    signing.sign("test-purpose", {})
    provider = signing._provider()
    reads = []
    original = provider._get
    monkeypatch.setattr(provider, "_get", lambda *a, **k: reads.append(1) or original(*a, **k))
    for _ in range(5):
        signing.verify("test-purpose", signing.sign("test-purpose", {"n": 1}))
    assert reads == []


def secret_keys():
    client = boto3.client("secretsmanager", endpoint_url=config.current().endpoint)
    return json.loads(client.get_secret_value(SecretId=config.current().signing_keys_secret)["SecretString"])


def rotate(aws):
    env = dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.admin",
            "rotate-signing-key",
            "--signing-keys-secret",
            aws.settings.signing_keys_secret,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rotating_the_key_signs_new_tokens_with_it_while_old_tokens_still_verify(aws):
    before = signing.sign("test-purpose", {"n": 1})
    old_current = secret_keys()["current"]

    result = rotate(aws)

    assert result.returncode == 0, result.stderr
    keys = secret_keys()
    assert keys["current"] != old_current and old_current in keys
    assert "is now current" in result.stdout
    assert keys[keys["current"]] not in result.stdout  # the key itself is never printed
    # A container that has not read the secret since still verifies tokens of the new key...
    new_key_token = f"v1.{keys['current']}." + _resign_body(keys)
    assert signing.verify("test-purpose", new_key_token) == {"n": 2}
    # ...and once it reads the secret again, signs with the new key and verifies the old tokens.
    signing.forget_keys()
    assert signing.sign("test-purpose", {}).split(".")[1] == keys["current"]
    assert signing.verify("test-purpose", before) == {"n": 1}


def _resign_body(keys) -> str:
    """A token body and signature made with the new key, as a container that rotated first would."""
    body = signing._b64(json.dumps({"n": 2}, separators=(",", ":")).encode())
    return f"{body}.{signing._mac(keys[keys['current']], 'test-purpose', keys['current'], body)}"
