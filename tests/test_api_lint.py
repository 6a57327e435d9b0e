"""The API description passes Spectral (`spectral:oas`) and Redocly (`recommended`) with no
finding at all: errors, warnings, infos and hints all fail. Both are pinned in
tests/api_lint/package.json and installed by `make test`."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tests" / "api_lint"
SPEC = ROOT / "chalicelib" / "openapi.yaml"
# No network, no telemetry, no update notice: the result depends on the pinned rules only.
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    binary = TOOLS / "node_modules" / ".bin" / tool
    assert binary.exists(), f"{binary} is missing: `make test` installs it (npm ci --prefix tests/api_lint)"
    return subprocess.run(
        [str(binary), *args],
        cwd=TOOLS,
        env={**os.environ, **QUIET},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_spectral_oas_finds_nothing():
    result = run("spectral", "lint", "--ruleset", ".spectral.yaml", "-f", "json", "--fail-severity", "hint", str(SPEC))
    findings, _ = json.JSONDecoder().raw_decode(result.stdout.lstrip())
    readable = [f"{f['code']} at {'.'.join(map(str, f['path']))}: {f['message']}" for f in findings]
    assert readable == [] and result.returncode == 0, result.stderr


def test_redocly_recommended_finds_nothing():
    result = run("redocly", "lint", "--config", "redocly.yaml", "--format", "json", str(SPEC))
    report = json.loads(result.stdout)
    readable = [f"{p['ruleId']}: {p['message']}" for p in report["problems"]]
    assert readable == [] and report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}
    assert result.returncode == 0, result.stderr
