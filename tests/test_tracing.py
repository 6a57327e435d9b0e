"""X-Ray tracing: on in Lambda (every botocore call traced), absent everywhere else."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_in_lambda_the_tracer_patches_botocore_and_a_subsegment_never_fails_the_work():
    code = """
from chalicelib import tracing
tracing.start()
from aws_xray_sdk.core import patcher
print("botocore" in patcher._PATCHED_MODULES)
with tracing.subsegment("clinic_email", change_id="chg_1"):
    print("worked")
"""
    result = run(code, LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="client-portal-dev-emails")
    assert result.stdout.split() == ["True", "worked"], result.stderr


def test_outside_lambda_importing_the_app_loads_no_xray_code_and_tracing_does_nothing():
    code = """
import sys
import app
from chalicelib import runtime, tracing
runtime.ensure_bound()
with tracing.subsegment("clinic_email", change_id="chg_1"):
    pass
print(sorted(m for m in sys.modules if m.startswith("aws_xray_sdk")))
"""
    result = run(code)
    assert result.stdout.strip() == "[]", result.stderr
