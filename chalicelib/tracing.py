"""X-Ray tracing (Powertools Tracer): each function's AWS calls, and each clinic email, as subsegments
of its trace.

The stack turns tracing on (Chalice's `xray` setting on every function, `TracingEnabled` on the
API stage). The tracer is made, and botocore patched, only when a Lambda function binds to its
deployment (`runtime.ensure_bound`): importing this module loads no X-Ray code, and outside
Lambda (local mode, tests, the benchmark) nothing is traced and nothing is paid for it.
"""

import contextlib
import os

_tracer = []


def start() -> None:
    """In Lambda: traces every botocore call (DynamoDB through pynamodb, SES, Cognito) from now on."""
    if _tracer or not os.environ.get("LAMBDA_TASK_ROOT"):  # what Powertools itself reads
        return
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "client-portal"), auto_patch=False)
    tracer.patch(["botocore"])
    _tracer.append(tracer)


@contextlib.contextmanager
def subsegment(name: str, **annotations: str):
    """A named part of the trace, searchable by its annotations (ids only: they are indexed by X-Ray)."""
    if not _tracer:
        yield
        return
    with _tracer[0].provider.in_subsegment(name) as part:
        for key, value in annotations.items():
            part.put_annotation(key, value)
        yield
