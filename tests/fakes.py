"""Test doubles shared by the suites (fakes over mocks)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from typing import Any

from chalicelib.domain.ports import SessionStore
from chalicelib.domain.session import Session, TurnRecord


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now = now_ms
        self.mono = 0.0

    def now_ms(self) -> int:
        return self.now

    def monotonic_ms(self) -> float:
        return self.mono

    def advance(self, ms: int) -> None:
        self.now += ms
        self.mono += ms


class RecordingSessionStore:
    """Wraps a store; counts calls and can run a hook between a load and the next commit."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.before_commit: Any = None  # callable run once, just before the next commit

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        self.calls.append("load")
        return self.inner.load(contact_id, now_ms)

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        self.calls.append("load_turn")
        return self.inner.load_turn(contact_id, seq, now_ms)

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        self.calls.append("commit_turn")
        hook, self.before_commit = self.before_commit, None
        if hook is not None:
            hook()
        return self.inner.commit_turn(turn, session, now_ms)


class BarrierSessionStore:
    """Makes N concurrent deliveries all read before any of them commits: the worst-case
    interleaving of a concurrent duplicate, made deterministic."""

    def __init__(self, inner: SessionStore, barrier: threading.Barrier) -> None:
        self.inner = inner
        self._barrier = barrier
        self._passed = threading.local()

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        return self.inner.load(contact_id, now_ms)

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        return self.inner.load_turn(contact_id, seq, now_ms)

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        if not getattr(self._passed, "done", False):
            self._passed.done = True
            self._barrier.wait()
        return self.inner.commit_turn(turn, session, now_ms)


class ScriptedModelClient:
    """A ``ModelClient`` that answers from a list (an answer, or an exception to raise), in
    order, and records each call's tier and budget. ``cost_ms`` is added to the clock per call."""

    def __init__(self, replies: list[Any], clock: ManualClock | None = None, cost_ms: int = 0) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[int, float]] = []
        self.messages: list[Any] = []  # what each call was sent
        self._clock = clock
        self._cost_ms = cost_ms

    def complete(
        self, tier: Any, messages: Any, tools: Any = (), *, timeout_ms: float, first_token_timeout_ms: float
    ) -> Any:
        self.calls.append((tier.tier, timeout_ms))
        self.messages.append(messages)
        if self._clock is not None:
            self._clock.advance(self._cost_ms)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class FakeToolBackend:
    """A ``ToolGateway`` fake: answers from ``results`` by tool name, executes side effects once
    per idempotency key and counts executions. ``fail`` maps a tool to an exception to raise;
    ``crash_after_effect`` makes the next side effect happen and then raises (as if the Lambda
    died before writing the journal)."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results
        self.fail: dict[str, Exception] = {}
        self.crash_after_effect = False
        self.executed: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, Any], str | None, float]] = []

    def call(self, tool: Any, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float) -> object:
        self.calls.append((tool.name, arguments, idempotency_key, timeout_ms))
        if tool.name in self.fail:
            raise self.fail[tool.name]
        if tool.kind == "side_effect":
            assert idempotency_key, "a side effect without an idempotency key"
            if idempotency_key not in self.executed:
                self.executed[idempotency_key] = 1
                if self.crash_after_effect:
                    self.crash_after_effect = False
                    raise SimulatedCrash("the process died after the tool's effect")
        return self.results[tool.name]

    @property
    def side_effects(self) -> int:
        return sum(self.executed.values())


class SimulatedCrash(BaseException):
    """Raised through everything, like a Lambda runtime killed mid-turn."""


class InMemoryContactAttributes:
    """``ContactAttributes`` in memory: records every update and keeps the attributes per
    contact, merged as Connect merges them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attributes: dict[str, dict[str, str]] = {}
        self.updates: list[tuple[str, dict[str, str]]] = []

    def update(self, contact_id: str, attributes: dict[str, str]) -> None:
        with self._lock:
            self.updates.append((contact_id, dict(attributes)))
            self.attributes.setdefault(contact_id, {}).update(attributes)


class InMemoryVault:
    """``Vault`` in memory, for tests only (never deployed; ``sim doctor`` flags it): the same
    rules as ``KmsVault`` — a token keeps its first value, values live ``ttl_s`` after the
    contact's last put, ``delete`` forgets the contact. ``fail`` makes every call raise it;
    ``gets`` records each read (contact, tokens)."""

    def __init__(self, ttl_s: int = 3600) -> None:
        self._lock = threading.Lock()
        self._ttl_ms = ttl_s * 1000
        self.values: dict[str, dict[str, str]] = {}
        self.expires_at_ms: dict[str, int] = {}
        self.gets: list[tuple[str, frozenset[str]]] = []
        self.fail: Exception | None = None

    def put(self, contact_id: str, values: Mapping[str, str], now_ms: int) -> None:
        with self._lock:
            self._raise()
            kept = self._live(contact_id, now_ms)
            for token, value in values.items():
                kept.setdefault(token, value)
            self.values[contact_id] = kept
            self.expires_at_ms[contact_id] = now_ms + self._ttl_ms

    def get(self, contact_id: str, tokens: Collection[str], now_ms: int) -> dict[str, str]:
        with self._lock:
            self.gets.append((contact_id, frozenset(tokens)))
            self._raise()
            kept = self._live(contact_id, now_ms)
            return {t: kept[t] for t in tokens if t in kept}

    def delete(self, contact_id: str) -> None:
        with self._lock:
            self._raise()
            self.values.pop(contact_id, None)
            self.expires_at_ms.pop(contact_id, None)

    def _live(self, contact_id: str, now_ms: int) -> dict[str, str]:
        if self.expires_at_ms.get(contact_id, now_ms + 1) <= now_ms:
            return {}
        return dict(self.values.get(contact_id, {}))

    def _raise(self) -> None:
        if self.fail is not None:
            raise self.fail


MemoryVault = InMemoryVault  # the name the redaction brief uses
