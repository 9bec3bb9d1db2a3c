"""The embedded AWS: moto's server, in process, on 127.0.0.1.

Step Functions execution is switched on (``/moto-api/config``); moto's Step Functions
interpreter calls back into the server on ``MOTO_PORT``, so that is set to the server's port.
Lambda uses moto's Docker-backed backend only so that invocations reach
``LambdaFunction._invoke_lambda``, which ``sim/lambda_bridge.py`` replaces: no Docker runs.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from types import TracebackType
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
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

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        os.environ["MOTO_PORT"] = str(port)
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
