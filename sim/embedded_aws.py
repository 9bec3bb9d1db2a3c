"""The embedded AWS: moto's server, in process, on 127.0.0.1.

Step Functions execution is switched on (``/moto-api/config``); moto's Step Functions
interpreter calls back into the server on ``MOTO_PORT``, so that is set to the server's port.
Lambda uses moto's Docker-backed backend only so that invocations reach
``LambdaFunction._invoke_lambda``, which ``sim/lambda_bridge.py`` replaces: no Docker runs.

DynamoDB requests are served one at a time (``_serialize_dynamodb``). moto's
``transact_write_items`` snapshots every table it touches (a deep copy) and restores the
snapshot when a condition fails; served concurrently, the copy races other writes (a
``RuntimeError``, answered as a 500) and the restore wipes out writes other requests made in
between — lost turns and lost updates that real DynamoDB never causes. ``sim load`` found it.
The copy also grows with the table, so under load each commit got slower than the last
(``state_write`` near a second after a few hundred calls): ``_check_then_write_transactions``
checks every condition first and writes only when all pass, which needs no snapshot at all
(requests are serialized, so nothing changes between the check and the write).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import urllib.request
from types import TracebackType
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_dynamodb_lock = threading.RLock()
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": True}}


class EmbeddedAws:
    """A moto server for the life of a ``with`` block.

    >>> with EmbeddedAws() as aws:
    ...     boto3.client("dynamodb", endpoint_url=aws.endpoint_url)
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: Any = None
        self.endpoint_url = ""

    def start(self) -> EmbeddedAws:
        os.environ.update(FAKE_CREDENTIALS)
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy, sim only

        _serialize_dynamodb()
        _check_then_write_transactions()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        os.environ["MOTO_PORT"] = str(port)
        # moto's state is per process: a harness started after another starts empty.
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(reset, timeout=5) as response:  # noqa: S310 - our own loopback server
            response.read()
        request = urllib.request.Request(  # noqa: S310 - http:// to our own loopback server
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(MOTO_CONFIG).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - same request
            response.read()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def boto_session(self) -> Any:
        import boto3  # noqa: PLC0415

        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serialize_dynamodb() -> None:
    """Serve moto's DynamoDB requests one at a time (see the module docstring). moto is pinned
    exactly in ``requirements-dev.txt``: ``DynamoHandler.call_action`` is its dispatcher."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    original = DynamoHandler.call_action
    if getattr(original, "serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def _check_then_write_transactions() -> None:
    """moto's ``DynamoDBBackend.transact_write_items`` without its whole-table snapshot: all
    conditions are checked first (answered as moto answers them), then the writes are made."""
    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    if getattr(DynamoDBBackend.transact_write_items, "checked_first", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        errors: list[tuple[Any, Any, Any]] = []
        seen: set[tuple[str, str]] = set()
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            key = _item_key(self.get_table(op["TableName"]), op["Item"]) if op_type == "Put" else op["Key"]
            identity = (op["TableName"], str(sorted(key.items())))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                old = (
                    current.to_json()["Attributes"]
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current
                    else None
                )
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
            else:
                errors.append((None, None, None))
            planned.append((op_type, op, key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        for op_type, op, key in planned:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            elif op_type == "Update":
                self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)  # fmt: skip

    transact_write_items.checked_first = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _item_key(table: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key
