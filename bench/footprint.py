"""What a cold start and a deploy cost before any request: the time to import the app in a
fresh interpreter, and the size of the Lambda bundle."""

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

_TIMED_IMPORT = "import time; t = time.perf_counter(); import {}; print((time.perf_counter() - t) * 1000)"
APP_IMPORT = "app"
BASELINE_IMPORT = "chalice, boto3"


def _import_ms(modules: str, root: Path, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(modules)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def import_times(root: Path, runs: int) -> dict[str, float]:
    """Medians of `import app` and of `import chalice, boto3`, each in a fresh interpreter,
    interleaved (the machine is shared: both sides see the same noise). Only the import is
    timed, not the interpreter's own start. One untimed run of each first writes the .pyc files."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for modules in (APP_IMPORT, BASELINE_IMPORT):
        _import_ms(modules, root, env)
    app_ms, base_ms = [], []
    for run in range(runs):
        order = ((APP_IMPORT, app_ms), (BASELINE_IMPORT, base_ms))
        for modules, times in order if run % 2 == 0 else order[::-1]:
            times.append(_import_ms(modules, root, env))
    app_median, base_median = statistics.median(app_ms), statistics.median(base_ms)
    return {
        "import_ms": round(app_median, 1),
        "import_baseline_ms": round(base_median, 1),
        "import_ratio": round(app_median / base_median, 2),
    }


def bundle_size(root: Path) -> dict[str, float | None]:
    """The deployment package as `chalice package` builds it: app.py, chalicelib/ and the
    runtime dependencies of requirements.txt (installed with pip into a scratch folder),
    zipped with deflate, without bytecode. None when pip cannot install (offline)."""
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as scratch:
        deps = Path(scratch, "deps")
        installed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(deps),
                "-r",
                str(root / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
        )
        if installed.returncode != 0:
            return {
                "bundle_mib": None,
                "bundle_unzipped_mib": None,
                "bundle_error": (installed.stderr.strip().splitlines() or ["pip failed"])[-1],
            }
        files = [(root / "app.py", "app.py")]
        files += [(path, str(path.relative_to(root))) for path in sorted((root / "chalicelib").rglob("*"))]
        files += [(path, str(path.relative_to(deps))) for path in sorted(deps.rglob("*"))]
        files = [
            (path, name)
            for path, name in files
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        ]
        bundle = Path(scratch, "bundle.zip")
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, name in files:
                archive.write(path, name)
        mib = 1024 * 1024
        return {
            "bundle_mib": round(bundle.stat().st_size / mib, 2),
            "bundle_unzipped_mib": round(sum(path.stat().st_size for path, _ in files) / mib, 2),
        }
