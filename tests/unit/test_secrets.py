"""The model API key from Secrets Manager (moto): read once, on first use."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.secrets import SecretsManagerSecret
from chalicelib.errors import SecretUnavailableError


@pytest.fixture
def secretsmanager() -> Any:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_the_secret_is_read_once_and_cached(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="switchboard/dev/model-api-key", SecretString=" sk-test \n")["ARN"]
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return secretsmanager

    secret = SecretsManagerSecret(factory, arn)
    assert secret.value() == "sk-test"
    secretsmanager.put_secret_value(SecretId=arn, SecretString="sk-rotated")
    assert secret.value() == "sk-test" and built == [1]  # once per container


@pytest.mark.parametrize("value", [None, "   "])
def test_a_missing_or_empty_secret_is_a_named_error(secretsmanager: Any, value: str | None) -> None:
    if value is not None:
        secretsmanager.create_secret(Name="empty", SecretString=value)
    with pytest.raises(SecretUnavailableError):
        SecretsManagerSecret(lambda: secretsmanager, "empty").value()


def test_without_a_key_a_model_call_is_unavailable_not_a_crash() -> None:
    from chalicelib.adapters.data_files import load_tiers
    from chalicelib.adapters.openai_model import OpenAiModelClient
    from chalicelib.domain.model import ChatMessage
    from chalicelib.errors import ModelUnavailableError

    def no_key() -> str:
        raise SecretUnavailableError("secret not readable: ResourceNotFoundException")

    import openai  # noqa: F401 - the SDK's import (most of a second on a loaded machine) is not what is tested

    client = OpenAiModelClient(api_key=no_key, base_url_override="http://127.0.0.1:9/v1")
    with pytest.raises(ModelUnavailableError):
        client.complete(load_tiers().get(1), (ChatMessage("user", "hi"),), timeout_ms=3000, first_token_timeout_ms=2000)
