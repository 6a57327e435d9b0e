"""Checkov on a packaged stack: the scanner auditors trust, with the stack's own explained skips.

Every check must pass, or be skipped next to its resource (`Metadata: checkov: skip: [{id, comment}]`
in deploy/resources.yaml) with a comment saying why. Checkov lives in its own virtualenv
(`.venv-checkov`, from requirements-checkov.txt): its pinned boto3 cannot share one with ours.

    python -m deploy.scan out/sam.json     # prints the findings; exit 1 if any check failed
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@dataclass(frozen=True)
class Scan:
    passed: int
    failed: list[str]  # "CKV_AWS_x Resource: name"
    skipped: list[tuple[str, str, str]]  # (check id, resource, the comment that explains it)
    version: str


def scan(template: Path) -> Scan:
    if not CHECKOV.exists():
        raise SystemExit(f"{CHECKOV} is missing: `make test` or `make package` installs it (requirements-checkov.txt).")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "BC_", "PRISMA_"))}
    env.update(LOG_LEVEL="ERROR", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    result = subprocess.run(
        [str(CHECKOV), "--file", str(template), "--framework", "cloudformation", "--output", "json"]
        + ["--skip-download"],  # offline: no calls to the vendor's platform
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed to run ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    results = report.get("results", {})
    return Scan(
        passed=report.get("summary", {}).get("passed", len(results.get("passed_checks", []))),
        failed=[f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results.get("failed_checks", [])],
        skipped=[
            (c["check_id"], c["resource"], (c.get("check_result", {}).get("suppress_comment") or "").strip())
            for c in results.get("skipped_checks", [])
        ],
        version=report.get("summary", {}).get("checkov_version", "?"),
    )


def main(argv=None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0] if args else "out/sam.json")
    found = scan(path)
    for finding in found.failed:
        print(f"FAILED  {finding}")
    for check_id, resource, comment in found.skipped:
        print(f"skipped {check_id} {resource}: {comment or '(NO REASON GIVEN)'}")
    unexplained = [s for s in found.skipped if not s[2]]
    print(
        f"{path}: checkov {found.version}: {found.passed} passed, {len(found.failed)} failed, "
        f"{len(found.skipped)} skipped ({len(unexplained)} without a reason)"
    )
    sys.exit(1 if found.failed or unexplained else 0)


if __name__ == "__main__":
    main()
