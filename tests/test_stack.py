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
from chalicelib.auth import MAX_TOKEN_AGE_SECONDS, STAFF_GROUP
from chalicelib.config import TABLE_KINDS, table_variable
from chalicelib.models import KeptEmail
from deploy import package as packaging
from deploy import scan, stack
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
    "outbox": "OutboxTable",
    "reminders": "RemindersTable",
    "memberships": "MembershipsTable",
}
# Each function (Chalice's logical id), its handler, its policy file and its log group's suffix.
FUNCTIONS = {
    "APIHandler": ("app.app", "policy-api.json", "api"),
    "CognitoIdToken": ("app.cognito_id_token", "policy-authorizer.json", "authorizer"),
    "VisitChanges": ("app.visit_changes", "policy-visit-changes.json", "visit-changes"),
    "ClinicChanges": ("app.clinic_changes", "policy-clinic-changes.json", "clinic-changes"),
    "EmailEvents": ("app.ses_email_events", "policy-email-events.json", "email-events"),
    "KeptEmailsReport": ("app.kept_emails_report", "policy-kept-emails-report.json", "kept-emails-report"),
    "SendReminders": ("app.send_reminders", "policy-send-reminders.json", "send-reminders"),
}
STREAM_FUNCTIONS = {"VisitChanges": "VisitsTable", "ClinicChanges": "ClinicsTable"}


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


def test_chalice_makes_the_functions_the_merge_template_names(packaged):
    functions = of_type(packaged["sam"]["Resources"], "AWS::Serverless::Function")
    # the custom authorizer is a Lambda function of its own
    assert {name: f["Properties"]["Handler"] for name, f in functions.items()} == {
        name: handler for name, (handler, _, _) in FUNCTIONS.items()
    }
    assert list(functions["VisitChanges"]["Properties"]["Events"]) == ["VisitChangesDynamodbEventSource"]
    assert list(functions["ClinicChanges"]["Properties"]["Events"]) == ["ClinicChangesDynamodbEventSource"]
    assert "replaced-by-merge-template" not in json.dumps(packaged["sam"])


def test_the_api_compresses_answers_of_a_kilobyte_and_more(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["MinimumCompressionSize"] == 1024


def test_the_bundle_carries_the_patient_texts_catalogs_templates_and_locale_data(packaged):
    """What the patient's language needs at run time is in the Lambda bundle, not only in the checkout."""
    with zipfile.ZipFile(packaged["out"] / "deployment.zip") as bundle:
        names = set(bundle.namelist())
        catalog = bundle.read("chalicelib/locale/es/LC_MESSAGES/messages.mo")
    assert catalog == (ROOT / "chalicelib/locale/es/LC_MESSAGES/messages.mo").read_bytes()
    assert {"chalicelib/templates/reminder.txt", "chalicelib/templates/reminder.html"} <= names
    assert {"chalicelib/templates/link_page.html", "babel/locale-data/es.dat", "babel/locale-data/en_US.dat"} <= names
    assert "jinja2/ext.py" in names


def test_each_function_has_a_role_of_its_own_holding_exactly_its_policy_file(resources):
    for function, (_, policy_file, _) in FUNCTIONS.items():
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = resources[role]["Properties"]["Policies"]
        assert [p["PolicyDocument"] for p in policies] == [json.loads((ROOT / ".chalice" / policy_file).read_text())]
        assert "ManagedPolicyArns" not in resources[role]["Properties"]
    # The one other role is API Gateway's, to write the access log (AWS's own policy for that).
    others = set(of_type(resources, "AWS::IAM::Role")) - {
        resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in FUNCTIONS
    }
    assert others == {"ApiGatewayLogsRole"}
    logs_role = resources["ApiGatewayLogsRole"]["Properties"]
    assert logs_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert logs_role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]
    }


def test_no_role_has_a_wildcard_action_or_a_star_resource_but_for_xrays_traces(resources):
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not [a for a in actions if "*" in a], (name, statement)
                if statement["Resource"] == "*":  # X-Ray has no resource-level permissions
                    assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, (name, statement)
                else:
                    assert "*" not in statement.get("Resource", []), (name, statement)


def test_every_function_is_traced_has_its_own_encrypted_log_group_and_a_reserved_concurrency(resources):
    for function, (_, _, log_suffix) in FUNCTIONS.items():
        props = resources[function]["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, function
        assert props["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{log_suffix}"}
        assert 1 <= props["ReservedConcurrentExecutions"] <= 50, function
        [group] = [
            g["Properties"]
            for g in of_type(resources, "AWS::Logs::LogGroup").values()
            if g["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{log_suffix}"}
        ]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    total = sum(resources[f]["Properties"]["ReservedConcurrentExecutions"] for f in FUNCTIONS)
    assert total <= 100  # leaves an account at the default limit (1,000) far more than the 100 AWS requires
    (api_stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    assert api_stage["Properties"]["TracingEnabled"] is True


def test_the_asynchronously_invoked_functions_keep_what_fails_in_a_dead_letter_queue(resources):
    for function in ("EmailEvents", "KeptEmailsReport"):
        assert resources[function]["Properties"]["DeadLetterConfig"] == {
            "TargetArn": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]}
        }


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


def test_every_table_is_on_demand_encrypted_with_the_stacks_key_backed_up_and_kept_when_the_stack_goes(resources):
    for logical_id in TABLES.values():
        table = resources[logical_id]
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", logical_id
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert table["Properties"]["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        }, logical_id
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    for logical_id in (
        "ClinicsTable",
        "PatientsTable",
        "VisitsTable",
        "HistoryTable",
        "CalendarFeedsTable",
        "OutboxTable",
    ):
        assert resources[logical_id]["Properties"]["DeletionProtectionEnabled"] is True
    assert resources["VisitsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert resources["ClinicsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_outbox_keeps_an_email_well_past_the_30_days_promised_and_expires_it_by_ttl(resources):
    table = resources["OutboxTable"]["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${AWS::StackName}-outbox"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": KeptEmail.expires_at.attr_name, "Enabled": True}


def test_one_customer_managed_key_with_rotation_encrypts_the_data_and_cloudwatch_logs_may_use_it(resources):
    [(name, key)] = of_type(resources, "AWS::KMS::Key").items()
    assert name == "DataKey"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert statements["CloudWatchLogsEncryptsThisStacksLogGroups"]["Principal"] == {
        "Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
    }
    assert statements["AlarmsPublishToTheEncryptedOperationsTopic"]["Principal"] == {
        "Service": "cloudwatch.amazonaws.com"
    }
    assert statements["SesPublishesEmailEventsToTheEncryptedTopic"]["Principal"] == {"Service": "ses.amazonaws.com"}
    for queue in of_type(resources, "AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    for topic in of_type(resources, "AWS::SNS::Topic").values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}


def test_the_table_names_are_the_ones_the_code_computes(resources):
    assert set(TABLES) == set(TABLE_KINDS)
    for kind, logical_id in TABLES.items():
        assert resources[logical_id]["Properties"]["TableName"] == {"Fn::Sub": f"${{AWS::StackName}}-{kind}"}
    for function in FUNCTIONS:
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_PREFIX"] == {"Ref": "AWS::StackName"}
        for kind, logical_id in TABLES.items():
            assert variables[table_variable(kind)] == {"Ref": logical_id}


# --- Logins ----------------------------------------------------------------------------------


POOLS = {"UserPool": ("PortalClient", {"clinic_id", "patient_id"}), "StaffUserPool": ("StaffClient", {"clinic_id"})}


@pytest.mark.parametrize("pool_id", POOLS)
def test_each_user_pool_signs_in_by_email_with_the_portals_attributes_and_rules(resources, pool_id):
    pool = resources[pool_id]
    props = pool["Properties"]
    assert pool["DeletionPolicy"] == "Retain"
    assert props["UsernameAttributes"] == ["email"]
    assert props["Policies"]["PasswordPolicy"] == PASSWORD_POLICY  # local mode enforces the same rules
    assert {(a["Name"], a["Mutable"]) for a in props["Schema"]} == {(name, False) for name in POOLS[pool_id][1]}
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    for message in props["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]["Fn::If"][1:]:
        text = message if isinstance(message, str) else message["Fn::Sub"]
        assert "{username}" in text and "{####}" in text


def test_staff_need_a_second_factor_and_patients_do_not(resources):
    staff = resources["StaffUserPool"]["Properties"]
    assert staff["MfaConfiguration"] == "ON"  # required of every login, through any app client
    assert staff["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]  # TOTP only: no SMS to intercept
    assert resources["UserPool"]["Properties"]["MfaConfiguration"] == "OFF"


def test_the_staff_group_exists_in_the_staff_pool_only(resources):
    groups = of_type(resources, "AWS::Cognito::UserPoolGroup")
    assert [(g["Properties"]["GroupName"], g["Properties"]["UserPoolId"]) for g in groups.values()] == [
        (STAFF_GROUP, {"Ref": "StaffUserPool"})
    ]


@pytest.mark.parametrize("pool_id", POOLS)
def test_each_pools_client_gives_short_lived_revocable_tokens_for_password_login_and_refresh_only(resources, pool_id):
    client_id, attributes = POOLS[pool_id]
    client = resources[client_id]["Properties"]
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert client["GenerateSecret"] is False
    assert client["EnableTokenRevocation"] is True  # POST /auth/logout revokes the refresh token
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    # Access ends within 15 minutes: the tokens live as long as the API honours them, no longer.
    units = client["TokenValidityUnits"]
    assert (client["IdTokenValidity"], units["IdToken"]) == (MAX_TOKEN_AGE_SECONDS // 60, "minutes")
    assert (client["AccessTokenValidity"], units["AccessToken"]) == (MAX_TOKEN_AGE_SECONDS // 60, "minutes")
    assert MAX_TOKEN_AGE_SECONDS <= 15 * 60
    assert (client["RefreshTokenValidity"], units["RefreshToken"]) == (7, "days")
    assert {a.removeprefix("custom:") for a in client["ReadAttributes"] if a.startswith("custom:")} == attributes
    assert not [a for a in client["WriteAttributes"] if a.startswith("custom:") or a == "email"]


def test_the_pools_client_ids_and_the_signing_secret_reach_every_function(resources):
    for function in FUNCTIONS:
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["USER_POOL_ID"] == {"Ref": "UserPool"}
        assert variables["APP_CLIENT_ID"] == {"Ref": "PortalClient"}
        assert variables["STAFF_USER_POOL_ID"] == {"Ref": "StaffUserPool"}
        assert variables["STAFF_APP_CLIENT_ID"] == {"Ref": "StaffClient"}
        assert variables["SIGNING_KEYS_SECRET"] == {"Ref": "SigningKeysSecret"}
        assert variables["SENDER_EMAIL"] == {"Ref": "SenderEmail"}
        assert variables["SES_CONFIGURATION_SET"] == {"Ref": "EmailConfigurationSet"}
        assert variables["METRICS_NAMESPACE"] == {"Fn::Sub": "ClientPortal/${AWS::StackName}"}
        if function != "SendReminders":
            assert variables["PUBLIC_URL"] == {"Ref": "PublicUrl"}


def test_the_reminder_links_point_at_the_custom_domain_or_else_at_the_apis_own_address(resources):
    public_url = resources["SendReminders"]["Properties"]["Environment"]["Variables"]["PUBLIC_URL"]
    condition, custom, own = public_url["Fn::If"]
    assert (condition, custom) == ("HasPublicUrl", {"Fn::Sub": "${PublicUrl}"})
    assert own == {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}


def test_the_reminder_sweep_runs_every_minute(packaged):
    events = packaged["sam"]["Resources"]["SendReminders"]["Properties"]["Events"]
    ((_, event),) = events.items()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")


def test_the_signing_keys_secret_is_generated_with_a_current_key_id(resources):
    generated = resources["SigningKeysSecret"]["Properties"]["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"current": generated["GenerateStringKey"]}
    assert generated["PasswordLength"] >= 32
    api_policy = json.loads((ROOT / ".chalice" / "policy-api.json").read_text())
    (statement,) = [s for s in api_policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert statement["Resource"] == {"Ref": "SigningKeysSecret"}


# --- Logs --------------------------------------------------------------------------------------


def test_every_log_group_keeps_its_lines_for_the_retention_parameter_six_years_by_default(packaged, resources):
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert {"ApiLogGroup", "AuthorizerLogGroup", "VisitChangesLogGroup", "ApiAccessLogGroup"} <= set(groups)
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["DeletionPolicy"] == "Retain", name  # audit records outlive the stack
    assert packaged["cfn"]["Parameters"]["LogRetentionDays"]["Default"] == 2192


def test_every_function_logs_to_its_own_group(resources):
    names = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in of_type(resources, "AWS::Logs::LogGroup").values()}
    for function, suffix in (
        ("APIHandler", "api"),
        ("CognitoIdToken", "authorizer"),
        ("VisitChanges", "visit-changes"),
    ):
        assert resources[function]["Properties"]["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
        assert f"/aws/lambda/${{AWS::StackName}}-{suffix}" in names


def test_the_api_stage_writes_an_access_log_line_per_request_with_the_caller(resources):
    (api_stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    setting = api_stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])
    assert line["requestId"] == "$context.requestId"
    assert line["ip"] == "$context.identity.sourceIp"
    assert line["caller"] == "$context.authorizer.principalId"  # the user id (sub) the authorizer verified
    assert line["route"] == "$context.httpMethod $context.resourcePath"  # the template: no ids or link secrets
    assert line["status"] == "$context.status"
    assert "$context.path" not in setting["Format"]


# --- The stream ------------------------------------------------------------------------------


def mappings(resources):
    return {
        m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    }


@pytest.fixture(scope="module")
def stream_mapping(resources):
    return mappings(resources)["VisitChanges"]


@pytest.mark.parametrize("function, table", STREAM_FUNCTIONS.items())
def test_each_stream_mapping_retries_failed_records_only_and_keeps_what_it_gives_up_on(function, table, resources):
    assert set(mappings(resources)) == set(STREAM_FUNCTIONS)
    mapping = mappings(resources)[function]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamFailuresQueue", "Arn"]}


def test_every_change_to_a_visit_reaches_the_stream_function(stream_mapping):
    # The history records inserts, console edits and deletions too: no record may be filtered out.
    assert "FilterCriteria" not in stream_mapping


# --- Emails and operations --------------------------------------------------------------------


def test_the_email_configuration_set_requires_tls_and_reports_deliveries_bounces_and_complaints(resources):
    [(name, configuration_set)] = of_type(resources, "AWS::SES::ConfigurationSet").items()
    assert name == "EmailConfigurationSet"
    assert configuration_set["Properties"]["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    [destination] = of_type(resources, "AWS::SES::ConfigurationSetEventDestination").values()
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "EmailConfigurationSet"}
    events = destination["Properties"]["EventDestination"]
    assert events["Enabled"] is True
    assert {"bounce", "complaint", "delivery"} <= set(events["MatchingEventTypes"])
    assert events["SnsDestination"] == {"TopicARN": {"Ref": "EmailEventsTopic"}}
    [subscription] = [
        s["Properties"]
        for s in of_type(resources, "AWS::SNS::Subscription").values()
        if s["Properties"]["Endpoint"] == {"Fn::GetAtt": ["EmailEvents", "Arn"]}
    ]
    assert subscription["Protocol"] == "lambda"
    assert subscription["TopicArn"] == {"Fn::Sub": "${EmailEventsTopic}"}


def test_the_operations_topic_emails_the_address_given_at_deploy_time(packaged, resources):
    topic = resources["OperationsTopic"]["Properties"]
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "OpsEmail"}}]
    assert packaged["cfn"]["Parameters"]["OpsEmail"]["Type"] == "String"


def alarm_on(resources, namespace, metric, dimension=None):
    found = [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
        and a["Properties"]["Namespace"] == namespace
        and (dimension is None or dimension in a["Properties"]["Dimensions"])
    ]
    assert len(found) == 1, (namespace, metric, dimension)
    return found[0]


OURS = {"Fn::Sub": "ClientPortal/${AWS::StackName}"}
SERVICE = {"Name": "service", "Value": "client-portal"}


@pytest.mark.parametrize(
    "namespace, metric, dimension",
    [
        (OURS, "ClinicEmailsUndeliverable", SERVICE),
        (OURS, "ClinicEmailsKeptTooLong", SERVICE),
        (OURS, "ClinicEmailBounce", SERVICE),
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["StreamFailuresQueue", "QueueName"]}},
        ),
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AsyncFailuresQueue", "QueueName"]}},
        ),
        ("AWS/SES", "Reputation.BounceRate", None),
        ("AWS/SES", "Reputation.ComplaintRate", None),
    ]
    + [
        ("AWS/Lambda", metric, {"Name": "FunctionName", "Value": {"Ref": f}})
        for f in FUNCTIONS
        for metric in ("Errors", "Throttles")
    ]
    + [("AWS/Lambda", "IteratorAge", {"Name": "FunctionName", "Value": {"Ref": f}}) for f in STREAM_FUNCTIONS],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_alarm_tells_the_operations_topic(resources, namespace, metric, dimension):
    alarm = alarm_on(resources, namespace, metric, dimension)
    assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "README" in alarm["AlarmDescription"]


def test_the_first_undeliverable_email_alarms(resources):
    alarm = alarm_on(resources, OURS, "ClinicEmailsUndeliverable")
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
        1,
    )


def test_the_metrics_the_alarms_watch_are_the_ones_the_code_emits(resources):
    from chalicelib import email_events, notifications

    ours = {
        a["Properties"]["MetricName"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == OURS
    }
    emitted = {notifications.UNDELIVERABLE_METRIC, notifications.KEPT_TOO_LONG_METRIC} | {
        f"ClinicEmail{kind}" for kind in email_events.EVENT_TYPES
    }
    assert ours <= emitted


# --- The scan auditors run ---------------------------------------------------------------------


def test_checkov_finds_nothing_and_every_skip_says_why(packaged):
    found = scan.scan(packaged["out"] / "sam.json")

    assert found.failed == []
    assert found.passed >= 100
    assert [s for s in found.skipped if len(s[2]) < 40] == []  # a reason, not a shrug
    assert {check for check, _, _ in found.skipped} <= {
        "CKV_AWS_116",
        "CKV_AWS_117",
        "CKV_AWS_173",
        "CKV_AWS_120",
        "CKV_AWS_192",
    }


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


def test_gateway_errors_are_never_cached(api_body):
    for response_type, response in api_body["x-amazon-apigateway-gateway-responses"].items():
        assert response["responseParameters"]["gatewayresponse.header.Cache-Control"] == "'no-store'", response_type


def rate_rules(web_acl) -> dict:
    return {
        rule["Name"]: (rule["Statement"]["RateBasedStatement"], rule["Action"])
        for rule in web_acl["Properties"]["Rules"]
    }


def test_the_api_limits_each_client_address_and_logins_far_harder_than_the_rest(resources):
    web_acl = resources["ApiWebAcl"]
    assert web_acl["Properties"]["Scope"] == "REGIONAL"
    assert web_acl["Properties"]["DefaultAction"] == {"Allow": {}}
    rules = rate_rules(web_acl)
    assert set(rules) == {"auth-per-client", "public-links-per-client", "all-per-client"}
    for statement, action in rules.values():
        assert statement["AggregateKeyType"] == "IP"  # per client, not shared by every caller
        assert action["Block"]["CustomResponse"]["ResponseCode"] == 429
    body = web_acl["Properties"]["CustomResponseBodies"]["TooManyRequests"]
    assert json.loads(body["Content"])["Code"] == "TooManyRequestsError"
    auth, _ = rules["auth-per-client"]
    assert auth["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/api/auth/"
    assert auth["Limit"] * 10 <= rules["all-per-client"][0]["Limit"]
    links = rules["public-links-per-client"][0]["ScopeDownStatement"]["OrStatement"]["Statements"]
    assert [s["ByteMatchStatement"]["SearchString"] for s in links] == ["/api/r/", "/api/u/", "/api/cal/"]


def test_the_web_acls_guard_the_api_stage_and_both_user_pools(resources):
    associations = {
        json.dumps(a["Properties"]["ResourceArn"]): a["Properties"]["WebACLArn"]
        for a in of_type(resources, "AWS::WAFv2::WebACLAssociation").values()
    }
    stage_arn = {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/api"}
    assert associations == {
        json.dumps(stage_arn): {"Fn::GetAtt": ["ApiWebAcl", "Arn"]},
        json.dumps({"Fn::GetAtt": ["UserPool", "Arn"]}): {"Fn::GetAtt": ["LoginsWebAcl", "Arn"]},
        json.dumps({"Fn::GetAtt": ["StaffUserPool", "Arn"]}): {"Fn::GetAtt": ["LoginsWebAcl", "Arn"]},
    }
    (pools_rule,) = rate_rules(resources["LoginsWebAcl"]).values()
    assert pools_rule[0]["AggregateKeyType"] == "IP" and pools_rule[0]["Limit"] <= 100


def test_the_stage_keeps_only_a_generous_backstop_not_throttles_every_caller_shares_on_logins(resources):
    (api_stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    (backstop,) = api_stage["Properties"]["MethodSettings"]
    assert (backstop["ResourcePath"], backstop["HttpMethod"]) == ("/*", "*")
    assert backstop["ThrottlingRateLimit"] >= 500


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
