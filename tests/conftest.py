"""Shared fixtures. Nothing here reaches beyond loopback: AWS is moto (in process, or its
server on 127.0.0.1), credentials are fake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Before anything imports boto3 or the app: no real credentials, no real endpoints.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Switchboard",
    }
)
for _name in (
    "SWITCHBOARD_AWS_ENDPOINT_URL",
    "SWITCHBOARD_MODEL_BASE_URL",
    "OPENAI_API_KEY",
    "SWITCHBOARD_OPENAI_API_KEY",
    "SWITCHBOARD_TOOLS_MCP_URL",
    "SWITCHBOARD_TOOLS_HTTP_URL",
):
    os.environ.pop(_name, None)


@pytest.fixture
def moto_dynamodb() -> Iterator[Any]:
    """moto (in process) with the session table and the redaction key's secret of
    ``infra/template.json``, created through CloudFormation; yields a DynamoDB client. (The dev
    stage names the secret by its ARN without the random suffix, which Secrets Manager accepts.)"""
    import boto3
    from moto import mock_aws

    from chalicelib import bootstrap
    from sim.embedded_aws import dynamodb_as_aws
    from sim.moto_stack import create_stack_of

    dynamodb_as_aws()  # moto in process is not thread-safe (concurrent writers' tests)
    with mock_aws():
        bootstrap.reset()
        session = boto3.session.Session(region_name="us-east-1")
        create_stack_of(session, None, "dev", ["SessionTable", "RedactionKeySecret"])
        yield session.client("dynamodb")
        bootstrap.reset()


@pytest.fixture
def lambda_client(moto_dynamodb: Any) -> Iterator[Any]:
    """The Chalice test client over the app, on moto, with the dev stage's configuration."""
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="dev", project_dir=str(ROOT)) as client:
        yield client


def load_json(relative: str) -> Any:
    import json

    return json.loads((EVENTS / relative).read_text())
