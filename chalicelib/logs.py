"""Structured JSON logs (Powertools Logger) with the request id on every line.

Never log a token, a password or a request body: log ids, routes and outcomes.
"""

import os

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "client-portal"))
