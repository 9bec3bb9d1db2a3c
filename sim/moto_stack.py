"""The stack on the embedded AWS as CloudFormation would create it: moto's CloudFormation, and
what it cannot do done here from the template's own properties.

``MOTO_SKIPS`` is the one list of resource types moto's CloudFormation skips (or creates where its
API cannot see them), each with why and how it is created instead; ``MOTO_DROPS`` the properties
it accepts and drops; ``for_moto`` the template without the outputs moto cannot evaluate, which
``outputs`` resolves from what was created (``sim/cfn_template.py``).
"""

from __future__ import annotations

import json
import secrets
import string
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.cfn_template import Resolver, TemplateReferenceError, parameter_values, references

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.json"
APP_NAME = "switchboard"


class DeploymentFailedError(RuntimeError):
    """The stack, a resource moto skips, or a function could not be created as the runbook says."""


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


class Stack:
    """The AWS clients of one deployment and the resolver over what exists."""

    def __init__(self, session: Any, endpoint_url: str | None, template: dict[str, Any], stack_name: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.template = template
        self.stack_name = stack_name
        self.physical: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}  # of the resources created here
        self.parameters: dict[str, str] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def resolver(self) -> Resolver:
        return Resolver(self.template, self.parameters, self._physical_id, self._attribute)

    def _physical_id(self, logical_id: str) -> str:
        if logical_id not in self.physical:
            raise TemplateReferenceError(f"{logical_id} was not created")
        return self.physical[logical_id]

    def _attribute(self, logical_id: str, name: str) -> str:
        if (logical_id, name) in self.attributes:
            return self.attributes[(logical_id, name)]
        kind = self.template["Resources"][logical_id]["Type"]
        physical = self._physical_id(logical_id)
        if kind == "AWS::IAM::Role" and name == "Arn":
            return str(self.client("iam").get_role(RoleName=physical)["Role"]["Arn"])
        if kind == "AWS::KMS::Key" and name in ("Arn", "KeyId"):
            # Not DescribeKey: moto keeps a CloudFormation key's policy as an object and fails to
            # describe it; the key's ARN is made of its id as AWS makes it.
            region, account = self.parameters["AWS::Region"], self.parameters["AWS::AccountId"]
            return physical if name == "KeyId" else f"arn:aws:kms:{region}:{account}:key/{physical}"
        if kind == "AWS::DynamoDB::Table" and name == "Arn":
            return str(self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"])
        if kind == "AWS::Kinesis::Stream" and name == "Arn":
            return str(self.client("kinesis").describe_stream_summary(StreamName=physical)
                       ["StreamDescriptionSummary"]["StreamARN"])  # fmt: skip
        if kind == "AWS::SQS::Queue" and name in ("Arn", "QueueName"):
            attrs = self.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
            arn = str(attrs["Attributes"]["QueueArn"])
            return arn if name == "Arn" else arn.rsplit(":", 1)[-1]
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic") and name in ("Arn", "Name"):
            return physical if name == "Arn" else physical.rsplit(":", 1)[-1]
        raise TemplateReferenceError(f"{logical_id}.{name}")

    def refresh(self) -> None:
        """Physical ids of what CloudFormation created."""
        cfn = self.client("cloudformation")
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=self.stack_name)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource.get("LogicalResourceId") and resource.get("PhysicalResourceId"):
                    self.physical[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]


# --- the resource types moto's CloudFormation skips (it logs "No Moto CloudFormation support") --


def _secret(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """A secret (the model key, the redaction key): Secrets Manager's API works on moto, its
    CloudFormation type does not. With ``GenerateSecretString`` the value is generated here, as
    CloudFormation generates it (its length; letters and digits only when punctuation is excluded)."""
    arguments = {"Name": props["Name"], "Description": props.get("Description", "")}
    if "KmsKeyId" in props:
        arguments["KmsKeyId"] = props["KmsKeyId"]
    generate = props.get("GenerateSecretString")
    if generate is not None:
        arguments["SecretString"] = _generated_secret(generate)
    created = stack.client("secretsmanager").create_secret(**arguments)
    stack.physical[logical_id] = created["ARN"]  # Ref of a secret is its ARN
    stack.attributes[(logical_id, "Id")] = created["ARN"]


def _generated_secret(generate: dict[str, Any]) -> str:
    length = int(generate.get("PasswordLength", 32))
    if str(generate.get("ExcludePunctuation", False)).lower() == "true":
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(length))
    return secrets.token_urlsafe(length)[:length]


def _alarm(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """An alarm: CloudWatch's PutMetricAlarm works on moto, ``AWS::CloudWatch::Alarm`` does not
    (moto's CloudFormation creates only the dashboard). The properties are the API's arguments."""
    cloudwatch = stack.client("cloudwatch")
    cloudwatch.put_metric_alarm(**_as_api_types(cloudwatch, "PutMetricAlarm", props))
    stack.physical[logical_id] = props["AlarmName"]


def _as_api_types(client: Any, operation: str, props: dict[str, Any]) -> dict[str, Any]:
    """Properties typed as the API's input shape wants them: CloudFormation passes a ``Number``
    parameter as a string and converts it, as this does."""

    def convert(value: Any, shape: Any) -> Any:
        if shape.type_name == "structure" and isinstance(value, dict):
            return {k: convert(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
        if shape.type_name == "list" and isinstance(value, list):
            return [convert(v, shape.member) for v in value]
        if shape.type_name in ("integer", "long") and isinstance(value, str):
            return int(value)
        if shape.type_name in ("double", "float") and isinstance(value, str):
            return float(value)
        if shape.type_name == "boolean" and isinstance(value, str):
            return value.lower() == "true"
        return value

    return dict(convert(props, client.meta.service_model.operation_model(operation).input_shape))


def _lex_bot(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """The Lex V2 bot: moto's lexv2-models API keeps bots and aliases (no locales, intents,
    versions or runtime: ``sim/connect_flow.py`` plays Lex from the template's definition)."""
    created = stack.client("lexv2-models").create_bot(
        botName=props["Name"],
        description=props.get("Description", ""),
        roleArn=props["RoleArn"],
        dataPrivacy={"childDirected": bool(props["DataPrivacy"]["ChildDirected"])},
        idleSessionTTLInSeconds=int(props["IdleSessionTTLInSeconds"]),
    )
    stack.physical[logical_id] = created["botId"]
    stack.attributes[(logical_id, "Id")] = created["botId"]
    stack.attributes[(logical_id, "Arn")] = (
        f"arn:aws:lex:{stack.parameters['AWS::Region']}:{stack.parameters['AWS::AccountId']}:bot/{created['botId']}"
    )


def _lex_bot_version(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """A bot version: moto has none; the first numbered version of a new bot is "1"."""
    stack.physical[logical_id] = f"{props['BotId']}|1"
    stack.attributes[(logical_id, "BotVersion")] = "1"


def _lex_bot_alias(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """The bot alias with its per-locale code hook (the API's map from the template's list)."""
    locales = {}
    for setting in props.get("BotAliasLocaleSettings", []):
        inner = setting["BotAliasLocaleSetting"]
        hook = inner.get("CodeHookSpecification", {}).get("LambdaCodeHook")
        locales[setting["LocaleId"]] = {
            "enabled": bool(inner.get("Enabled", True)),
            **({"codeHookSpecification": {"lambdaCodeHook": {
                "lambdaARN": hook["LambdaArn"], "codeHookInterfaceVersion": hook["CodeHookInterfaceVersion"]}}}
               if hook else {}),
        }  # fmt: skip
    created = stack.client("lexv2-models").create_bot_alias(
        botAliasName=props["BotAliasName"],
        description=props.get("Description", ""),
        botVersion=str(props.get("BotVersion", "DRAFT")),
        botAliasLocaleSettings=locales,
        botId=props["BotId"],
    )
    alias_id = created["botAliasId"]
    region, account = stack.parameters["AWS::Region"], stack.parameters["AWS::AccountId"]
    stack.physical[logical_id] = f"{alias_id}|{props['BotId']}"
    stack.attributes[(logical_id, "BotAliasId")] = alias_id
    stack.attributes[(logical_id, "Arn")] = f"arn:aws:lex:{region}:{account}:bot-alias/{props['BotId']}/{alias_id}"


def _state_machine(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """The handover state machine, with its substitutions applied as CloudFormation applies them."""
    sfn = stack.client("stepfunctions")
    definition = str(props["DefinitionString"])
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    arn = stack.physical.get(logical_id)
    if arn:
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            return
        except sfn.exceptions.StateMachineDoesNotExist:
            pass
    created = sfn.create_state_machine(
        name=props["StateMachineName"],
        definition=definition,
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )
    stack.physical[logical_id] = created["stateMachineArn"]


# One list: each type moto's CloudFormation skips, why, and how it is created here instead.
MOTO_SKIPS: dict[str, tuple[str, Callable[[Stack, str, dict[str, Any]], None]]] = {
    "AWS::StepFunctions::StateMachine": (
        "moto's CloudFormation puts it in its plain Step Functions backend, not in the executing one "
        "its API serves once execute_state_machine is on (sim/embedded_aws.py): invisible to the API",
        _state_machine,
    ),
    "AWS::SecretsManager::Secret": ("moto 5.2.5 has no CloudFormation model for secrets", _secret),
    "AWS::CloudWatch::Alarm": ("moto's CloudFormation creates dashboards, not alarms", _alarm),
    "AWS::Lex::Bot": ("moto's CloudFormation has no Lex types; its lexv2-models API keeps bots", _lex_bot),
    "AWS::Lex::BotVersion": ("no Lex types in moto's CloudFormation, no versions in its API", _lex_bot_version),
    "AWS::Lex::BotAlias": ("no Lex types in moto's CloudFormation; its API keeps aliases", _lex_bot_alias),
}


def _time_to_live(stack: Stack, logical_id: str, value: dict[str, Any]) -> None:
    stack.client("dynamodb").update_time_to_live(TableName=stack.physical[logical_id], TimeToLiveSpecification=value)


# Properties moto's CloudFormation accepts and drops: set here through the API, from the same values.
MOTO_DROPS: dict[tuple[str, str], tuple[str, Callable[[Stack, str, Any], None]]] = {
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): ("moto's table model ignores it", _time_to_live),
}


def apply_dropped(stack: Stack) -> None:
    resolver = stack.resolver()
    for logical_id, resource in stack.template["Resources"].items():
        for (kind, prop), (_why, apply) in MOTO_DROPS.items():
            value = resource.get("Properties", {}).get(prop)
            if resource["Type"] == kind and value is not None and logical_id in stack.physical:
                apply(stack, logical_id, resolver.resolve(value))


_CREATED_BUT_INVISIBLE = {"AWS::StepFunctions::StateMachine"}


def create_skipped(stack: Stack) -> dict[str, str]:
    """Create, in dependency order, every resource of a type in ``MOTO_SKIPS`` whose condition
    holds, from its resolved properties; logical id -> type."""
    resolver = stack.resolver()
    pending = {
        logical_id: resource
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] in MOTO_SKIPS
        and resolver.applies(resource)
        and (logical_id not in stack.physical or resource["Type"] in _CREATED_BUT_INVISIBLE)
    }
    created: dict[str, str] = {}
    while pending:
        ready = [lid for lid, r in pending.items() if not (references(r.get("Properties", {})) & pending.keys())]
        if not ready:
            raise DeploymentFailedError(f"circular references among {sorted(pending)}")
        for logical_id in ready:
            resource = pending.pop(logical_id)
            props = resolver.resolve(resource.get("Properties", {}))
            try:
                MOTO_SKIPS[resource["Type"]][1](stack, logical_id, props)
            except Exception as exc:
                raise DeploymentFailedError(f"{logical_id} ({resource['Type']}): {exc}") from exc
            created[logical_id] = resource["Type"]
    return created


def stack_outputs(stack: Stack) -> dict[str, str]:
    """The stack's outputs: CloudFormation's, and those moto dropped because they refer to a
    resource it skipped (resolved the same way from what was created here)."""
    described = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    resolver = stack.resolver()
    for key, declaration in stack.template.get("Outputs", {}).items():
        if key not in outputs and resolver.applies(declaration):
            outputs[key] = str(resolver.resolve(declaration["Value"]))
    return outputs


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The template as sent to moto's CloudFormation: without the outputs that refer to a
    resource it skips (its output validation fails on them; ``_outputs`` resolves them here)."""
    skipped = {lid for lid, r in template["Resources"].items()
               if r["Type"] in MOTO_SKIPS and r["Type"] not in _CREATED_BUT_INVISIBLE}  # fmt: skip
    outputs = {k: o for k, o in template.get("Outputs", {}).items() if not (references(o) & skipped)}
    return {**template, "Outputs": outputs}


def wait(stack: Stack, wanted: str) -> None:
    status = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackStatus"]
    if status != wanted:
        events = stack.client("cloudformation").describe_stack_events(StackName=stack.stack_name)["StackEvents"]
        failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in
                  e.get("ResourceStatus", "")]  # fmt: skip
        raise DeploymentFailedError(f"stack {stack.stack_name} is {status}, not {wanted}: {failed}")


def partial_template(template: dict[str, Any], logical_ids: list[str]) -> dict[str, Any]:
    """The template with only ``logical_ids`` and what they refer to (tests that need the
    session table, not the whole stack): the same resource declarations, created the same way."""
    wanted: set[str] = set()
    pending = list(logical_ids)
    while pending:
        logical_id = pending.pop()
        if logical_id in wanted:
            continue
        wanted.add(logical_id)
        resource = template["Resources"][logical_id]
        pending += [r for r in references(resource) if r in template["Resources"]]
        pending += [r for r in resource.get("DependsOn", []) if r in template["Resources"]]
    return {
        **{k: v for k, v in template.items() if k not in ("Resources", "Outputs")},
        "Resources": {k: v for k, v in template["Resources"].items() if k in wanted},
    }


def create_stack_of(session: Any, endpoint_url: str | None, stage: str, logical_ids: list[str]) -> dict[str, str]:
    """Create ``partial_template(logical_ids)`` through CloudFormation (moto's, in process or
    served); logical id -> physical id."""
    template = partial_template(load_template(), logical_ids)
    stack = Stack(session, endpoint_url, template, f"{APP_NAME}-{stage}-partial")
    try:
        given = {"Stage": stage, "ConnectInstanceId": "00000000-0000-4000-8000-000000000000"}
        given = {k: v for k, v in given.items() if k in template.get("Parameters", {})}
        stack.parameters = {**parameter_values(template, given), "AWS::Region": session.region_name or "us-east-1",
                            "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}  # fmt: skip
        with warnings.catch_warnings():  # moto warns of the types it skips: created below (MOTO_SKIPS)
            warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
            stack.client("cloudformation").create_stack(
                StackName=stack.stack_name, TemplateBody=json.dumps(for_moto(template)),
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
            )  # fmt: skip
            wait(stack, "CREATE_COMPLETE")
            stack.refresh()
        apply_dropped(stack)
        create_skipped(stack)
        return {k: v for k, v in stack.physical.items() if k in template["Resources"]}
    finally:
        stack.close()
