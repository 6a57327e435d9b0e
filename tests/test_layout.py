"""The shape of the code that later features rely on: nothing bound at import, and the domain
apart from the JSON views and the email sender apart from the services."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHALICELIB = ROOT / "chalicelib"


def imported_modules(path: Path) -> set[str]:
    """The chalicelib modules a file imports (`from chalicelib import x`, `from chalicelib.x import y`),
    and any module of local mode, operations or tests."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "chalicelib":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib."):
            found.add(node.module.split(".")[1])
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {"local", "ops", "tests"}
        ):
            found.add(node.module)
    return found


def run_python(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter with no environment but a PATH: no AWS settings, no table names."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True
    )


@pytest.mark.parametrize("module", ["app", "chalicelib.models", "chalicelib.scheduling", "chalicelib.notifications"])
def test_modules_import_with_no_environment_at_all(module):
    result = run_python(f"import {module}")
    assert result.returncode == 0, result.stderr


def test_the_models_bind_to_the_configuration_the_caller_gives():
    code = """
from chalicelib import aws, config, runtime
from chalicelib.config import Settings
from chalicelib.models import Clinic, Visit

assert Visit.Meta.table_name is None  # nothing bound at import
runtime.bind(Settings(region="eu-west-1", endpoint="http://127.0.0.1:1", tables=config.table_names("first")))
print(Visit.Meta.table_name, Visit._get_connection().connection.client.meta.region_name)
runtime.bind(Settings(region="us-west-2", endpoint=None, tables=config.table_names("second")))
print(Clinic.Meta.table_name, Clinic._get_connection().connection.client.meta.region_name, Clinic.Meta.host)
print(aws.client("sesv2").meta.region_name)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["first-visits eu-west-1", "second-clinics us-west-2 None", "us-west-2"]


def test_a_lambda_function_binds_from_its_environment_on_first_use():
    code = """
from chalicelib import config, runtime
runtime.ensure_bound()
print(config.current().table("visits"), config.current().user_pool_id)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "VISITS_TABLE": "stack-visits", "USER_POOL_ID": "us-east-1_abc"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["stack-visits", "us-east-1_abc"], result.stderr


def test_json_views_are_the_edge_only():
    importers = {path.stem for path in CHALICELIB.glob("*.py") if "views" in imported_modules(path)}
    assert importers == set()
    assert "views" in imported_modules(ROOT / "app.py")


def test_the_clinic_emails_do_not_reach_into_the_services():
    assert not imported_modules(CHALICELIB / "notifications.py") & {"scheduling", "views", "accounts"}


def test_the_domain_and_the_rules_stand_below_the_services():
    assert not imported_modules(CHALICELIB / "domain.py") & {"scheduling", "views", "notifications", "accounts"}
    assert imported_modules(CHALICELIB / "rules.py") <= {"times", "errors"}
    assert imported_modules(CHALICELIB / "times.py") <= {"errors"}


def test_nothing_shipped_to_lambda_imports_local_mode_operations_or_tests():
    for path in [ROOT / "app.py", *CHALICELIB.glob("*.py")]:
        outside = {name for name in imported_modules(path) if name.split(".")[0] in {"local", "ops", "tests"}}
        assert not outside, f"{path.name} imports {outside}"
