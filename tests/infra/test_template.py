"""infra/template.json: least-privilege roles, the customer managed key and what it encrypts, the
Lex V2 bot, stream mappings that report partial failures, the key schema the code uses, the
dashboard body from infra/dashboard.json, the alarms."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sim.scripts import load_script
from tests.conftest import ROOT
from tests.infra.cfn import Resolver, intrinsic_references, load_template, of_type

TEMPLATE = load_template()
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Amazon Transcribe streaming's actions accept no resource but *.
TRANSCRIBE_ACTIONS = {"transcribe:StartStreamTranscription", "transcribe:StartStreamTranscriptionWebSocket"}
# A task token, not an ARN, names the execution: the Service Authorization Reference lists no resource type.
TASK_CALLBACK_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure"}
# Its resource type (lexicon) is optional: speech without a lexicon matches only *.
POLLY_ACTIONS = {"polly:SynthesizeSpeech"}
# The only statements whose Resource may be "*": each is a group of actions that accept no other.
RESOURCE_STAR_ACTIONS = (XRAY_ACTIONS, TRANSCRIBE_ACTIONS, TASK_CALLBACK_ACTIONS, POLLY_ACTIONS)
KEY_ARN = {"Fn::GetAtt": ["SessionKey", "Arn"]}
VAULT_PURPOSE = "switchboard-vault"  # chalicelib/adapters/kms_vault.py PURPOSE, the data keys' context
# What DynamoDB documents for the principals that use a table under a customer managed key, with
# its wildcards (kms:ReEncrypt*, kms:GenerateDataKey*) spelled out; kms:CreateGrant only for the
# table's creator (CloudFormation, with the deployer's permissions).
DYNAMODB_KEY_ACTIONS = {
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
}
# Connect names each contact's media stream <prefix>-<contact>: the prefix is the stage's.
CONTACT_MEDIA = ":stream/switchboard-${Stage}-connect-*"
CONNECT_CONTACTS = ":instance/${ConnectInstanceId}/contact/*"
CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


def build_template_module() -> Any:
    return load_script("infra/build_template.py")


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


def test_the_roles_grant_no_wildcard_action_and_resource_star_only_to_actions_that_accept_no_other() -> None:
    assert statements()
    for role, statement in statements():
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{role}: wildcard action {action}"
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"], role
            assert set(as_list(statement["Action"])) in RESOURCE_STAR_ACTIONS, f"{role}: Resource *"
            assert statement["Sid"].endswith("AcceptsResourceStar"), role


@pytest.mark.parametrize("actions", RESOURCE_STAR_ACTIONS, ids=lambda a: sorted(a)[0])
def test_each_resource_star_action_has_no_required_resource_in_the_service_authorization_reference(
    actions: set[str],
) -> None:
    """parliament ships the reference (iam_definition.json): a required resource type ends in '*'.
    Read without importing parliament (its import leaves files open)."""
    spec = importlib.util.find_spec("parliament")
    assert spec and spec.origin
    reference = json.loads((Path(spec.origin).parent / "iam_definition.json").read_text())
    privileges = {
        f"{service['prefix']}:{p['privilege']}": p["resource_types"]
        for service in reference
        for p in service["privileges"]
    }
    for action in actions:
        required = [r["resource_type"] for r in privileges[action] if r["resource_type"].endswith("*")]
        assert required == [], f"{action} requires {required}"


def test_every_resource_is_a_resource_of_this_stack_or_a_name_built_for_this_stage() -> None:
    for role, statement in statements():
        if set(as_list(statement["Action"])) in RESOURCE_STAR_ACTIONS:
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
    # SendTaskSuccess/Failure name the execution by its task token: they accept only Resource *.
    assert granted == {
        "states:StartExecution": {expected},
        "states:SendTaskSuccess": {"*"},
        "states:SendTaskFailure": {"*"},
    }


def test_the_turn_role_cannot_read_the_streams_and_the_consumers_cannot_read_the_model_key() -> None:
    by_role: dict[str, set[str]] = {}
    for role, s in statements():
        by_role.setdefault(role, set()).update(as_list(s["Action"]))
    assert not any(a.startswith("kinesis:") for a in by_role["TurnRole"])
    assert "secretsmanager:GetSecretValue" not in by_role["StreamConsumerRole"]
    assert "states:StartExecution" not in by_role["StreamConsumerRole"]


def test_each_role_is_assumable_by_lambda_only_except_the_state_machines_and_the_bots() -> None:
    services = {"HandoverStateMachineRole": "states.amazonaws.com", "LexRole": "lexv2.amazonaws.com"}
    for name, role in of_type(TEMPLATE, "AWS::IAM::Role").items():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": services.get(name, "lambda.amazonaws.com")}, name
        assert statement["Action"] == "sts:AssumeRole"
    (lex,) = TEMPLATE["Resources"]["LexRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert lex["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


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


# ---------------------------------------------------------------------------- the key


def kms_statements() -> list[tuple[str, dict[str, Any]]]:
    return [(r, st) for r, st in statements() if any(a.startswith("kms:") for a in as_list(st["Action"]))]


def test_the_session_key_is_rotated_retained_and_administered_by_the_account() -> None:
    key = TEMPLATE["Resources"]["SessionKey"]
    assert key["Type"] == "AWS::KMS::Key"
    # Retained with the table it encrypts: a deleted key would leave the retained table unreadable.
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    assert TEMPLATE["Resources"]["SessionTable"]["DeletionPolicy"] == "Retain"
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    root, *services = props["KeyPolicy"]["Statement"]
    assert root["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    for statement in services:  # every service principal's use is scoped by conditions
        assert set(statement["Principal"]) == {"Service"}
        assert statement["Condition"], statement["Sid"]
        assert not any("*" in a for a in as_list(statement["Action"])), statement["Sid"]
    alias = TEMPLATE["Resources"]["SessionKeyAlias"]["Properties"]
    assert alias == {
        "AliasName": {"Fn::Sub": "alias/switchboard-${Stage}-sessions"},
        "TargetKeyId": {"Ref": "SessionKey"},
    }


def test_cloudwatch_may_use_the_key_for_this_stages_alarm_topic_only() -> None:
    resolver = Resolver(TEMPLATE, "prod")
    (statement,) = [
        s
        for s in TEMPLATE["Resources"]["SessionKey"]["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    condition = resolver.resolve(statement["Condition"])
    topic = resolver.arn("AlarmTopic")
    assert condition["StringEquals"] == {"kms:EncryptionContext:aws:sns:topicArn": topic}
    assert condition["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:switchboard-prod-*"
    }
    for props in alarms():  # the alarms the condition admits are this stage's
        assert resolver.resolve(props["AlarmName"]).startswith("switchboard-prod-")


def test_the_table_queue_topic_and_secret_are_encrypted_with_the_session_key() -> None:
    resources = TEMPLATE["Resources"]
    assert resources["SessionTable"]["Properties"]["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": KEY_ARN,
    }
    assert resources["StreamFailureQueue"]["Properties"]["KmsMasterKeyId"] == KEY_ARN
    assert "SqsManagedSseEnabled" not in resources["StreamFailureQueue"]["Properties"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == KEY_ARN
    assert resources["ModelApiKeySecret"]["Properties"]["KmsKeyId"] == KEY_ARN


def test_kms_is_granted_on_the_session_key_only() -> None:
    assert kms_statements()
    for role, statement in kms_statements():
        assert statement["Resource"] == [KEY_ARN], role
        assert all(a.startswith("kms:") for a in as_list(statement["Action"])), role


def test_every_role_that_uses_the_table_may_use_its_key_through_dynamodb_only() -> None:
    users = {r for r, s in statements() if s["Resource"] == [{"Fn::GetAtt": ["SessionTable", "Arn"]}]}
    assert users == {"TurnRole", "StreamConsumerRole", "HandoverRole", "TranscriberRole"}
    through_dynamodb = {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}
    for role in users:
        (statement,) = [s for r, s in kms_statements() if r == role and s["Sid"] == "SessionTableKeyThroughDynamoDb"]
        assert set(statement["Action"]) == DYNAMODB_KEY_ACTIONS, role
        assert statement["Condition"] == {"StringEquals": through_dynamodb}, role


def test_the_turn_may_encrypt_and_decrypt_with_the_key_itself_and_no_other_role_may() -> None:
    direct = [
        (r, s) for r, s in kms_statements() if "kms:ViaService" not in s.get("Condition", {}).get("StringEquals", {})
    ]
    assert [(r, set(s["Action"])) for r, s in direct if "Condition" not in s] == [
        ("TurnRole", {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"})
    ]
    # The callback step opens the vault's data keys (the caller's number), and nothing else.
    assert [(r, s["Action"], s["Condition"]) for r, s in direct if "Condition" in s] == [
        ("HandoverRole", ["kms:Decrypt"], {"StringEquals": {"kms:EncryptionContext:purpose": VAULT_PURPOSE}})
    ]


def test_the_secrets_readers_may_decrypt_them_through_secrets_manager_for_those_secrets_only() -> None:
    reads = [(r, s["Resource"]) for r, s in statements() if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert reads == [("TurnRole", [{"Ref": "ModelApiKeySecret"}]), ("TurnRole", [{"Ref": "RedactionKeySecret"}])]
    for role, [secret] in reads:
        (statement,) = [
            s for r, s in kms_statements()
            if r == role and s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            == {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
            and s["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == secret
        ]  # fmt: skip
        assert statement["Action"] == ["kms:Decrypt"]


def test_the_redaction_key_is_generated_by_cloudformation_and_encrypted_with_the_session_key() -> None:
    props = TEMPLATE["Resources"]["RedactionKeySecret"]["Properties"]
    assert props["GenerateSecretString"] == {"PasswordLength": 64, "ExcludePunctuation": True}
    assert props["KmsKeyId"] == KEY_ARN and "SecretString" not in props
    assert TEMPLATE["Outputs"]["RedactionKeySecretArn"]["Value"] == {"Ref": "RedactionKeySecret"}


def test_the_records_consumer_may_delete_a_contacts_vault_and_the_turn_may_not() -> None:
    deleters = {r for r, s in statements() if "dynamodb:DeleteItem" in as_list(s["Action"])}
    assert deleters == {"StreamConsumerRole"}


def test_the_failed_batch_sender_may_use_the_queues_key_through_sqs() -> None:
    (statement,) = [
        s for r, s in kms_statements() if r == "StreamConsumerRole" and s["Sid"] == "FailedBatchesKeyThroughSqs"
    ]
    assert set(statement["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }


# ---------------------------------------------------------------------------- the Lex bot


def lex(logical_id: str) -> dict[str, Any]:
    return dict(TEMPLATE["Resources"][logical_id]["Properties"])


def test_the_bot_has_an_en_us_and_an_es_us_locale_whose_fallback_intent_takes_every_utterance() -> None:
    bot = lex("LexBot")
    assert bot["Name"] == {"Fn::Sub": "switchboard-${Stage}"}
    assert bot["RoleArn"] == {"Fn::GetAtt": ["LexRole", "Arn"]}
    assert (bot["IdleSessionTTLInSeconds"], bot["AutoBuildBotLocales"]) == (300, True)
    assert bot["DataPrivacy"] == {"ChildDirected": False}
    locales = {locale["LocaleId"]: locale for locale in bot["BotLocales"]}
    assert list(locales) == ["en_US", "es_US"]
    voices = {"en_US": {"VoiceId": "Joanna", "Engine": "neural"}, "es_US": {"VoiceId": "Lupe", "Engine": "neural"}}
    for locale_id, locale in locales.items():
        assert 0 <= locale["NluConfidenceThreshold"] <= 1
        assert locale["VoiceSettings"] == voices[locale_id]
        intents = {i["Name"]: i for i in locale["Intents"]}
        assert set(intents) == {"Placeholder", "FallbackIntent"}
        assert intents["Placeholder"]["SampleUtterances"]  # a locale builds only with an intent that has one
        fallback = intents["FallbackIntent"]
        assert fallback["ParentIntentSignature"] == "AMAZON.FallbackIntent"
        assert fallback["FulfillmentCodeHook"] == {"Enabled": {"Fn::If": ["LexCodeHookTurns", True, False]}}


def test_the_spanish_locale_mirrors_the_english_one_with_spanish_utterances() -> None:
    english, spanish = lex("LexBot")["BotLocales"]
    assert [i["Name"] for i in spanish["Intents"]] == [i["Name"] for i in english["Intents"]]
    (placeholder,) = [i for i in spanish["Intents"] if i["Name"] == "Placeholder"]
    assert placeholder["SampleUtterances"] != english["Intents"][0]["SampleUtterances"]
    assert spanish["NluConfidenceThreshold"] == english["NluConfidenceThreshold"]


def test_the_turn_path_parameter_switches_the_fallback_code_hook() -> None:
    parameter = TEMPLATE["Parameters"]["TurnPath"]
    assert parameter["AllowedValues"] == ["LexCodeHook", "InvokeLambda"]
    assert parameter["Default"] == "LexCodeHook"
    assert "$.Lex.InputTranscript" in parameter["Description"]
    assert TEMPLATE["Conditions"]["LexCodeHookTurns"] == {"Fn::Equals": [{"Ref": "TurnPath"}, "LexCodeHook"]}
    for path, enabled in (("LexCodeHook", True), ("InvokeLambda", False)):
        resolved = Resolver(TEMPLATE, "prod", {"TurnPath": path}).resolve(lex("LexBot"))
        for locale in resolved["BotLocales"]:
            (fallback,) = [i for i in locale["Intents"] if i["Name"] == "FallbackIntent"]
            assert fallback["FulfillmentCodeHook"] == {"Enabled": enabled}


def test_the_alias_serves_a_version_built_from_draft_with_the_turn_function_as_code_hook() -> None:
    version = lex("LexBotVersion")
    assert version["BotId"] == {"Ref": "LexBot"}
    assert version["BotVersionLocaleSpecification"] == [
        {"LocaleId": locale, "BotVersionLocaleDetails": {"SourceBotVersion": "DRAFT"}} for locale in ("en_US", "es_US")
    ]
    alias = lex("LexBotAlias")
    assert alias["BotAliasName"] == {"Ref": "Stage"}
    assert alias["BotVersion"] == {"Fn::GetAtt": ["LexBotVersion", "BotVersion"]}
    settings = alias["BotAliasLocaleSettings"]
    assert [s["LocaleId"] for s in settings] == ["en_US", "es_US"]
    for setting in settings:
        assert setting["BotAliasLocaleSetting"]["Enabled"] is True
        hook = setting["BotAliasLocaleSetting"]["CodeHookSpecification"]["LambdaCodeHook"]
        assert hook["CodeHookInterfaceVersion"] == "1.0"
        assert hook["LambdaArn"] == TEMPLATE["Outputs"]["TurnFunctionArn"]["Value"]


def test_a_changed_bot_publishes_a_new_version() -> None:
    build = build_template_module()
    assert lex("LexBotVersion")["Description"] == build.bot_version_description(TEMPLATE)
    changed = json.loads(json.dumps(TEMPLATE))
    changed["Resources"]["LexBot"]["Properties"]["BotLocales"][0]["NluConfidenceThreshold"] = 0.5
    assert build.bot_version_description(changed) != build.bot_version_description(TEMPLATE)
    assert "${TurnPath}" in build.bot_version_description(TEMPLATE)["Fn::Sub"]


def test_lex_may_invoke_the_turn_once_it_exists_from_this_bots_aliases_in_this_account() -> None:
    permission = TEMPLATE["Resources"]["LexInvokePermission"]
    assert permission["Condition"] == "CreateEventSourceMappings"  # chalice deploy has created the turn
    props = permission["Properties"]
    assert (props["Action"], props["Principal"]) == ("lambda:InvokeFunction", "lexv2.amazonaws.com")
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    resolver = Resolver(TEMPLATE, "prod")
    assert resolver.resolve(props["FunctionName"]) == "switchboard-prod-turn"
    alias_arn = resolver.attribute("LexBotAlias", "Arn")
    pattern = resolver.resolve(props["SourceArn"])
    assert pattern == alias_arn.rsplit("/", 1)[0] + "/*"
    assert "Fn::GetAtt" not in json.dumps(props)  # moto fails on attributes of the Lex types it skips


def test_the_bots_role_may_synthesize_speech_and_nothing_else() -> None:
    role = TEMPLATE["Resources"]["LexRole"]["Properties"]
    ((_, statement),) = [(r, s) for r, s in statements() if r == "LexRole"]
    assert statement["Action"] == ["polly:SynthesizeSpeech"]
    assert statement["Resource"] == "*"
    assert "lexicon" in role["Description"]


def test_the_connect_instance_id_is_required_and_a_uuid() -> None:
    parameter = TEMPLATE["Parameters"]["ConnectInstanceId"]
    assert "Default" not in parameter
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("11111111-2222-3333-4444-555555555555")
    assert not pattern.fullmatch("")
    assert not pattern.fullmatch("arn:aws:connect:us-east-1:000000000000:instance/11111111-2222-3333-4444-555555555555")


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
    outputs = Resolver(TEMPLATE, "prod", {"ConnectInstanceId": "11111111-2222-3333-4444-555555555555"}).outputs()
    assert outputs["TurnRoleArn"] == "arn:aws:iam::000000000000:role/switchboard-prod-turn"
    assert outputs["SegmentsStreamArn"].endswith(":stream/switchboard-prod-contact-lens-segments")
    assert outputs["RecordsStreamArn"].endswith(":stream/switchboard-prod-contact-records")
    assert outputs["TurnFunctionArn"].endswith(":function:switchboard-prod-turn")
    assert outputs["TranscriberFunctionArn"].endswith(":function:switchboard-prod-transcriber")
    assert outputs["SessionKeyArn"].startswith("arn:aws:kms:us-east-1:000000000000:key/")
    assert outputs["LexBotAliasArn"].startswith(f"arn:aws:lex:us-east-1:000000000000:bot-alias/{outputs['LexBotId']}/")
    assert outputs["LexBotLocaleIds"] == "en_US,es_US"
    assert outputs["ConnectInstanceId"] == "11111111-2222-3333-4444-555555555555"
    for key in ("ModelSecretArn", "AlarmTopicArn", "DashboardUrl", "StreamFailureQueueUrl", "SessionTableName"):
        assert outputs[key]
    assert TEMPLATE["Outputs"]["LexBotAliasArn"]["Value"] == {"Fn::GetAtt": ["LexBotAlias", "Arn"]}
    assert TEMPLATE["Outputs"]["LexBotId"]["Value"] == {"Ref": "LexBot"}
