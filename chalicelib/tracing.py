"""X-Ray tracing (Powertools Tracer): each function's AWS calls as subsegments of its trace.

The stack turns tracing on (`Tracing: Active` on every function, and on the API stage). Outside
Lambda (local mode, tests, the benchmark) the tracer is disabled and costs nothing. The AWS
clients are patched once, when a Lambda function binds to its deployment (`runtime.ensure_bound`).
"""

import os

from aws_lambda_powertools import Tracer

tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "client-portal"), auto_patch=False)
_patched = []


def start() -> None:
    """Traces every botocore call (DynamoDB through pynamodb, SES, Cognito) from now on."""
    if not _patched:
        tracer.patch(["botocore"])
        _patched.append(True)
