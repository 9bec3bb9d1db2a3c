"""Deliberately broken builds, to prove that ``sim load``'s invariant checks can fail.

Each breakage removes one safeguard from the application inside the simulator's execution
environments (``sim.environments``), nowhere else; ``tests/sim/test_load.py`` runs the load
against each and expects the matching invariant to be non-zero. None is reachable from
``chalicelib`` or ``app.py``: the production code is never patched outside ``sim load --break``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

# breakage -> the invariant it must make non-zero
BREAKAGES: dict[str, str] = {
    "version_condition_removed": "lost_updates",
    "journal_skipped": "duplicate_side_effects",
    "commit_errors_swallowed": "lost_turns",
    "deadline_ignored": "deadline_misses",
    "fallback_removed": "unhandled_errors",
    "execution_name_unique": "double_handover",
    "redactor_off": "pii_leaks",
}


def apply(names: tuple[str, ...]) -> None:
    """Break the application as ``names`` say (in this process)."""
    unknown = set(names) - set(BREAKAGES)
    if unknown:
        raise ValueError(f"unknown breakages: {sorted(unknown)} (known: {', '.join(BREAKAGES)})")
    for name in names:
        _BREAK[name]()


def _version_condition_removed() -> None:
    """The turn's commit writes the session whatever version is stored (last writer wins); the
    turn item keeps its own condition."""
    from chalicelib.adapters.dynamodb_store import SESSION_SK, SORT_KEY, DynamoDbSessionStore  # noqa: PLC0415

    original = DynamoDbSessionStore.commit_turn

    class _Unconditional:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def transact_write_items(self, TransactItems: list[dict[str, Any]], **kwargs: Any) -> Any:
            unconditional = [
                {"Put": {k: v for k, v in i["Put"].items() if k not in ("ConditionExpression",
                                                                       "ExpressionAttributeValues")}}
                if i["Put"]["Item"][SORT_KEY]["S"] == SESSION_SK else i
                for i in TransactItems
            ]  # fmt: skip
            return self._client.transact_write_items(TransactItems=unconditional, **kwargs)

    def commit_turn(self: Any, turn: Any, session: Any, now_ms: int) -> Any:
        client = self._client
        self._client = _Unconditional(client)  # one invocation at a time per environment
        try:
            return original(self, turn, session, now_ms)
        finally:
            self._client = client

    DynamoDbSessionStore.commit_turn = commit_turn  # type: ignore[method-assign]


def _journal_skipped() -> None:
    """Side effects without the journal: nothing remembers the key, so each attempt makes one."""
    from chalicelib.adapters.dynamodb_journal import DynamoDbToolJournal  # noqa: PLC0415
    from chalicelib.usecases import run_tools  # noqa: PLC0415

    run_tools.idempotency_key = lambda *_: f"attempt-{uuid.uuid4().hex}"  # type: ignore[assignment]
    DynamoDbToolJournal.begin = lambda self, entry, now_ms: entry  # type: ignore[method-assign]
    DynamoDbToolJournal.finish = lambda self, entry, now_ms: None  # type: ignore[method-assign]


def _commit_errors_swallowed() -> None:
    """A commit that failed is treated as done: the caller hears a reply that was never stored."""
    from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore  # noqa: PLC0415
    from chalicelib.errors import StoreUnavailableError  # noqa: PLC0415

    original = DynamoDbSessionStore.commit_turn

    def commit_turn(self: Any, turn: Any, session: Any, now_ms: int) -> Any:
        try:
            return original(self, turn, session, now_ms)
        except StoreUnavailableError:
            return session.evolve(version=session.version + 1)

    DynamoDbSessionStore.commit_turn = commit_turn  # type: ignore[method-assign]


def _deadline_ignored() -> None:
    """Every component gets its whole budget, however little of the turn's time is left."""
    from chalicelib.domain.deadline import Deadline  # noqa: PLC0415

    Deadline.remaining_ms = lambda self, now_ms: 60_000.0  # type: ignore[method-assign]
    Deadline.past_soft = lambda self, now_ms: False  # type: ignore[method-assign]


def _fallback_removed() -> None:
    """The turn handler lets errors reach Amazon Connect instead of answering safely."""
    import app  # noqa: PLC0415

    def reraise(event: object, error: Exception) -> dict[str, Any]:
        raise error

    app.render_fallback_answer = reraise  # type: ignore[assignment]


def _execution_name_unique() -> None:
    """Each start of the handover workflow gets a fresh execution name (no dedup by name)."""
    from chalicelib.domain.handover import HandoverRequest, execution_name  # noqa: PLC0415

    HandoverRequest.execution_name = property(  # type: ignore[method-assign, assignment]
        lambda self: f"{execution_name(self.contact_id, self.seq)[:60]}-{uuid.uuid4().hex[:8]}"
    )


def _redactor_off() -> None:
    """The redactor finds nothing: every caller word reaches the store, the model, the logs and
    the workflow as said (``Redactor.redact`` keeps the text, ``Redactor.scrub`` too), whichever
    component built it."""
    from chalicelib.domain.redaction import Redaction, Redactor  # noqa: PLC0415

    Redactor.redact = lambda self, text, state, context=None: Redaction(text, (), state)  # type: ignore[method-assign]
    Redactor.scrub = lambda self, text, context=None: text  # type: ignore[method-assign]


_BREAK: dict[str, Callable[[], None]] = {
    "version_condition_removed": _version_condition_removed,
    "journal_skipped": _journal_skipped,
    "commit_errors_swallowed": _commit_errors_swallowed,
    "deadline_ignored": _deadline_ignored,
    "fallback_removed": _fallback_removed,
    "execution_name_unique": _execution_name_unique,
    "redactor_off": _redactor_off,
}
