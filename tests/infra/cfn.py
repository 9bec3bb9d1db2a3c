"""Read ``infra/template.json`` as CloudFormation would name things, offline.

Resolves the few intrinsic functions the template uses (``Fn::Sub``, ``Ref``, ``Fn::GetAtt``)
in a placeholder account, so tests can compare names and ARNs with ``.chalice/config.json``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import ROOT

TEMPLATE_PATH = ROOT / "infra" / "template.json"
ACCOUNT = "000000000000"
REGION = "us-east-1"


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE_PATH.read_text())


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


class Resolver:
    """Names and ARNs of the template's resources for one stage in the placeholder account."""

    def __init__(self, template: dict[str, Any], stage: str) -> None:
        self.template = template
        self.variables = {
            "Stage": stage,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }

    def physical_name(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        props = resource["Properties"]
        key = {
            "AWS::IAM::Role": "RoleName",
            "AWS::Kinesis::Stream": "Name",
            "AWS::SQS::Queue": "QueueName",
            "AWS::SecretsManager::Secret": "Name",
            "AWS::SNS::Topic": "TopicName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::CloudWatch::Dashboard": "DashboardName",
        }[resource["Type"]]
        return str(self.resolve(props[key]))

    def arn(self, logical_id: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        name = self.physical_name(logical_id)
        return {
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            # The real ARN ends in a random suffix; without it, this is the secret's partial ARN.
            "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
        }[kind]

    def ref(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name]
        kind = self.template["Resources"][name]["Type"]
        if kind in ("AWS::SecretsManager::Secret", "AWS::SNS::Topic"):
            return self.arn(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self.ref(m.group(1)), value["Fn::Sub"])
        if isinstance(value, dict) and "Ref" in value:
            return self.ref(value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn":
                return self.arn(logical_id)
            if attribute == "QueueName":
                return self.physical_name(logical_id)
            raise KeyError(attribute)
        return value

    def outputs(self) -> dict[str, str]:
        return {key: str(self.resolve(o["Value"])) for key, o in self.template["Outputs"].items()}


def intrinsic_references(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (``Ref``, ``Fn::GetAtt``, ``${...}``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0])
            elif key == "Fn::Sub" and isinstance(inner, str):
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}]+)\}", inner)}
            else:
                found |= intrinsic_references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= intrinsic_references(inner)
    return found
