"""infra/template.json: least-privilege roles, stream mappings that report partial failures,
the key schema the code uses, the dashboard body from infra/dashboard.json, the alarms."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import pytest

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sim.provision import table_definition
from tests.conftest import ROOT
from tests.infra.cfn import Resolver, intrinsic_references, load_template, of_type

TEMPLATE = load_template()
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Amazon Transcribe streaming's actions accept no resource but *.
TRANSCRIBE_ACTIONS = {"transcribe:StartStreamTranscription", "transcribe:StartStreamTranscriptionWebSocket"}
# Connect names each contact's media stream <prefix>-<contact>: the prefix is the stage's.
CONTACT_MEDIA = ":stream/switchboard-${Stage}-connect-*"
CONNECT_CONTACTS = ":instance/${ConnectInstanceId}/contact/*"
CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


def build_template_module() -> Any:
    spec = importlib.util.spec_from_file_location("build_template", ROOT / "infra" / "build_template.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def statements() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, role in of_type(TEMPLATE, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def alarms() -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()]


def alarm_for(namespace: str, metric: str, **dimensions: Any) -> dict[str, Any]:
    for props in alarms():
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        if (props["Namespace"], props["MetricName"]) == (namespace, metric) and all(
            dims.get(k) == v for k, v in dimensions.items()
        ):
            return props
    raise AssertionError(f"no alarm on {namespace}/{metric} {dimensions}")


# ---------------------------------------------------------------------------- IAM


def test_the_roles_grant_no_wildcard_action_except_the_two_xray_writes() -> None:
    assert statements()
    for role, statement in statements():
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{role}: wildcard action {action}"
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) in (XRAY_ACTIONS, TRANSCRIBE_ACTIONS), f"{role}: Resource *"


def test_every_resource_is_a_resource_of_this_stack_or_a_name_built_for_this_stage() -> None:
    for role, statement in statements():
        if set(as_list(statement["Action"])) in (XRAY_ACTIONS, TRANSCRIBE_ACTIONS):
            continue
        for resource in as_list(statement["Resource"]):
            assert isinstance(resource, dict), f"{role}: literal resource {resource}"
            refs = intrinsic_references(resource)
            if "Fn::Sub" in resource:
                text = resource["Fn::Sub"]
                if text.endswith(CONNECT_CONTACTS):
                    # Contacts have no stage: the grant is scoped to the one instance's contacts.
                    assert "ConnectInstanceId" in refs, f"{role}: {text}"
                    assert as_list(statement["Action"]) == ["connect:UpdateContactAttributes"], role
                    continue
                assert "Stage" in refs, f"{role}: {text} is not scoped to the stage"
                if text.endswith(CONTACT_MEDIA):  # the stage's contacts' media, read only
                    actions = set(as_list(statement["Action"]))
                    assert actions == {"kinesisvideo:GetDataEndpoint", "kinesisvideo:GetMedia"}, role
                    continue
                # The only wildcard allowed: the log streams of one named log group.
                assert "*" not in text.removesuffix(":*"), f"{role}: {text}"
            else:
                assert refs <= set(TEMPLATE["Resources"]), f"{role}: {resource}"


def test_log_permissions_cover_exactly_the_functions_chalice_configures() -> None:
    resolver = Resolver(TEMPLATE, "prod")
    groups = {
        resolver.resolve(r).split(":log-group:")[1].removesuffix(":*")
        for _, s in statements()
        if "logs:PutLogEvents" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    }
    functions = set(CHALICE_CONFIG["stages"]["prod"]["lambda_functions"])
    assert groups == {f"/aws/lambda/switchboard-prod-{f}" for f in functions}


def test_the_handover_state_machine_arn_is_built_by_name_for_start_and_task_callbacks() -> None:
    resolver = Resolver(TEMPLATE, "prod")
    expected = "arn:aws:states:us-east-1:000000000000:stateMachine:switchboard-prod-handover"
    granted: dict[str, set[str]] = {}
    for _, s in statements():
        for action in as_list(s["Action"]):
            if action.startswith("states:"):
                granted[action] = {resolver.resolve(r) for r in as_list(s["Resource"])}
    assert granted == {
        "states:StartExecution": {expected},
        "states:SendTaskSuccess": {expected},
        "states:SendTaskFailure": {expected},
    }


def test_the_turn_role_cannot_read_the_streams_and_the_consumers_cannot_read_the_model_key() -> None:
    by_role: dict[str, set[str]] = {}
    for role, s in statements():
        by_role.setdefault(role, set()).update(as_list(s["Action"]))
    assert not any(a.startswith("kinesis:") for a in by_role["TurnRole"])
    assert "secretsmanager:GetSecretValue" not in by_role["StreamConsumerRole"]
    assert "states:StartExecution" not in by_role["StreamConsumerRole"]


def test_each_role_is_assumable_by_lambda_only_except_the_state_machines() -> None:
    for name, role in of_type(TEMPLATE, "AWS::IAM::Role").items():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        service = "states.amazonaws.com" if name == "HandoverStateMachineRole" else "lambda.amazonaws.com"
        assert statement["Principal"] == {"Service": service}, name
        assert statement["Action"] == "sts:AssumeRole"


def test_the_state_machine_may_invoke_its_three_task_functions_and_nothing_else() -> None:
    resolver = Resolver(TEMPLATE, "prod")
    role = TEMPLATE["Resources"]["HandoverStateMachineRole"]["Properties"]
    (statement,) = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statement["Action"] == ["lambda:InvokeFunction"]
    granted = {resolver.resolve(r) for r in statement["Resource"]}
    machine = TEMPLATE["Resources"]["HandoverStateMachine"]["Properties"]
    named = {resolver.resolve(v) for v in machine["DefinitionSubstitutions"].values()}
    assert (
        granted
        == named
        == {
            f"arn:aws:lambda:us-east-1:000000000000:function:switchboard-prod-{f}"
            for f in ("handover_prepare", "handover_wait", "handover_callback")
        }
    )
    assert machine["RoleArn"] == {"Fn::GetAtt": ["HandoverStateMachineRole", "Arn"]}
    assert machine["StateMachineType"] == "STANDARD"
    assert resolver.resolve(machine["StateMachineName"]) == "switchboard-prod-handover"


def test_the_embedded_definition_is_infra_handover_asl_json() -> None:
    build = build_template_module()
    machine = TEMPLATE["Resources"]["HandoverStateMachine"]["Properties"]
    assert machine["DefinitionString"] == build.state_machine_definition()
    names = set(re.findall(r"\$\{([^}]+)\}", machine["DefinitionString"]))
    assert names == set(machine["DefinitionSubstitutions"])


# ---------------------------------------------------------------------------- streams


def test_every_event_source_mapping_reports_batch_item_failures_and_bisects() -> None:
    mappings = of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for name, mapping in mappings.items():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert props["BisectBatchOnFunctionError"] is True, name
        assert 0 <= props["MaximumRetryAttempts"] <= 10_000, name
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 604_800, name
        assert props["StartingPosition"] in ("LATEST", "TRIM_HORIZON"), name
        assert 1 <= props["BatchSize"] <= 10_000, name
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        assert TEMPLATE["Resources"][destination["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue", name
        assert mapping["Condition"] == "CreateEventSourceMappings", name


def test_the_mappings_feed_the_chalice_functions_by_chalices_naming() -> None:
    resolver = Resolver(TEMPLATE, "prod")
    fed = {
        resolver.resolve(m["Properties"]["FunctionName"]): resolver.resolve(m["Properties"]["EventSourceArn"])
        for m in of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping").values()
    }
    # chalice names a function {app_name}-{stage}-{name}
    prefix = f"{CHALICE_CONFIG['app_name']}-prod-"
    assert set(fed) == {prefix + "segments", prefix + "contact_records"}
    assert set(fed) <= {prefix + f for f in CHALICE_CONFIG["stages"]["prod"]["lambda_functions"]}
    assert fed[prefix + "segments"].endswith(":stream/switchboard-prod-contact-lens-segments")
    assert fed[prefix + "contact_records"].endswith(":stream/switchboard-prod-contact-records")


def test_the_streams_are_on_demand_and_encrypted() -> None:
    streams = of_type(TEMPLATE, "AWS::Kinesis::Stream")
    assert len(streams) == 2
    for stream in streams.values():
        assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert stream["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"


# ---------------------------------------------------------------------------- the table


def test_the_table_key_schema_is_the_one_the_code_uses() -> None:
    props = TEMPLATE["Resources"]["SessionTable"]["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
        {"AttributeName": SORT_KEY, "AttributeType": "S"},
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_sim_still_creates_the_table_from_the_template(stage: str) -> None:
    definition = table_definition(TEMPLATE, "SessionTable", stage)
    assert definition["TableName"] == CHALICE_CONFIG["stages"][stage]["environment_variables"]["SWITCHBOARD_TABLE_NAME"]


# ---------------------------------------------------------------------------- dashboard


def test_the_embedded_dashboard_body_is_infra_dashboard_json() -> None:
    build = build_template_module()
    assert build.embedded_body(TEMPLATE) == build.dashboard_body()
    assert build.main(["--check"]) == 0
    embedded = json.loads(build.embedded_body(TEMPLATE))
    on_disk = json.loads((ROOT / "infra" / "dashboard.json").read_text())
    assert embedded == {k: v for k, v in on_disk.items() if not k.startswith("_")}
    assert intrinsic_references(TEMPLATE["Resources"]["Dashboard"]["Properties"]["DashboardBody"]) == {"AWS::Region"}


def test_the_layout_is_stable() -> None:
    build = build_template_module()
    text = (ROOT / "infra" / "template.json").read_text()
    assert build.render(json.loads(text)) + "\n" == text


# ---------------------------------------------------------------------------- alarms


def test_an_alarm_for_deadline_misses() -> None:
    props = alarm_for("Switchboard", "DeadlineMisses", service="switchboard")
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 300, 0)
    assert props["ComparisonOperator"] == "GreaterThanThreshold"


def test_an_alarm_for_turn_handler_errors() -> None:
    props = alarm_for("AWS/Lambda", "Errors", FunctionName={"Fn::Sub": "switchboard-${Stage}-turn"})
    assert (props["Statistic"], props["Threshold"]) == ("Sum", 0)


@pytest.mark.parametrize("stream", ["SegmentsStream", "RecordsStream"])
def test_an_iterator_age_alarm_for_each_stream(stream: str) -> None:
    props = alarm_for("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", StreamName={"Ref": stream})
    assert props["Statistic"] == "Maximum"
    assert props["Threshold"] == {"Ref": "IteratorAgeAlarmMs"}


def test_an_alarm_for_the_dead_letter_queue_depth() -> None:
    props = alarm_for("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["StreamFailureQueue", "QueueName"]}}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_an_alarm_for_cost_per_turn_above_the_threshold_parameter() -> None:
    props = alarm_for("Switchboard", "TurnCostMicroUsd", service="switchboard")
    assert props["Statistic"] == "Average"
    assert props["Threshold"] == {"Ref": "CostPerTurnAlarmMicroUsd"}
    assert TEMPLATE["Parameters"]["CostPerTurnAlarmMicroUsd"]["Type"] == "Number"


def test_every_alarm_notifies_the_alarm_topic_and_ignores_missing_data() -> None:
    for props in alarms():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert props["TreatMissingData"] == "notBreaching"
        assert "Stage" in intrinsic_references(props["AlarmName"])


# ---------------------------------------------------------------------------- wiring


def test_every_reference_resolves_to_a_parameter_resource_or_pseudo_parameter() -> None:
    known = set(TEMPLATE["Parameters"]) | set(TEMPLATE["Resources"])
    for name, resource in TEMPLATE["Resources"].items():
        refs = {r for r in intrinsic_references(resource) if not r.startswith("AWS::")}
        assert refs <= known, f"{name}: {refs - known}"
        if "Condition" in resource:
            assert resource["Condition"] in TEMPLATE["Conditions"]


def test_outputs_name_everything_the_deploy_steps_need() -> None:
    outputs = Resolver(TEMPLATE, "prod").outputs()
    assert outputs["TurnRoleArn"] == "arn:aws:iam::000000000000:role/switchboard-prod-turn"
    assert outputs["SegmentsStreamArn"].endswith(":stream/switchboard-prod-contact-lens-segments")
    assert outputs["RecordsStreamArn"].endswith(":stream/switchboard-prod-contact-records")
    assert outputs["TurnFunctionArn"].endswith(":function:switchboard-prod-turn")
    for key in ("ModelSecretArn", "AlarmTopicArn", "DashboardUrl", "StreamFailureQueueUrl", "SessionTableName"):
        assert outputs[key]
