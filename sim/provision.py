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
