"""Caller data protection: the vault of tokenized values and the redaction fingerprint key."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.errors import SettingMissingError

if TYPE_CHECKING:  # built only by the handlers that need them: kept off the cold start
    from chalicelib.adapters.kms_vault import KmsVault
    from chalicelib.adapters.secrets import SecretsManagerSecret


class VaultParts:
    """The vault and the fingerprint key (a part of ``Container``)."""

    settings: Any
    meter: Any
    dynamodb_client: Any
    kms_client: Any
    secretsmanager_client: Callable[[], Any]  # AwsClients

    def vault(self) -> KmsVault:
        """The vault (``KmsVault``) of the turn: the session table and the stack's session key,
        its requests recorded into the container's meter; built once.

        Raises:
            SettingMissingError: ``SWITCHBOARD_SESSION_KEY_ARN`` is not set.
        """
        return self._vault

    def vault_into(self, meter: Any) -> KmsVault:
        """A vault recording into ``meter`` (work that is not a turn: the callback step).

        Raises:
            SettingMissingError: ``SWITCHBOARD_SESSION_KEY_ARN`` is not set.
        """
        s = self.settings
        if not s.session_key_arn:
            raise SettingMissingError("SWITCHBOARD_SESSION_KEY_ARN is not set (the stack's SessionKeyArn)")
        from chalicelib.adapters.kms_vault import KmsVault  # noqa: PLC0415 - cryptography, on first use

        return KmsVault(self.dynamodb_client, self.kms_client, s.table_name, s.session_key_arn, s.vault_ttl_s,
                        usage=meter)  # fmt: skip

    def redaction_key(self) -> bytes:
        """The redaction fingerprint key: the secret's value (read once per container), as bytes.

        Raises:
            SettingMissingError: ``SWITCHBOARD_REDACTION_KEY_SECRET_ARN`` is not set.
            SecretUnavailableError: the secret could not be read, or it is empty.
        """
        return self._redaction_key_secret.value().encode("utf-8")

    @property
    def vault_configured(self) -> bool:
        return bool(self.settings.session_key_arn)

    @cached_property
    def _vault(self) -> KmsVault:
        return self.vault_into(self.meter)

    @cached_property
    def _redaction_key_secret(self) -> SecretsManagerSecret:
        s = self.settings
        if not s.redaction_key_secret_arn:
            raise SettingMissingError(
                "SWITCHBOARD_REDACTION_KEY_SECRET_ARN is not set (the stack's RedactionKeySecretArn)"
            )
        from chalicelib.adapters.secrets import SecretsManagerSecret  # noqa: PLC0415

        return SecretsManagerSecret(self.secretsmanager_client, s.redaction_key_secret_arn)
