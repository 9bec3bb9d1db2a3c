"""DynamoDB retries: botocore's conditions, a backoff in milliseconds."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from chalicelib.adapters.aws_retries import ShortBackoff, short_backoff

THROTTLED = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}'
)


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def test_the_backoff_never_waits_longer_than_its_cap() -> None:
    backoff = ShortBackoff(base_ms=25, cap_ms=100, rng=lambda: 0.999)
    delays = [backoff.delay_amount(SimpleNamespace(attempt_number=n)) for n in range(1, 8)]
    assert delays[0] < 0.025
    assert max(delays) <= 0.1


def test_a_throttled_request_is_retried_after_milliseconds_not_a_second() -> None:
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 - a fake for a request that never leaves
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )  # fmt: skip
    short_backoff(client, max_attempts=3, cap_ms=50)
    sent: list[float] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(time.perf_counter())
        if len(sent) < 3:
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(THROTTLED))
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(b"{}"))

    client.meta.events.register("before-send.dynamodb.GetItem", answer)
    client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(sent) == 3
    assert sent[-1] - sent[0] < 0.5  # botocore's own backoff could wait up to 3 s over two retries
