"""Secrets from AWS Secrets Manager, read once per container and cached."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import SecretUnavailableError


class SecretsManagerSecret:
    """One secret's string value, fetched on first use (not at cold start) and kept.

    Args:
        client_factory: builds the ``secretsmanager`` client when first needed.
        secret_id: the secret's ARN or name.
    """

    def __init__(self, client_factory: Any, secret_id: str) -> None:
        self._client_factory = client_factory
        self._secret_id = secret_id
        self._value: str | None = None
        self._lock = threading.Lock()

    def value(self) -> str:
        """The secret string.

        Raises:
            SecretUnavailableError: it could not be read, or it is empty.
        """
        with self._lock:
            if self._value is None:
                try:
                    response = self._client_factory().get_secret_value(SecretId=self._secret_id)
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code", "Unknown")
                    raise SecretUnavailableError(f"secret not readable: {code}") from exc
                except BotoCoreError as exc:
                    raise SecretUnavailableError(f"secret not readable: {type(exc).__name__}") from exc
                secret = response.get("SecretString") or ""
                if not secret.strip():
                    raise SecretUnavailableError("secret is empty")
                self._value = secret.strip()
            return self._value
