"""`make package`: the stage's whole stack as one SAM template plus `deployment.zip`, in `out/`.

Runs `chalice package --merge-template ...` with `deploy/resources.yaml`, after writing the
stage's CORS origin into that template (Chalice bakes the same origin, from
`.chalice/config.json`, into the API's own CORS answers; the gateway's error answers must agree).

    python -m deploy.package [--stage dev] [OUT_DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "deploy" / "resources.yaml"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
DEFAULT_REGION = "us-east-1"
# What `chalice package` may see of this machine's environment: no credentials, no emulator.
_PASSED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
)


def stage_settings(stage: str) -> dict[str, str]:
    """The environment `.chalice/config.json` gives the stage's functions."""
    config = json.loads(CHALICE_CONFIG.read_text())
    if stage not in config.get("stages", {}):
        raise SystemExit(f"Unknown stage {stage!r}: .chalice/config.json has {sorted(config['stages'])}.")
    return dict(config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {}))


def merge_template(stage: str) -> dict:
    """deploy/resources.yaml, with the stage's CORS origin as the CorsOrigin default."""
    from chalice.package import YAMLTemplateSerializer  # reads the !Ref/!GetAtt/!Sub short forms

    template = YAMLTemplateSerializer().load_template(MERGE_TEMPLATE.read_text(), str(MERGE_TEMPLATE))
    origin = stage_settings(stage).get("CORS_ORIGIN")
    if not origin:
        raise SystemExit(f"Stage {stage!r} has no CORS_ORIGIN in .chalice/config.json.")
    template["Parameters"]["CorsOrigin"]["Default"] = origin
    return template


def package(stage: str, out_dir: Path) -> Path:
    """Writes `sam.json` and `deployment.zip` to out_dir and returns the template's path."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise SystemExit(f"{out_dir} is not empty; remove it first (make package does).")
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env["AWS_DEFAULT_REGION"] = (
        os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    )  # chalice needs one, even offline
    with tempfile.TemporaryDirectory(prefix="merge-") as work:
        merge_file = Path(work) / f"resources-{stage}.json"
        merge_file.write_text(json.dumps(merge_template(stage), indent=2))
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from chalice.cli import main; sys.exit(main())",
                "package",
                "--stage",
                stage,
                "--merge-template",
                str(merge_file),
                str(out_dir),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    return out_dir / "sam.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("out", nargs="?", default="out")
    args = parser.parse_args(argv)
    template = package(args.stage, Path(args.out))
    print(f"Stage {args.stage}: {template} and {template.parent / 'deployment.zip'}")


if __name__ == "__main__":
    main()
