"""Structured JSON logs (Powertools Logger) with the request id on every line.

Never log a token, a password or a request body: log ids, routes and outcomes.
"""

import os

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "client-portal"))

# The ids a request's log lines carry to say who accessed what (never names, emails or text).
AUDIT_KEYS = ("user_id", "role", "clinic_id", "patient_id", "visit_id", "records")


def touched(**ids) -> None:
    """Adds the ids of what this request read or changed to its remaining log lines (and its
    "Request handled" line); the request middleware in app.py clears them afterwards."""
    logger.append_keys(**{key: value for key, value in ids.items() if value is not None and key in AUDIT_KEYS})
