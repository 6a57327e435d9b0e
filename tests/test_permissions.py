"""Each function's IAM policy allows exactly what its code calls: no call without a permission,
no permission without a call. Runs after every other test (tests/aws_calls.py records the calls).

The policies are `.chalice/policy-*.json`, written with CloudFormation references to the
stack's own resources; here those references resolve to the emulator's tables and pool.
"""

import fnmatch
import json
import re
from pathlib import Path

import aws_calls
import pytest

from chalicelib import config

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
FUNCTIONS = sorted(json.loads((CHALICE_DIR / "config.json").read_text())["lambda_functions"])
# What Lambda itself does with a function's role, which no test can see the code do: write its
# logs, read its stream, send a failed batch or event to its queue, send its traces. Only
# statements whose Sid starts with "Lambda" may hold these, and they may hold nothing else.
LAMBDA_SERVICE_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
    "sqs:SendMessage",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
# X-Ray has no resource-level permissions: these actions are the only ones allowed on "*".
STAR_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# What DynamoDB and SQS do with the stack's key on the function's behalf (no test sees it either):
# statements whose Sid starts with "Key" hold only these, on DataKey, through one service each.
KEY_ACTIONS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}

pytestmark = pytest.mark.after_all_other_tests


def policy_file(function: str) -> Path:
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    return CHALICE_DIR / config["lambda_functions"][function]["iam_policy_file"]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


class EmulatorStack:
    """Resolves the policies' CloudFormation references to the emulator's resources."""

    def __init__(self):
        settings = config.current()
        region = settings.region
        stack_name = settings.table("clinics").removesuffix("-clinics")  # tables are <stack>-<kind>
        self.values = {
            "AWS::Region": region,
            "AWS::AccountId": aws_calls.ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "SenderEmail": settings.sender_email,
        }
        for kind in config.TABLE_KINDS:
            logical_id = "".join(part.capitalize() for part in kind.split("-")) + "Table"
            table_arn = f"arn:aws:dynamodb:{region}:{aws_calls.ACCOUNT}:table/{settings.table(kind)}"
            self.values.update(
                {
                    logical_id: settings.table(kind),
                    f"{logical_id}.Arn": table_arn,
                    f"{logical_id}.StreamArn": f"{table_arn}/stream/*",
                }
            )
        pool, staff_pool = settings.user_pool_id, settings.staff_user_pool_id
        self.values.update(
            {
                "UserPool": pool,
                "UserPool.Arn": f"arn:aws:cognito-idp:{region}:{aws_calls.ACCOUNT}:userpool/{pool}",
                "StaffUserPool": staff_pool,
                "StaffUserPool.Arn": f"arn:aws:cognito-idp:{region}:{aws_calls.ACCOUNT}:userpool/{staff_pool}",
                "SigningKeysSecret": settings.signing_keys_secret,  # Ref of a secret is its ARN
                "StreamFailuresQueue.Arn": (f"arn:aws:sqs:{region}:{aws_calls.ACCOUNT}:{stack_name}-stream-failures"),
                "AsyncFailuresQueue.Arn": (f"arn:aws:sqs:{region}:{aws_calls.ACCOUNT}:{stack_name}-async-failures"),
                "EmailConfigurationSet": settings.configuration_set,
                "DataKey.Arn": f"arn:aws:kms:{region}:{aws_calls.ACCOUNT}:key/emulated",
            }
        )

    def resolve(self, value):
        if isinstance(value, str):
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._value(argument)
        if function == "Fn::GetAtt":
            return self._value(".".join(argument))
        if function == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._value(m.group(1)), argument)
        raise AssertionError(f"The policy check does not resolve {function}; extend EmulatorStack.")

    def _value(self, name: str) -> str:
        assert name in self.values, f"The policy refers to {name}, which the check cannot place; extend EmulatorStack."
        return self.values[name]


def statements(function: str, stack: EmulatorStack) -> list[dict]:
    document = json.loads(policy_file(function).read_text())
    resolved = []
    for statement in document["Statement"]:
        resolved.append(
            dict(
                statement,
                Action=listed(statement["Action"]),
                Resource=[stack.resolve(r) for r in listed(statement["Resource"])],
                Condition={
                    op: {k: stack.resolve(v) for k, v in keys.items()}
                    for op, keys in statement.get("Condition", {}).items()
                },
            )
        )
    return resolved


def allows(statement: dict, call: aws_calls.Call) -> bool:
    if statement["Effect"] != "Allow" or call.action.lower() not in {a.lower() for a in statement["Action"]}:
        return False
    if not any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in statement["Resource"]):
        return False
    for operator, keys in statement["Condition"].items():
        assert operator == "StringEquals", f"The policy check does not evaluate {operator}; extend allows()."
        if any(call.condition_values.get(key) != value for key, value in keys.items()):
            return False
    return True


@pytest.fixture(scope="module")
def stack(aws):
    return EmulatorStack()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_aws_call_the_function_makes_is_allowed_by_its_policy(function, stack):
    allowed = statements(function, stack)
    calls = [c for c in aws_calls.CALLS if c.function == function and c.signed]
    refused = sorted(
        f"{c.action} on {c.resource} (in {c.operation})" for c in calls if not any(allows(s, c) for s in allowed)
    )
    assert not refused, f"{policy_file(function).name} does not allow calls that {function} makes:\n" + "\n".join(
        refused
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_permission_of_the_function_is_used_by_some_call(function, stack):
    if not aws_calls.complete_run():
        pytest.skip("only a run of the whole suite shows which permissions go unused")
    if function not in aws_calls.INVOKED:
        pytest.skip(f"no test runs {function}, so nothing shows which of its permissions it uses")
    calls = [c for c in aws_calls.CALLS if c.function == function and c.signed]
    unused = []
    for statement in statements(function, stack):
        if statement.get("Sid", "").startswith(("Lambda", "Key")):
            continue  # used by Lambda, DynamoDB, SQS themselves: see the two tests below
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                one = dict(statement, Action=[action], Resource=[resource])
                if not any(allows(one, call) for call in calls):
                    unused.append(f"{statement.get('Sid', '?')}: {action} on {resource}")
    assert not unused, (
        f"{policy_file(function).name} allows what {function} never does in the tests "
        "(remove it, or add the test that needs it):\n" + "\n".join(unused)
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_service_statements_hold_only_lambda_service_actions(function, stack):
    for statement in statements(function, stack):
        if statement.get("Sid", "").startswith("Lambda"):
            assert set(statement["Action"]) <= LAMBDA_SERVICE_ACTIONS, statement


@pytest.mark.parametrize("function", FUNCTIONS)
def test_key_statements_allow_the_key_only_through_the_services_the_function_uses(function, stack):
    """A function that calls DynamoDB (or Secrets Manager) may use the key through that service; one
    whose Lambda statements send to a queue, through SQS; nothing else, and nowhere else."""
    through = {}
    for statement in statements(function, stack):
        if statement.get("Sid", "").startswith("Key"):
            assert set(statement["Action"]) <= KEY_ACTIONS, statement
            assert statement["Resource"] == [stack.values["DataKey.Arn"]], statement
            ((service,),) = [list(statement["Condition"]["StringEquals"].values())]
            assert list(statement["Condition"]["StringEquals"]) == ["kms:ViaService"], statement
            through[service.split(".")[0]] = statement
    calls = {c.action.split(":")[0] for c in aws_calls.CALLS if c.function == function}
    sends_to_queues = any(
        "sqs:SendMessage" in s["Action"] for s in statements(function, stack) if s.get("Sid", "").startswith("Lambda")
    )
    if function in aws_calls.INVOKED:
        for service in ("dynamodb", "secretsmanager"):
            assert (service in through) == (service in calls), (function, service, sorted(through))
    assert ("sqs" in through) == sends_to_queues, (function, sorted(through))
    assert set(through) <= {"dynamodb", "sqs", "secretsmanager"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_wildcard_actions_and_no_star_resources(function):
    document = json.loads(policy_file(function).read_text())
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in listed(statement["Action"])), statement
        if "*" in listed(statement["Resource"]):
            assert set(listed(statement["Action"])) <= STAR_RESOURCE_ACTIONS, statement


def test_the_recorder_counts_calls_made_while_a_function_runs_and_nothing_else(aws):
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=aws.endpoint)
    dynamodb.list_tables()
    assert not any(c.operation == "ListTables" for c in aws_calls.CALLS)
    with aws_calls.running("recorder_self_test"):
        dynamodb.list_tables()
    assert aws_calls.Call("recorder_self_test", "dynamodb:ListTables", "*", (), True, "ListTables") in aws_calls.CALLS
