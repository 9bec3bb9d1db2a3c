"""The tokens of one call: the same card read twice is ``[CARD_1]`` both times, a second card
``[CARD_2]``.

The state is kept on the session, so it holds no caller data: each value is known by a keyed
fingerprint (HMAC-SHA-256 under a deployment secret, with the call's scope mixed in so the same
card in two calls does not match), never by itself. It is immutable; ``TokenBook`` is the
scratch pad one redaction writes its new tokens on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from chalicelib.errors import StoreDataCorruptError

_FINGERPRINT_HEX = 32  # 128 bits: no two values of one call collide
_V = TypeVar("_V", int, str)


@dataclass(frozen=True)
class RedactionState:
    """Per call: the last number of each label, and the token of each fingerprinted value.

    Example:
        >>> state = RedactionState.from_dict({"scope": "c-1", "counters": {"CARD": 1}})
        >>> state.to_dict()["counters"], state.latest_token("card")
        ({'CARD': 1}, None)
    """

    scope: str = ""  # mixed into each fingerprint: the contact id, say
    counters: tuple[tuple[str, int], ...] = ()  # label -> last number given
    tokens: tuple[tuple[str, str], ...] = ()  # fingerprint -> token ("CARD_1")
    latest: tuple[tuple[str, str], ...] = ()  # kind -> the token said most recently ("[CARD_1]")

    def latest_token(self, kind: str) -> str | None:
        """The token of ``kind`` said most recently in the call ("yes, use that card")."""
        return dict(self.latest).get(kind)

    def to_dict(self) -> dict[str, object]:
        """The state as plain JSON values, for the session item."""
        return {
            "scope": self.scope,
            "counters": dict(self.counters),
            "tokens": dict(self.tokens),
            "latest": dict(self.latest),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RedactionState:
        """The state ``to_dict`` gave.

        Raises:
            StoreDataCorruptError: ``data`` is not shaped like a state.
        """
        scope = data.get("scope", "")
        counters = _pairs(data.get("counters", {}), int)
        tokens = _pairs(data.get("tokens", {}), str)
        latest = _pairs(data.get("latest", {}), str)
        if not isinstance(scope, str):
            raise StoreDataCorruptError("redaction state: scope is not a string")
        return cls(scope, counters, tokens, latest)


def _pairs(value: object, kind: type[_V]) -> tuple[tuple[str, _V], ...]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, kind) and not isinstance(v, bool) for k, v in value.items()
    ):
        raise StoreDataCorruptError(f"redaction state: expected a map of strings to {kind.__name__}")
    return tuple(sorted(value.items()))


class TokenBook:
    """The tokens given during one redaction, on top of a state.

    Example:
        >>> book = TokenBook(RedactionState("c-1"), b"k" * 32)
        >>> book.token("card", "CARD", "4111111111111111", remember=True)
        '[CARD_1]'
        >>> book.token("card", "CARD", "4111111111111111", remember=True)
        '[CARD_1]'
    """

    def __init__(self, state: RedactionState, key: bytes) -> None:
        self._state = state
        self._key = key
        self._counters = dict(state.counters)
        self._tokens = dict(state.tokens)
        self._latest = dict(state.latest)
        self._unremembered: dict[tuple[str, str], str] = {}  # within this utterance only
        self._changed = False

    def token(self, kind: str, label: str, value: str, *, remember: bool) -> str:
        """The token of ``value``: the one it had earlier in the call, else the label's next."""
        if remember:
            fingerprint = self._fingerprint(kind, value)
            name = self._tokens.get(fingerprint)
            if name is None:
                name = self._tokens[fingerprint] = self._next(label)
        else:
            name = self._unremembered.get((kind, value)) or self._next(label)
            self._unremembered[(kind, value)] = name
        token = f"[{name}]"
        if self._latest.get(kind) != token:
            self._latest[kind] = token
            self._changed = True
        return token

    def _next(self, label: str) -> str:
        number = self._counters.get(label, 0) + 1
        self._counters[label] = number
        self._changed = True
        return f"{label}_{number}"

    def _fingerprint(self, kind: str, value: str) -> str:
        message = "\x1f".join((self._state.scope, kind, value)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_FINGERPRINT_HEX]

    def state(self) -> RedactionState:
        """The state with this redaction's tokens added (the same object when none were)."""
        if not self._changed:
            return self._state
        return RedactionState(
            self._state.scope,
            tuple(sorted(self._counters.items())),
            tuple(sorted(self._tokens.items())),
            tuple(sorted(self._latest.items())),
        )
