"""`make package` builds a valid stack that holds what the code expects, and nothing more.

The stage is packaged once for this module (as `make package` does), transformed from SAM to
CloudFormation with aws-sam-translator, and linted with cfn-lint; the tests then read the
transformed template, as CloudFormation will.
"""

import json
import zipfile
from pathlib import Path

import pytest

from chalicelib import models
from chalicelib.accounts import PASSWORD_POLICY
from chalicelib.auth import STAFF_GROUP
from chalicelib.config import TABLE_KINDS, table_variable
from deploy import package as packaging
from deploy import stack
from local.gateway import UNAUTHORIZED_BODY

ROOT = Path(__file__).resolve().parent.parent
STAGE = "dev"
ERROR_RESPONSES = ("UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX")
TABLES = {
    "clinics": "ClinicsTable",
    "patients": "PatientsTable",
    "visits": "VisitsTable",
    "history": "HistoryTable",
    "idempotency": "IdempotencyTable",
    "calendar-feeds": "CalendarFeedsTable",
}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "out"
    sam = json.loads(packaging.package(STAGE, out).read_text())
    return {"out": out, "sam": sam, "cfn": stack.to_cloudformation(sam)}


@pytest.fixture(scope="module")
def resources(packaged):
    return packaged["cfn"]["Resources"]


def of_type(resources, kind):
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_the_transformed_template_lints_clean(packaged):
    assert stack.lint(packaged["cfn"]) == []


def test_chalice_makes_the_three_functions_the_merge_template_names(packaged):
    functions = of_type(packaged["sam"]["Resources"], "AWS::Serverless::Function")
    assert {name: f["Properties"]["Handler"] for name, f in functions.items()} == {
        "APIHandler": "app.app",
        "CognitoIdToken": "app.cognito_id_token",  # the custom authorizer is a Lambda function of its own
        "VisitChanges": "app.visit_changes",
    }
    assert list(functions["VisitChanges"]["Properties"]["Events"]) == ["VisitChangesDynamodbEventSource"]
    assert "replaced-by-merge-template" not in json.dumps(packaged["sam"])


def test_each_function_has_a_role_of_its_own_holding_exactly_its_policy_file(resources):
    roles = {
        "APIHandler": "policy-api.json",
        "CognitoIdToken": "policy-authorizer.json",
        "VisitChanges": "policy-visit-changes.json",
    }
    for function, policy_file in roles.items():
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = resources[role]["Properties"]["Policies"]
        assert [p["PolicyDocument"] for p in policies] == [json.loads((ROOT / ".chalice" / policy_file).read_text())]
        assert "ManagedPolicyArns" not in resources[role]["Properties"]
    assert len(of_type(resources, "AWS::IAM::Role")) == len(roles)


def test_no_role_has_a_wildcard_action_or_a_star_resource(resources):
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not [a for a in actions if "*" in a], (name, statement)
                assert statement["Resource"] != "*" and "*" not in statement.get("Resource", []), (name, statement)


# --- Tables ----------------------------------------------------------------------------------


def key_schema(keys):
    """(name, HASH), then (name, RANGE): the order CloudFormation wants, whatever order pynamodb lists."""
    return sorted(((k["AttributeName"], k["KeyType"]) for k in keys), key=lambda key: key[1])


def test_the_tables_keys_and_indexes_are_the_pynamodb_models(resources, aws):
    for model, kind in models.TABLES.items():
        logical_id = TABLES[kind]
        schema = model._get_schema()
        table = resources[logical_id]["Properties"]
        assert key_schema(table["KeySchema"]) == key_schema(schema["key_schema"]), logical_id
        assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
            (a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]
        }, logical_id
        for kind in ("global_secondary_indexes", "local_secondary_indexes"):
            in_model = {
                i["index_name"]: (key_schema(i["key_schema"]), i["projection"]["ProjectionType"])
                for i in schema.get(kind, [])
            }
            in_template = {
                i["IndexName"]: (key_schema(i["KeySchema"]), i["Projection"]["ProjectionType"])
                for i in table.get(
                    "GlobalSecondaryIndexes" if kind.startswith("global") else "LocalSecondaryIndexes", []
                )
            }
            assert in_template == in_model, (logical_id, kind)


def test_the_idempotency_table_is_what_powertools_expects(resources, aws):
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    layer = DynamoDBPersistenceLayer(table_name="anything")
    table = resources["IdempotencyTable"]["Properties"]
    assert key_schema(table["KeySchema"]) == [(layer.key_attr, "HASH")]
    assert table["TimeToLiveSpecification"] == {"AttributeName": layer.expiry_attr, "Enabled": True}


def test_every_table_is_on_demand_and_kept_when_the_stack_goes(resources):
    for logical_id in TABLES.values():
        table = resources[logical_id]
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", logical_id
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", logical_id
    for logical_id in ("ClinicsTable", "PatientsTable", "VisitsTable", "HistoryTable", "CalendarFeedsTable"):
        assert resources[logical_id]["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert resources[logical_id]["Properties"]["DeletionProtectionEnabled"] is True
    assert resources["VisitsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_table_names_are_the_ones_the_code_computes(resources):
    assert set(TABLES) == set(TABLE_KINDS)
    for kind, logical_id in TABLES.items():
        assert resources[logical_id]["Properties"]["TableName"] == {"Fn::Sub": f"${{AWS::StackName}}-{kind}"}
    for function in ("APIHandler", "CognitoIdToken", "VisitChanges"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_PREFIX"] == {"Ref": "AWS::StackName"}
        for kind, logical_id in TABLES.items():
            assert variables[table_variable(kind)] == {"Ref": logical_id}


# --- Logins ----------------------------------------------------------------------------------


def test_the_user_pool_signs_in_by_email_with_the_portals_attributes_and_rules(resources):
    pool = resources["UserPool"]
    props = pool["Properties"]
    assert pool["DeletionPolicy"] == "Retain"
    assert props["UsernameAttributes"] == ["email"]
    assert props["Policies"]["PasswordPolicy"] == PASSWORD_POLICY  # local mode enforces the same rules
    assert {(a["Name"], a["Mutable"]) for a in props["Schema"]} == {("clinic_id", False), ("patient_id", False)}
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    for message in props["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]["Fn::If"][1:]:
        text = message if isinstance(message, str) else message["Fn::Sub"]
        assert "{username}" in text and "{####}" in text
    groups = of_type(resources, "AWS::Cognito::UserPoolGroup")
    assert [g["Properties"]["GroupName"] for g in groups.values()] == [STAFF_GROUP]


def test_the_portal_client_allows_password_login_and_refresh_only(resources):
    client = resources["PortalClient"]["Properties"]
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert client["GenerateSecret"] is False
    assert (client["IdTokenValidity"], client["TokenValidityUnits"]["IdToken"]) == (60, "minutes")
    assert (client["RefreshTokenValidity"], client["TokenValidityUnits"]["RefreshToken"]) == (7, "days")
    assert not [a for a in client["WriteAttributes"] if a.startswith("custom:") or a == "email"]


def test_the_pool_and_client_ids_reach_every_function_as_environment_variables(resources):
    for function in ("APIHandler", "CognitoIdToken", "VisitChanges"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["USER_POOL_ID"] == {"Ref": "UserPool"}
        assert variables["APP_CLIENT_ID"] == {"Ref": "PortalClient"}
        assert variables["SENDER_EMAIL"] == {"Ref": "SenderEmail"}
        assert variables["PUBLIC_URL"] == {"Ref": "PublicUrl"}


# --- The stream ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream_mapping(resources):
    (mapping,) = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    return mapping["Properties"]


def test_the_stream_mapping_retries_failed_records_only_and_keeps_what_it_gives_up_on(stream_mapping, resources):
    assert stream_mapping["EventSourceArn"] == {"Fn::GetAtt": ["VisitsTable", "StreamArn"]}
    assert stream_mapping["FunctionName"] == {"Ref": "VisitChanges"}
    assert stream_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream_mapping["BisectBatchOnFunctionError"] is True
    assert 0 < stream_mapping["MaximumRetryAttempts"] <= 10
    assert stream_mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailuresQueue", "Arn"]
    }
    assert resources["StreamFailuresQueue"]["Properties"]["SqsManagedSseEnabled"] is True


def test_every_change_to_a_visit_reaches_the_stream_function(stream_mapping):
    # The history records inserts, console edits and deletions too: no record may be filtered out.
    assert "FilterCriteria" not in stream_mapping


# --- The API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_body(resources):
    return resources["RestAPI"]["Properties"]["Body"]


def test_gateway_errors_have_the_contracts_shape_and_the_stages_cors_origin(api_body, packaged):
    responses = api_body["x-amazon-apigateway-gateway-responses"]
    for response_type in ERROR_RESPONSES:
        body = responses[response_type]["responseTemplates"]["application/json"]
        filled = json.loads(body.replace("$context.error.messageString", '"some message"'))
        assert set(filled) == {"Code", "Message"}, response_type
        origin = responses[response_type]["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert origin == {"Fn::Sub": "'${CorsOrigin}'"}
    assert json.loads(responses["UNAUTHORIZED"]["responseTemplates"]["application/json"]) == json.loads(
        UNAUTHORIZED_BODY
    )
    assert responses["UNAUTHORIZED"]["statusCode"] == "401"
    assert packaged["cfn"]["Parameters"]["CorsOrigin"]["Default"] == packaging.stage_settings(STAGE)["CORS_ORIGIN"]


def test_the_apis_own_cors_answers_use_the_same_origin(api_body):
    preflight = api_body["paths"]["/portal/sessions"]["options"]["x-amazon-apigateway-integration"]
    headers = preflight["responses"]["default"]["responseParameters"]
    assert (
        headers["method.response.header.Access-Control-Allow-Origin"]
        == f"'{packaging.stage_settings(STAGE)['CORS_ORIGIN']}'"
    )


def test_every_stage_packages_with_its_own_origin():
    origins = {
        stage: packaging.merge_template(stage)["Parameters"]["CorsOrigin"]["Default"] for stage in ("dev", "prod")
    }
    assert origins == {stage: packaging.stage_settings(stage)["CORS_ORIGIN"] for stage in ("dev", "prod")}


def test_the_login_routes_are_throttled_harder_than_the_rest(resources, api_body):
    (api_stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    limits = {
        (s["ResourcePath"], s["HttpMethod"]): s["ThrottlingRateLimit"]
        for s in api_stage["Properties"]["MethodSettings"]
    }
    overall = limits[("/*", "*")]
    for path in ("/auth/login", "/auth/new-password", "/auth/refresh"):
        assert "post" in api_body["paths"][path]
        assert limits[("/" + path.replace("/", "~1"), "POST")] < overall


# --- The bundle ------------------------------------------------------------------------------


def test_the_bundle_carries_the_app_and_its_runtime_dependencies_only(packaged):
    with zipfile.ZipFile(packaged["out"] / "deployment.zip") as bundle:
        top = {name.split("/", 1)[0] for name in bundle.namelist()}
    runtime = {"pynamodb", "jwt", "aws_lambda_powertools", "tzdata", "boto3", "icalendar", "dateutil"}
    assert {"app.py", "chalicelib", *runtime} <= top
    for unwanted in (
        "moto",
        "pytest",
        "_pytest",
        "playwright",
        "schemathesis",
        "local",
        "tests",
        "deploy",
        "cfnlint",
        "samtranslator",
        "flask",
        "werkzeug",
    ):
        assert unwanted not in top, unwanted
