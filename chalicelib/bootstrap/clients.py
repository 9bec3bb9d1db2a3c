"""The container's AWS clients: explicit timeouts (slices of the envelope, or the settings of the
out-of-turn clients) and bounded retries, each built on first use."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.settings import Settings


class AwsClients:
    """boto3 clients of one container (boto3 is imported on the first one: ~250 ms of cold start)."""

    settings: Settings

    def aws_client(
        self, service: str, connect_ms: float, read_ms: float, attempts: int, endpoint_url: str | None = None
    ) -> Any:
        """A client with these timeouts and attempts; ``endpoint_url`` overrides the configured
        endpoint (KVS's data endpoint for GetMedia)."""
        import boto3  # noqa: PLC0415 - lazy, only for handlers that need it
        from botocore.config import Config  # noqa: PLC0415

        s = self.settings
        config = Config(
            region_name=s.aws_region,
            connect_timeout=connect_ms / 1000,
            read_timeout=read_ms / 1000,
            retries={"mode": "standard", "total_max_attempts": attempts},
            tcp_keepalive=True,
        )
        return boto3.session.Session().client(service, endpoint_url=endpoint_url or s.aws_endpoint_url, config=config)

    def task_client(self, service: str) -> Any:
        """A client for work outside a turn's deadline (contact attributes, the transcriber's
        continuation): the task timeouts of the settings, two attempts."""
        s = self.settings
        return self.aws_client(service, s.task_connect_timeout_ms, s.task_read_timeout_ms, 2)

    @cached_property
    def dynamodb_client(self) -> Any:
        from chalicelib.adapters.aws_retries import short_backoff  # noqa: PLC0415 - with boto3

        s = self.settings
        client = self.aws_client("dynamodb", s.ddb_connect_timeout_ms, s.ddb_read_timeout_ms, s.ddb_max_attempts)
        short_backoff(client, s.ddb_max_attempts, cap_ms=s.ddb_retry_backoff_cap_ms)
        return client

    @cached_property
    def stepfunctions_client(self) -> Any:
        s = self.settings
        return self.aws_client("stepfunctions", s.sfn_connect_timeout_ms, s.sfn_read_timeout_ms, 2)

    @cached_property
    def kms_client(self) -> Any:
        """For the vault's data keys, inside a turn (and the callback step): the DynamoDB
        slice's timeouts and attempts, as the vault's other half is a DynamoDB request."""
        s = self.settings
        return self.aws_client("kms", s.ddb_connect_timeout_ms, s.ddb_read_timeout_ms, s.ddb_max_attempts)

    def secretsmanager_client(self) -> Any:
        """For the model key, read on a turn's first model call: the DynamoDB slice's timeouts."""
        s = self.settings
        return self.aws_client("secretsmanager", s.ddb_connect_timeout_ms, s.ddb_read_timeout_ms, 2)
