"""``KmsVault`` on moto: the session table of ``infra/template.json`` and a KMS key (moto's KMS
enforces the encryption context). Round trip, ciphertext at rest, one data key per contact, two
writers keeping each other's tokens, TTL, delete, and errors named by code only."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.adapters.dynamodb_table import TTL_ATTRIBUTE, item_key
from chalicelib.adapters.kms_vault import DATA_KEY_ATTRIBUTE, VALUES_ATTRIBUTE, VAULT_SK, KmsVault
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.usage import UsageKind
from chalicelib.errors import VaultUnavailableError

TABLE = "switchboard-dev-sessions"
NOW_MS = 1_700_000_000_000
TTL_S = 3600
CARD, EXPIRY, PHONE = "4111111111111111", "04/27", "+12125550142"


@pytest.fixture
def kms(moto_dynamodb: Any) -> Any:
    return boto3.session.Session(region_name="us-east-1").client("kms")


@pytest.fixture
def key_arn(kms: Any) -> str:
    return str(kms.create_key(Description="session key")["KeyMetadata"]["Arn"])


def vault(dynamodb: Any, kms: Any, key_arn: str, meter: InvocationMeter | None = None) -> KmsVault:
    return KmsVault(dynamodb, kms, TABLE, key_arn, TTL_S, usage=meter)


def stored(dynamodb: Any, contact_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key=item_key(contact_id, VAULT_SK)).get("Item")
    return item


class Interleaving:
    """A DynamoDB client that runs ``hook`` once, right after its next ``get_item`` answered:
    another writer acting between this writer's read and its write."""

    def __init__(self, inner: Any, hook: Callable[[], None]) -> None:
        self._inner = inner
        self._hook: Callable[[], None] | None = hook

    def get_item(self, **kwargs: Any) -> Any:
        answer = self._inner.get_item(**kwargs)
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_values_put_are_got_back_by_token(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, NOW_MS)
    v.put("c-1", {"[PHONE_1]": PHONE}, NOW_MS + 1000)
    assert v.get("c-1", ["[CARD_1]", "[EXPIRY_1]", "[PHONE_1]"], NOW_MS + 2000) == {
        "[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY, "[PHONE_1]": PHONE,
    }  # fmt: skip
    assert v.get("c-1", ["[CARD_2]"], NOW_MS) == {}  # a token never put is left out
    assert v.get("c-2", ["[CARD_1]"], NOW_MS) == {}  # another contact's tokens are its own


def test_the_table_holds_ciphertext_and_a_kms_encrypted_data_key_never_a_value(
    moto_dynamodb: Any, kms: Any, key_arn: str
) -> None:
    vault(moto_dynamodb, kms, key_arn).put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, NOW_MS)
    scanned = json.dumps(moto_dynamodb.scan(TableName=TABLE)["Items"], default=lambda b: base64.b64encode(b).decode())
    assert CARD not in scanned and EXPIRY not in scanned and "4111" not in scanned
    item = stored(moto_dynamodb, "c-1")
    assert item is not None
    sealed = base64.b64decode(item[VALUES_ATTRIBUTE]["M"]["[CARD_1]"]["S"])
    assert len(sealed) == 12 + len(CARD) + 16  # nonce, ciphertext, GCM tag
    context = {"contact_id": "c-1", "purpose": "switchboard-vault"}
    assert kms.decrypt(CiphertextBlob=item[DATA_KEY_ATTRIBUTE]["B"], EncryptionContext=context)["Plaintext"]


def test_a_data_key_opens_for_its_own_contact_only(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    copied = {**stored(moto_dynamodb, "c-1"), **item_key("c-2", VAULT_SK)}  # type: ignore[dict-item]
    moto_dynamodb.put_item(TableName=TABLE, Item=copied)  # c-1's item under c-2's key
    with pytest.raises(VaultUnavailableError, match=r"^KMS Decrypt failed: InvalidCiphertextException$"):
        v.get("c-2", ["[CARD_1]"], NOW_MS)
    with pytest.raises(Exception, match="InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=copied[DATA_KEY_ATTRIBUTE]["B"],
                    EncryptionContext={"contact_id": "c-2", "purpose": "switchboard-vault"})  # fmt: skip


def test_a_value_moved_to_another_token_does_not_open(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD, "[PHONE_1]": PHONE}, NOW_MS)
    item = stored(moto_dynamodb, "c-1")
    assert item is not None
    item[VALUES_ATTRIBUTE]["M"]["[PHONE_1]"] = item[VALUES_ATTRIBUTE]["M"]["[CARD_1]"]
    moto_dynamodb.put_item(TableName=TABLE, Item=item)
    assert v.get("c-1", ["[CARD_1]", "[PHONE_1]"], NOW_MS) == {"[CARD_1]": CARD}


def test_a_token_kept_already_keeps_its_first_value(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    v.put("c-1", {"[CARD_1]": "5555555555554444", "[CARD_2]": "5555555555554444"}, NOW_MS)
    assert v.get("c-1", ["[CARD_1]", "[CARD_2]"], NOW_MS) == {"[CARD_1]": CARD, "[CARD_2]": "5555555555554444"}


def test_two_first_puts_racing_keep_both_tokens(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    other = vault(moto_dynamodb, kms, key_arn)
    racing = Interleaving(moto_dynamodb, lambda: other.put("c-1", {"[PHONE_1]": PHONE}, NOW_MS))
    vault(racing, kms, key_arn).put("c-1", {"[CARD_1]": CARD}, NOW_MS)  # read: none; the other creates it
    assert other.get("c-1", ["[CARD_1]", "[PHONE_1]"], NOW_MS) == {"[CARD_1]": CARD, "[PHONE_1]": PHONE}


def test_two_later_puts_racing_keep_both_tokens(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    other = vault(moto_dynamodb, kms, key_arn)
    other.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    racing = Interleaving(moto_dynamodb, lambda: other.put("c-1", {"[PHONE_1]": PHONE}, NOW_MS))
    vault(racing, kms, key_arn).put("c-1", {"[EXPIRY_1]": EXPIRY}, NOW_MS)
    assert other.get("c-1", ["[CARD_1]", "[PHONE_1]", "[EXPIRY_1]"], NOW_MS) == {
        "[CARD_1]": CARD, "[PHONE_1]": PHONE, "[EXPIRY_1]": EXPIRY,
    }  # fmt: skip


def test_a_put_racing_a_delete_and_a_new_item_re_reads_and_seals_under_the_new_data_key(
    moto_dynamodb: Any, kms: Any, key_arn: str
) -> None:
    other = vault(moto_dynamodb, kms, key_arn)
    other.put("c-1", {"[CARD_1]": CARD}, NOW_MS)

    def delete_and_start_again() -> None:
        other.delete("c-1")
        other.put("c-1", {"[PHONE_1]": PHONE}, NOW_MS)

    racing = Interleaving(moto_dynamodb, delete_and_start_again)
    vault(racing, kms, key_arn).put("c-1", {"[EXPIRY_1]": EXPIRY}, NOW_MS)  # sealed under the old key: refused
    assert other.get("c-1", ["[CARD_1]", "[PHONE_1]", "[EXPIRY_1]"], NOW_MS) == {"[PHONE_1]": PHONE,
                                                                                 "[EXPIRY_1]": EXPIRY}  # fmt: skip


def test_each_put_sets_the_ttl_and_an_expired_vault_reads_as_empty(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    assert stored(moto_dynamodb, "c-1")[TTL_ATTRIBUTE] == {"N": str(NOW_MS // 1000 + TTL_S)}  # type: ignore[index]
    v.put("c-1", {"[PHONE_1]": PHONE}, NOW_MS + 60_000)
    assert stored(moto_dynamodb, "c-1")[TTL_ATTRIBUTE] == {"N": str(NOW_MS // 1000 + 60 + TTL_S)}  # type: ignore[index]
    later = NOW_MS + 60_000 + TTL_S * 1000
    assert v.get("c-1", ["[CARD_1]"], later) == {}  # DynamoDB deletes it late; it reads as gone
    v.put("c-1", {"[CARD_1]": "5555555555554444"}, later)  # an expired item is a free slot
    assert v.get("c-1", ["[CARD_1]", "[PHONE_1]"], later) == {"[CARD_1]": "5555555555554444"}


def test_the_template_declares_the_ttl_attribute_the_vault_sets() -> None:
    from sim.moto_stack import load_template

    table = load_template()["Resources"]["SessionTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_delete_forgets_the_contact_and_is_idempotent(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    v = vault(moto_dynamodb, kms, key_arn)
    v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    v.put("c-2", {"[CARD_1]": CARD}, NOW_MS)
    v.delete("c-1")
    v.delete("c-1")
    assert stored(moto_dynamodb, "c-1") is None
    assert v.get("c-1", ["[CARD_1]"], NOW_MS) == {}
    assert v.get("c-2", ["[CARD_1]"], NOW_MS) == {"[CARD_1]": CARD}


def test_reads_and_writes_are_metered(moto_dynamodb: Any, kms: Any, key_arn: str) -> None:
    meter = InvocationMeter()
    v = vault(moto_dynamodb, kms, key_arn, meter)
    v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    v.get("c-1", ["[CARD_1]"], NOW_MS)
    kinds = [u.kind for u in meter.drain()[0]]
    assert kinds.count(UsageKind.DYNAMODB_READ_UNITS) == 2 and kinds.count(UsageKind.DYNAMODB_WRITE_UNITS) == 1


def test_an_unknown_key_is_named_by_its_code_and_no_value_is_in_the_error(moto_dynamodb: Any, kms: Any) -> None:
    v = vault(moto_dynamodb, kms, "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
    with pytest.raises(VaultUnavailableError) as raised:
        v.put("c-1", {"[CARD_1]": CARD}, NOW_MS)
    assert str(raised.value) == "KMS GenerateDataKey failed: NotFoundException"
    assert CARD not in repr(raised.value) and CARD not in repr(raised.value.__cause__)


def test_a_table_that_fails_is_a_vault_that_fails(kms: Any, key_arn: str) -> None:
    missing = boto3.session.Session(region_name="us-east-1").client("dynamodb")
    v = KmsVault(missing, kms, "no-such-table", key_arn, TTL_S)
    with pytest.raises(VaultUnavailableError, match=r"^DynamoDB GetItem failed: ResourceNotFoundException$"):
        v.get("c-1", ["[CARD_1]"], NOW_MS)
    with pytest.raises(VaultUnavailableError, match=r"^DynamoDB DeleteItem failed: ResourceNotFoundException$"):
        v.delete("c-1")


def test_a_kms_that_cannot_be_reached_is_named_by_the_error_type(moto_dynamodb: Any, key_arn: str) -> None:
    class Unreachable:
        def generate_data_key(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com")

    with pytest.raises(VaultUnavailableError, match=r"^KMS GenerateDataKey failed: EndpointConnectionError$"):
        KmsVault(moto_dynamodb, Unreachable(), TABLE, key_arn, TTL_S).put("c-1", {"[CARD_1]": CARD}, NOW_MS)
