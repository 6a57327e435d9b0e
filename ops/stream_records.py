"""DynamoDB stream records as Lambda delivers them to a function.

`GetRecords` answers (read by the local poller and by `ops.admin replay-failures`) differ
from what Lambda hands a function: they have no `eventSourceARN`, and boto3 parses
`ApproximateCreationDateTime` into a datetime where Lambda gives epoch seconds.
"""

from datetime import datetime


def as_lambda_delivers(record: dict, stream_arn: str) -> dict:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "eventSourceARN": stream_arn, "dynamodb": change}
