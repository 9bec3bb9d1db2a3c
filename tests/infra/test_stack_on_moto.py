"""infra/template.json creates as a stack on the embedded AWS (moto's CloudFormation), before and
after chalice deploy has created the functions (``ConsumersDeployed``), and what moto leaves out.

moto 5.2.5's CloudFormation has no model for ``MOTO_SKIPS``: it logs a warning and creates
nothing; ``Ref`` to such a resource is ``''`` and the output that holds it vanishes. An output
that is ``Fn::GetAtt`` of one (in any form: ``Fn::GetAtt``, ``${X.Attr}``, ``Fn::Join``) fails the
whole stack (moto's output validation raises ``AttributeError``, a 500), so those outputs are not
sent (``for_moto``); ``sim/`` resolves them from what it creates itself. Inside resources the
template never takes an attribute of a skipped type outside the Lex resources themselves (the
Lambda permission builds the alias ARN pattern with ``Fn::Sub``).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sim.embedded_aws import EmbeddedAws
from tests.infra.cfn import intrinsic_references, load_template

pytestmark = [
    pytest.mark.embedded_aws,
    # moto warns (UserWarning) for each type its CloudFormation skips: that is what is tested here.
    pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning"),
]

TEMPLATE = load_template()
MOTO_SKIPS = {
    "AWS::Lex::Bot",
    "AWS::Lex::BotVersion",
    "AWS::Lex::BotAlias",
    "AWS::SecretsManager::Secret",
    "AWS::CloudWatch::Alarm",
}
INSTANCE_ID = "11111111-2222-3333-4444-555555555555"
CONSUMERS = ("turn", "segments", "contact_records")


def skipped_ids(template: dict[str, Any]) -> set[str]:
    return {name for name, r in template["Resources"].items() if r["Type"] in MOTO_SKIPS}


def attributes_taken(value: Any) -> set[str]:
    """Logical ids whose attributes a value takes (``Fn::GetAtt``, ``${X.Attr}`` in ``Fn::Sub``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub" and isinstance(inner, str):
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}]+)\}", inner) if "." in name}
            else:
                found |= attributes_taken(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= attributes_taken(inner)
    return found


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the outputs that take an attribute of a type moto skips."""
    skipped = skipped_ids(template)
    outputs = {k: o for k, o in template["Outputs"].items() if not attributes_taken(o) & skipped}
    return {**template, "Outputs": outputs}


def vanishing_outputs(template: dict[str, Any]) -> set[str]:
    """The outputs moto cannot give: they refer to a resource it skips."""
    skipped = skipped_ids(template)
    return {k for k, o in template["Outputs"].items() if intrinsic_references(o) & skipped}


class Stack:
    def __init__(self, session: Any, endpoint_url: str, stage: str) -> None:
        self.stage = stage
        self.name = f"switchboard-{stage}"
        self._session = session
        self._endpoint_url = endpoint_url
        self.cfn = self.client("cloudformation")

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url)

    def parameters(self, consumers_deployed: str) -> list[dict[str, str]]:
        values = {"Stage": self.stage, "ConsumersDeployed": consumers_deployed, "ConnectInstanceId": INSTANCE_ID}
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    def create(self, consumers_deployed: str) -> dict[str, Any]:
        self.cfn.create_stack(
            StackName=self.name, TemplateBody=json.dumps(for_moto(TEMPLATE)),
            Parameters=self.parameters(consumers_deployed), Capabilities=["CAPABILITY_NAMED_IAM"],
        )  # fmt: skip
        return self.describe()

    def update(self, consumers_deployed: str) -> dict[str, Any]:
        self.cfn.update_stack(
            StackName=self.name, TemplateBody=json.dumps(for_moto(TEMPLATE)),
            Parameters=self.parameters(consumers_deployed), Capabilities=["CAPABILITY_NAMED_IAM"],
        )  # fmt: skip
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return dict(self.cfn.describe_stacks(StackName=self.name)["Stacks"][0])

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.describe().get("Outputs", [])}

    def logical_ids(self) -> set[str]:
        summaries = self.cfn.list_stack_resources(StackName=self.name)["StackResourceSummaries"]
        # moto lists each resource it skipped as an entry with no logical id, type or physical id
        return {s["LogicalResourceId"] for s in summaries if s["LogicalResourceId"]}

    def create_stand_in_functions(self) -> None:
        """What chalice deploy creates first: the functions the stack's mappings and permission name."""
        role = self.client("iam").create_role(
            RoleName=f"stand-in-{self.stage}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    raise NotImplementedError\n")
        for function in CONSUMERS:
            self.client("lambda").create_function(
                FunctionName=f"switchboard-{self.stage}-{function}", Runtime="python3.11", Role=role,
                Handler="app.handler", Code={"ZipFile": code.getvalue()},
            )  # fmt: skip


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    with EmbeddedAws() as embedded:
        yield embedded


def stack_for(aws: Any, stage: str) -> Stack:
    return Stack(aws.boto_session(), aws.endpoint_url, stage)


def assert_the_stack_moto_can_make(stack: Stack, consumers_deployed: bool) -> None:
    described = stack.describe()
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    conditional = {"CreateEventSourceMappings": consumers_deployed, "HasAlarmEmail": False}
    wanted = {
        name
        for name, r in TEMPLATE["Resources"].items()
        if r["Type"] not in MOTO_SKIPS and conditional.get(r.get("Condition", ""), True)
    }
    assert stack.logical_ids() == wanted
    # the table: the key schema the code uses
    dynamodb = stack.client("dynamodb")
    table = dynamodb.describe_table(TableName=f"switchboard-{stack.stage}-sessions")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # the key: rotated, named by the alias
    # (not DescribeKey: moto keeps a CloudFormation key's policy as a dict, and DescribeKey, the one
    # call that reads the policy, fails on it with a 500)
    kms = stack.client("kms")
    (alias,) = [
        a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/switchboard-{stack.stage}-sessions"
    ]
    key = {
        "KeyId": alias["TargetKeyId"],
        "Arn": alias["AliasArn"].replace(alias["AliasName"], f"key/{alias['TargetKeyId']}"),
    }
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    # the queue and the topic are encrypted with it (moto keeps these attributes as given)
    queue_url = stack.client("sqs").get_queue_url(QueueName=f"switchboard-{stack.stage}-stream-failures")["QueueUrl"]
    queue = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["KmsMasterKeyId"])
    assert queue["Attributes"]["KmsMasterKeyId"] == key["Arn"]
    outputs = stack.outputs()
    topic = stack.client("sns").get_topic_attributes(TopicArn=outputs["AlarmTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == key["Arn"]
    # the outputs: all but those that refer to a skipped resource
    assert set(outputs) == set(TEMPLATE["Outputs"]) - vanishing_outputs(TEMPLATE)
    assert outputs["SessionKeyArn"] == key["Arn"]
    assert outputs["SessionTableName"] == table["TableName"]
    assert outputs["ConnectInstanceId"] == INSTANCE_ID
    assert outputs["LexBotLocaleIds"] == "en_US,es_US"
    assert outputs["TranscriberFunctionArn"].endswith(f":function:switchboard-{stack.stage}-transcriber")
    assert outputs["TurnFunctionArn"].endswith(f":function:switchboard-{stack.stage}-turn")


def test_what_moto_skips_and_which_outputs_vanish_with_it() -> None:
    skipped = {TEMPLATE["Resources"][name]["Type"] for name in skipped_ids(TEMPLATE)}
    assert skipped == MOTO_SKIPS
    assert vanishing_outputs(TEMPLATE) == {"LexBotId", "LexBotAliasArn", "ModelSecretArn", "RedactionKeySecretArn"}
    assert set(TEMPLATE["Outputs"]) - set(for_moto(TEMPLATE)["Outputs"]) == {"LexBotAliasArn"}


def test_no_resource_takes_an_attribute_of_a_type_moto_skips_except_the_lex_resources() -> None:
    skipped = skipped_ids(TEMPLATE)
    for name, resource in TEMPLATE["Resources"].items():
        if not resource["Type"].startswith("AWS::Lex::"):
            assert not attributes_taken(resource) & skipped, name


def test_the_stack_creates_before_the_functions_exist_and_updates_once_they_do(aws: Any) -> None:
    stack = stack_for(aws, "dev")
    stack.create("false")
    assert_the_stack_moto_can_make(stack, consumers_deployed=False)
    ttl = stack.client("dynamodb").describe_time_to_live(TableName="switchboard-dev-sessions")
    # moto 5.2.5's table model drops TimeToLiveSpecification (sim/ sets it through the API)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    declared = TEMPLATE["Resources"]["SessionTable"]["Properties"]["TimeToLiveSpecification"]
    assert declared == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    stack.create_stand_in_functions()
    stack.update("true")
    assert_the_stack_moto_can_make(stack, consumers_deployed=True)


def test_the_stack_creates_after_chalice_deploy_with_the_mappings_and_lexs_permission(aws: Any) -> None:
    stack = stack_for(aws, "prod")
    stack.create_stand_in_functions()
    stack.create("true")
    assert_the_stack_moto_can_make(stack, consumers_deployed=True)
    lambdas = stack.client("lambda")
    for function in ("segments", "contact_records"):
        (mapping,) = lambdas.list_event_source_mappings(FunctionName=f"switchboard-prod-{function}")[
            "EventSourceMappings"
        ]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (statement,) = json.loads(lambdas.get_policy(FunctionName="switchboard-prod-turn")["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "lexv2.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"]
    assert ":bot-alias/" in statement["Condition"]["ArnLike"]["AWS:SourceArn"]
