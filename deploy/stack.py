"""Checks on a packaged stack: the SAM transform, then cfn-lint on what it produces.

cfn-lint does not run the SAM transform itself, so invalid SAM properties (a bad
`FunctionResponseTypes`, a misspelt event setting) would pass it unseen; transformed first,
they fail here as they would in CloudFormation.

    python -m deploy.stack out/sam.json     # prints the lint findings; exit 1 if any
"""

import copy
import json
import os
import sys
from pathlib import Path

REGION = "us-east-1"
_CODE_URI = "s3://packaged-by-aws-cloudformation-package/deployment.zip"


class _NoManagedPolicies:
    """The stack names no AWS managed policy; the SAM translator would otherwise ask IAM for the list."""

    def load(self) -> dict[str, str]:
        return {}


def to_cloudformation(sam_template: dict) -> dict:
    """The plain CloudFormation that the `AWS::Serverless-2016-10-31` transform makes of the template."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(sam_template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `aws cloudformation package` uploads the zip and writes its S3 address here.
            resource["Properties"]["CodeUri"] = _CODE_URI
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)  # the translator's pseudo parameters need one
    return transform(template, {"AWS::Region": REGION}, _NoManagedPolicies())


def lint(cfn_template: dict) -> list[str]:
    """cfn-lint's findings (errors, warnings and informational), one line each."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    matches = cfn_lint(json.dumps(cfn_template), config=ManualArgs(regions=[REGION], include_checks=["I"]))
    return [f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}" for m in matches]


def main(argv=None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0] if args else "out/sam.json")
    findings = lint(to_cloudformation(json.loads(path.read_text())))
    for finding in findings:
        print(finding)
    print(f"{path}: {'clean' if not findings else f'{len(findings)} findings'} after the SAM transform")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
