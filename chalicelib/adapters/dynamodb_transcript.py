"""``TranscriptStore`` in the session table: the live transcript as one item beside the session.

``pk = CONTACT#<id>``, ``sk = TRANSCRIPT``; attributes: version (N), state (the transcript as
JSON, validated on the way back), expires_at. Writes are conditional on the version read.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from chalicelib.adapters.dynamodb_table import TTL_ATTRIBUTE, DynamoDbTable, item_key, version_condition
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.errors import SessionVersionConflictError, StoreDataCorruptError

TRANSCRIPT_SK = "TRANSCRIPT"
_TRANSCRIPT = TypeAdapter(LiveTranscript)


class DynamoDbTranscriptStore(DynamoDbTable):
    def load(self, contact_id: str, now_ms: int) -> tuple[LiveTranscript, int]:
        item = self._get(item_key(contact_id, TRANSCRIPT_SK), now_ms)
        if item is None:
            return LiveTranscript(), 0
        try:
            return _TRANSCRIPT.validate_json(item["state"]["S"]), int(item["version"]["N"])
        except (ValidationError, KeyError) as exc:
            raise StoreDataCorruptError("stored transcript does not match the transcript model") from exc

    def save(self, contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        item = {
            **item_key(contact_id, TRANSCRIPT_SK),
            "version": {"N": str(version + 1)},
            "state": {"S": _TRANSCRIPT.dump_json(transcript).decode("utf-8")},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }
        if self._put(item, version_condition(version, now_ms)) is not None:
            raise SessionVersionConflictError(f"transcript changed since version {version}")
        return version + 1
