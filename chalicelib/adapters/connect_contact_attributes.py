"""``ContactAttributes`` on Amazon Connect (``UpdateContactAttributes``).

Connect keys a contact by instance and *initial* contact id; for the inbound voice calls the
turn handler sees, the contact id is the initial one. moto does not implement this API: tests
use botocore's Stubber, and ``sim/`` adds it to its embedded AWS (``sim/embedded_aws.py``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ContactAttributesRejectedError, ContactAttributesUnavailableError

_RETRYABLE = {
    "ThrottlingException",
    "InternalServiceException",
    "ServiceUnavailableException",
    "LimitExceededException",
}


class ConnectContactAttributes:
    """Set user-defined attributes on a contact through a boto3 ``connect`` client."""

    def __init__(self, client: Any, instance_id: str) -> None:
        self._client = client
        self._instance_id = instance_id

    def update(self, contact_id: str, attributes: dict[str, str]) -> None:
        try:
            self._client.update_contact_attributes(
                InstanceId=self._instance_id, InitialContactId=contact_id, Attributes=attributes
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code in _RETRYABLE:
                raise ContactAttributesUnavailableError(f"UpdateContactAttributes failed: {code}") from exc
            raise ContactAttributesRejectedError(f"UpdateContactAttributes refused: {code}") from exc
        except BotoCoreError as exc:
            raise ContactAttributesUnavailableError(f"UpdateContactAttributes failed: {type(exc).__name__}") from exc
