"""The transcriber goes on in a new invocation: ``lambda:Invoke`` of itself, asynchronously.

A call outlasts Lambda's 15 minutes, and a failing stream is best retried by a fresh invocation,
so the transcriber hands its checkpoint to the next one (``InvocationType=Event``: Lambda queues
the event and answers at once; it retries a failed asynchronous invocation twice by itself).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import TranscriberContinuationFailedError


class LambdaContinuation:
    """Re-invokes a function with an event, asynchronously.

    Args:
        lambda_client: a boto3 ``lambda`` client (explicit connect/read timeouts, few attempts).
        function_name: the function to invoke; None: the caller names it on each call.
    """

    def __init__(self, lambda_client: Any, function_name: str | None = None) -> None:
        self._client = lambda_client
        self._function_name = function_name

    def __call__(self, event: dict[str, Any], function_name: str | None = None) -> None:
        """Queue ``event`` for the function.

        Raises:
            TranscriberContinuationFailedError: Lambda refused or could not be reached.
        """
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, transcriber only

        name = self._function_name or function_name
        if not name:
            raise TranscriberContinuationFailedError("no function to continue in")
        try:
            self._client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode("utf-8"))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise TranscriberContinuationFailedError(f"lambda Invoke failed: {code}") from exc
        except BotoCoreError as exc:
            raise TranscriberContinuationFailedError(f"lambda Invoke failed: {type(exc).__name__}") from exc
