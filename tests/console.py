"""Writes made by someone else than the service: a person editing the item in the AWS console,
another tab, another Lambda. Raw DynamoDB calls, so the service's stamp is left as it was."""

import boto3

from chalicelib import config


def set_attributes(world, visit_id, patient="Alex", **values):
    """SET each attribute to its raw DynamoDB value (`{"S": "Room 5"}`) on the patient's visit."""
    boto3.client("dynamodb", endpoint_url=config.current().endpoint, region_name=config.current().region).update_item(
        TableName=config.current().table("visits"),
        Key={"patient_id": {"S": world.patients[patient]}, "visit_id": {"S": visit_id}},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
        ExpressionAttributeNames={f"#{name}": name for name in values},
        ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
    )
