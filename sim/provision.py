"""Create the resources ``infra/template.json`` declares, on the embedded AWS.

The template is the single declaration of the table's key schema; this reads it rather than
repeating it. Only the resource types the harness needs are understood.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.json"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Resolve the few intrinsic functions the template uses for names (``Fn::Sub``, ``Ref``)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for name, replacement in parameters.items():
            text = text.replace("${" + name + "}", replacement)
        return text
    if isinstance(value, dict) and "Ref" in value:
        return parameters[value["Ref"]]
    return value


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def table_definition(template: dict[str, Any], logical_id: str, stage: str) -> dict[str, Any]:
    """The ``create_table`` arguments for one ``AWS::DynamoDB::Table`` of the template."""
    props = template["Resources"][logical_id]["Properties"]
    return {
        "TableName": resolve(props["TableName"], {"Stage": stage}),
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
    }


def provision(
    session: Any, endpoint_url: str, stage: str = "dev", template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create every table of the template; return logical id -> table name."""
    template = template or load_template()
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    created: dict[str, str] = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        definition = table_definition(template, logical_id, stage)
        dynamodb.create_table(**definition)
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=definition["TableName"], TimeToLiveSpecification=ttl)
        created[logical_id] = definition["TableName"]
    return created


SIM_LAMBDA_ROLE = "switchboard-sim-lambda"
SIM_STATES_ROLE = "switchboard-sim-states"


def _resolve_all(value: Any, parameters: dict[str, str]) -> Any:
    """``resolve`` for ``Fn::Sub`` text whose ``${...}`` names are all in ``parameters``."""
    return resolve(value, parameters) if isinstance(value, dict) else value


def state_machine_definition(
    template: dict[str, Any], logical_id: str, stage: str, account_id: str, region: str
) -> tuple[str, str, dict[str, str]]:
    """The name, the definition (substitutions applied, as CloudFormation does) and the
    substitutions of one ``AWS::StepFunctions::StateMachine``."""
    props = template["Resources"][logical_id]["Properties"]
    parameters = {"Stage": stage, "AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account_id}
    substitutions = {k: str(_resolve_all(v, parameters)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
    definition = props["DefinitionString"]
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", value)
    return str(resolve(props["StateMachineName"], parameters)), definition, substitutions


def provision_state_machines(
    session: Any, endpoint_url: str | None, stage: str = "dev", template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create every state machine of the template, and the Lambda functions its tasks name
    (their code never runs: ``sim/lambda_bridge.py`` runs the Chalice handlers instead);
    return logical id -> state machine ARN."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    template = template or load_template()
    iam = session.client("iam", endpoint_url=endpoint_url)
    lambdas = session.client("lambda", endpoint_url=endpoint_url)
    sfn = session.client("stepfunctions", endpoint_url=endpoint_url)
    sts = session.client("sts", endpoint_url=endpoint_url)
    account = sts.get_caller_identity()["Account"]
    sts.close()
    region = session.region_name or "us-east-1"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}  # fmt: skip
    roles = {}
    for role in (SIM_LAMBDA_ROLE, SIM_STATES_ROLE):
        roles[role] = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    raise NotImplementedError\n")
    created: dict[str, str] = {}
    existing: set[str] = set()
    for logical_id in resources_of_type(template, "AWS::StepFunctions::StateMachine"):
        name, definition, substitutions = state_machine_definition(template, logical_id, stage, account, region)
        for arn in substitutions.values():
            function = arn.split(":function:")[1] if ":function:" in arn else None
            if function and function not in existing:
                lambdas.create_function(
                    FunctionName=function, Runtime="python3.11", Role=roles[SIM_LAMBDA_ROLE], Handler="app.handler",
                    Code={"ZipFile": code.getvalue()}, Timeout=60,
                )  # fmt: skip
                existing.add(function)
        response = sfn.create_state_machine(
            name=name, definition=definition, roleArn=roles[SIM_STATES_ROLE], type="STANDARD"
        )
        created[logical_id] = response["stateMachineArn"]
    for client in (iam, lambdas, sfn):
        client.close()
    return created
