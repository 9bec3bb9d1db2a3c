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
import warnings
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

        dynamodb_as_aws()
        _connect_contact_attributes()
        _kinesis_poller_is_the_simulators()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        # moto's CloudFormation warns (a UserWarning and a log line) for each resource type it
        # skips; sim/moto_stack.py creates those itself (MOTO_SKIPS), so the warnings are known.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        logging.getLogger("moto").addFilter(_KNOWN_CLOUDFORMATION_SKIPS)

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


def _known_cloudformation_skip(record: logging.LogRecord) -> bool:
    """False for moto's "No Moto CloudFormation support for <type>" (the others pass)."""
    return not str(record.msg).startswith("No Moto CloudFormation support")


_KNOWN_CLOUDFORMATION_SKIPS = _known_cloudformation_skip


def _connect_contact_attributes() -> None:
    """Amazon Connect's ``UpdateContactAttributes`` and ``GetContactAttributes`` on moto, whose
    Connect has instances only: what the handover workflow writes for the agent reaches the
    instance the stack names (kept per instance and initial contact id, merged as Connect does),
    and the flow interpreter (``sim/connect_flow.py``) reads it back as ``$.Attributes``. An
    unknown instance is ``ResourceNotFoundException``, as on Connect."""
    from moto.connect import urls  # noqa: PLC0415
    from moto.connect.exceptions import ResourceNotFoundException  # noqa: PLC0415
    from moto.connect.responses import ConnectResponse  # noqa: PLC0415

    if getattr(ConnectResponse, "contact_attributes", False):
        return

    def _attributes(self: Any, instance_id: str) -> dict[str, dict[str, str]]:
        backend = self.connect_backend
        instance_id = instance_id.rsplit("/", 1)[-1]  # an instance ARN or its id
        if instance_id not in backend.instances:
            raise ResourceNotFoundException(f"Instance {instance_id} not found")
        store: dict[str, dict[str, dict[str, str]]] = backend.__dict__.setdefault("sim_contact_attributes", {})
        return store.setdefault(instance_id, {})

    def update_contact_attributes(self: Any) -> str:
        params = json.loads(self.body) if self.body else {}
        contacts = _attributes(self, str(params.get("InstanceId", "")))
        contacts.setdefault(str(params["InitialContactId"]), {}).update(params.get("Attributes", {}))
        return "{}"

    def get_contact_attributes(self: Any) -> str:
        parts = self.path.rstrip("/").split("/")
        contacts = _attributes(self, parts[-2])
        return json.dumps({"Attributes": contacts.get(parts[-1], {})})

    ConnectResponse.update_contact_attributes = update_contact_attributes  # type: ignore[attr-defined]
    ConnectResponse.get_contact_attributes = get_contact_attributes  # type: ignore[attr-defined]
    ConnectResponse.contact_attributes = True  # type: ignore[attr-defined]
    urls.url_paths["{0}/contact/attributes$"] = ConnectResponse.dispatch
    urls.url_paths["{0}/contact/attributes/(?P<InstanceId>[^/]+)/(?P<InitialContactId>[^/]+)$"] = (
        ConnectResponse.dispatch
    )


def _kinesis_poller_is_the_simulators() -> None:
    """moto delivers every record put on a stream with an event source mapping to its function at
    once, one record per invocation, inside ``PutRecord``, with none of the mapping's settings.
    Lambda's Kinesis poller here is ``sim/streams.py`` (the mapping's batch size, retries and
    partial batch responses), so moto's own delivery is switched off."""
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415

    def send_kinesis_message(self: Any, **_: Any) -> None:
        return None

    LambdaBackend.send_kinesis_message = send_kinesis_message  # type: ignore[method-assign]


def dynamodb_as_aws() -> None:
    """moto's DynamoDB as the embedded AWS serves it, for moto in process too (the unit
    fixtures): one request at a time, transactions checked then written. Idempotent."""
    _serialize_dynamodb()
    _check_then_write_transactions()


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
