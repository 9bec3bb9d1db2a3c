"""``Vault`` in the session table, envelope-encrypted under the stack's customer managed key.

One item per contact: ``pk = CONTACT#<id>``, ``sk = VAULT``; attributes ``data_key`` (B, the
KMS-encrypted data key of the contact), ``vault_values`` (M, token -> base64 of nonce +
AES-256-GCM ciphertext), ``expires_at`` (the table's TTL attribute, the last write + ``ttl_s``).

The contact's data key is made on its first put (``GenerateDataKey``, encryption context
``{"contact_id": <id>, "purpose": "switchboard-vault"}``: a data key decrypts only for its own
contact) and decrypted again on each later put and get (one ``Decrypt``; the plaintext key is
never kept beyond the request). Each value is sealed with a fresh 12-byte nonce and, as
associated data, the contact id and the token: a value copied to another token or contact fails
to open. Nothing here logs or returns a value in an error.

Writers never lose each other's tokens: the first put creates the item on a free slot (a loser
re-reads and adds to the winner's item); later puts add only the tokens not stored yet
(``if_not_exists`` per token, a token keeps its first value), on the condition that the item
still holds the data key they encrypted with (deleted and made again in between: re-read).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.adapters.dynamodb_table import (
    TTL_ATTRIBUTE,
    DynamoDbTable,
    Item,
    error_code,
    free_slot,
    item_key,
)
from chalicelib.domain.ports import UsageMeter
from chalicelib.domain.usage import UsageKind
from chalicelib.errors import StoreUnavailableError, VaultUnavailableError
from chalicelib.observability import logger

VAULT_SK = "VAULT"
DATA_KEY_ATTRIBUTE = "data_key"
VALUES_ATTRIBUTE = "vault_values"
PURPOSE = "switchboard-vault"
NONCE_BYTES = 12
# A put re-reads when another writer created or replaced the item in between; more than this
# many in a row is not a race any more.
PUT_ATTEMPTS = 3


def encryption_context(contact_id: str) -> dict[str, str]:
    """The KMS encryption context of a contact's data key (also what an IAM condition can name)."""
    return {"contact_id": contact_id, "purpose": PURPOSE}


class KmsVault(DynamoDbTable):
    """The raw values behind a call's tokens, sealed per contact (see the module docstring).

    Args:
        dynamodb_client: the boto3 DynamoDB client.
        kms_client: the boto3 KMS client.
        table_name: the session table.
        key_id: the customer managed key (the stack's ``SessionKeyArn``).
        ttl_s: how long a contact's values live after its last put.
        usage: where each DynamoDB request's units are recorded.
    """

    def __init__(
        self,
        dynamodb_client: Any,
        kms_client: Any,
        table_name: str,
        key_id: str,
        ttl_s: int,
        usage: UsageMeter | None = None,
    ) -> None:
        super().__init__(dynamodb_client, table_name, ttl_s, usage)
        self._kms = kms_client
        self._key_id = key_id

    def put(self, contact_id: str, values: Mapping[str, str], now_ms: int) -> None:
        if not values:
            return
        key = item_key(contact_id, VAULT_SK)
        for _ in range(PUT_ATTEMPTS):
            item = self._read(key, now_ms)
            if item is None:
                if self._create(contact_id, key, values, now_ms):
                    return
                continue  # another writer created it first: add to theirs
            stored = item.get(VALUES_ATTRIBUTE, {}).get("M", {})
            new = {token: value for token, value in values.items() if token not in stored}
            if not new:
                return  # every token is kept already, with its first value
            blob = item[DATA_KEY_ATTRIBUTE]["B"]
            if self._add(contact_id, key, blob, new, now_ms):
                return
        raise VaultUnavailableError(f"vault item kept changing for {PUT_ATTEMPTS} attempts")

    def get(self, contact_id: str, tokens: Collection[str], now_ms: int) -> dict[str, str]:
        wanted = set(tokens)
        if not wanted:
            return {}
        item = self._read(item_key(contact_id, VAULT_SK), now_ms)
        if item is None:
            return {}
        stored = item.get(VALUES_ATTRIBUTE, {}).get("M", {})
        present = sorted(wanted & stored.keys())
        if not present:
            return {}
        sealer = AESGCM(self._data_key(contact_id, item[DATA_KEY_ATTRIBUTE]["B"]))
        found: dict[str, str] = {}
        for token in present:
            sealed = base64.b64decode(stored[token]["S"])
            try:
                plain = sealer.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(contact_id, token))
            except InvalidTag:
                # Not sealed for this contact and token (copied, or altered): as good as absent.
                logger.warning("vault value failed authentication", extra={"token": token})
                continue
            found[token] = plain.decode("utf-8")
        return found

    def delete(self, contact_id: str) -> None:
        key = item_key(contact_id, VAULT_SK)
        with self._vault_mapped(), self._mapped("DeleteItem"):
            self._client.delete_item(TableName=self._table, Key=key)
        self._record(UsageKind.DYNAMODB_WRITE_UNITS, 1)

    # --- internals -----------------------------------------------------------------------------

    def _read(self, key: Item, now_ms: int) -> Item | None:
        with self._vault_mapped():
            return self._get(key, now_ms)

    def _create(self, contact_id: str, key: Item, values: Mapping[str, str], now_ms: int) -> bool:
        """Make the contact's data key and its item; False when another writer made one first."""
        with self._kms_mapped("GenerateDataKey"):
            made = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=encryption_context(contact_id)
            )
        item = {
            **key,
            DATA_KEY_ATTRIBUTE: {"B": made["CiphertextBlob"]},
            VALUES_ATTRIBUTE: {"M": _sealed(contact_id, made["Plaintext"], values)},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }
        with self._vault_mapped():
            return self._put(item, free_slot(now_ms)) is None

    def _add(self, contact_id: str, key: Item, blob: bytes, values: Mapping[str, str], now_ms: int) -> bool:
        """Add ``values`` to the item sealed with data key ``blob``; False when the item no longer
        holds that data key (deleted, or made again)."""
        sealed = _sealed(contact_id, self._data_key(contact_id, blob), values)
        names = {"#v": VALUES_ATTRIBUTE, "#dk": DATA_KEY_ATTRIBUTE, "#ttl": TTL_ATTRIBUTE}
        attribute_values: Item = {":dk": {"B": blob}, ":ttl": self._expires_at(now_ms)}
        sets = []
        for i, (token, value) in enumerate(sorted(sealed.items())):
            names[f"#t{i}"] = token
            attribute_values[f":v{i}"] = value
            sets.append(f"#v.#t{i} = if_not_exists(#v.#t{i}, :v{i})")
        update = "SET " + ", ".join([*sets, "#ttl = :ttl"])
        with self._vault_mapped():
            return self._update(key, update, "#dk = :dk", names, attribute_values) is None

    def _data_key(self, contact_id: str, blob: bytes) -> bytes:
        with self._kms_mapped("Decrypt"):
            plaintext: bytes = self._kms.decrypt(
                CiphertextBlob=blob, KeyId=self._key_id, EncryptionContext=encryption_context(contact_id)
            )["Plaintext"]
        return plaintext

    @contextmanager
    def _vault_mapped(self) -> Iterator[None]:
        """The table's errors (already mapped once, by ``DynamoDbTable._mapped``) as the vault's."""
        try:
            yield
        except StoreUnavailableError as exc:
            raise VaultUnavailableError(str(exc)) from exc

    @contextmanager
    def _kms_mapped(self, request: str) -> Iterator[None]:
        """The one mapping of KMS errors: the request and the error code, never a value."""
        try:
            yield
        except ClientError as exc:
            raise VaultUnavailableError(f"KMS {request} failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise VaultUnavailableError(f"KMS {request} failed: {type(exc).__name__}") from exc


def _aad(contact_id: str, token: str) -> bytes:
    return f"{contact_id}\x00{token}".encode()


def _sealed(contact_id: str, data_key: bytes, values: Mapping[str, str]) -> Item:
    """Each value sealed with ``data_key``: token -> ``{"S": base64(nonce + ciphertext)}``."""
    sealer = AESGCM(data_key)
    sealed: Item = {}
    for token, value in values.items():
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = sealer.encrypt(nonce, value.encode("utf-8"), _aad(contact_id, token))
        sealed[token] = {"S": base64.b64encode(nonce + ciphertext).decode("ascii")}
    return sealed
