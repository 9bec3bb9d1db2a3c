"""Run the tool calls a model asked for: refuse what the graph does not allow, fit each call in
the turn's budget, and make side effects exactly once through the journal.

Caller data crosses here, and only here, by token: the model passes ``[CARD_1]``; just before the
call the runner reads the raw values of the call's tokens from the vault (one read per call),
checks the tool's schema on the real arguments and sends those; the journal keeps the tokens.
The tool's result is scrubbed (bare labels) before the model, the session or the journal see it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

from chalicelib.domain.deadline import Deadline
from chalicelib.domain.envelope import TOOL_CALL, TOOL_CALLS, Envelope
from chalicelib.domain.model import ChatMessage, ToolCall
from chalicelib.domain.ports import Clock, ToolGateway, ToolJournal, UsageMeter, Vault
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.session import PendingTool, ToolFact
from chalicelib.domain.tools import (
    JournalEntry,
    JournalState,
    ToolCallRecord,
    ToolDef,
    ToolGraph,
    ToolKind,
    arguments_hash,
    bounded_result,
    idempotency_key,
    schema_problem,
    scrubbed_result,
    vault_tokens,
    with_vault_values,
)
from chalicelib.errors import (
    ToolError,
    ToolRejectedError,
    ToolResultInvalidError,
    VaultUnavailableError,
    VaultValueMissingError,
)

HELD, REPLAYED, OK = "held", "replayed", "ok"
# A call whose arguments name a token the vault does not hold (never said, expired, or the
# contact closed): refused like a schema failure, the model and the caller get the safe reply.
VAULT_VALUE_MISSING = "vault_value_missing"
VAULT_UNAVAILABLE = "vault_unavailable"


class _ArgumentsRefusedError(Exception):
    """The real arguments break the tool's schema, or name a token the vault lacks: carries the
    refusal (``why``) to the round; never leaves the runner."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class ToolRound:
    """What one round of tool calls produced."""

    records: tuple[ToolCallRecord, ...] = ()
    messages: tuple[ChatMessage, ...] = ()  # tool results, for the model's next call
    facts: tuple[ToolFact, ...] = ()
    last_tool: str | None = None
    refused: str | None = None  # why a call was not made (graph, schema, limit, garbage result)
    held: tuple[PendingTool, ...] = ()  # calls cut short: the next turn makes them
    hold_reason: str = ""


class RunTools:
    """One round of tool calls within a turn.

    Args:
        vault: where the raw values behind the call's tokens are read (None: a call that names
            a token is refused, ``vault_value_missing``).
        redactor: scrubs each tool result (None: results are passed on as the tool gave them).
    """

    def __init__(
        self,
        graph: ToolGraph,
        gateway: ToolGateway,
        journal: ToolJournal,
        clock: Clock,
        envelope: Envelope,
        meter: UsageMeter,
        *,
        vault: Vault | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.graph = graph
        self._gateway = gateway
        self._journal = journal
        self._clock = clock
        self._envelope = envelope
        self._meter = meter
        self._vault = vault
        self._redactor = redactor

    def makes_side_effect(self, name: str) -> bool:
        """True for a declared side-effecting tool (unknown names are refused later, not here)."""
        tool = self.graph.get(name)
        return tool is not None and tool.kind is ToolKind.SIDE_EFFECT

    def warm(self) -> None:
        """Prepare the gateway's transports (imports, connections) ahead of the first call."""
        warm = getattr(self._gateway, "warm", None)
        if callable(warm):
            warm()

    def __call__(
        self,
        contact_id: str,
        seq: int,
        calls: tuple[ToolCall, ...],
        *,
        last_tool: str | None,
        calls_made: int,
        deadline: Deadline,
        follow_up_ms: float,
        already_checked: bool = False,
    ) -> ToolRound:
        """Make ``calls`` in order; stop at the first refusal or the first call cut short.

        ``follow_up_ms`` is kept free after the tools for the model call that speaks their result.
        ``already_checked``: the calls passed the graph when first asked for (a pick-up).
        """
        done = ToolRound(last_tool=last_tool)
        for offset, call in enumerate(calls):
            index = calls_made + offset
            tool = self.graph.get(call.name)
            why = (
                None
                if already_checked
                else self.graph.refusal(call.name, call.arguments, done.last_tool, index, schema=False)
            )
            if why is not None or tool is None:
                record = ToolCallRecord(call.name, tool.kind.value if tool else "unknown", f"refused:{why}")
                return replace(done, records=(*done.records, record), refused=why)
            try:
                arguments = self._real_arguments(contact_id, tool, call.arguments)
                now = self._clock.monotonic_ms()  # after the vault's read: what is left of the turn
                budget = deadline.timeout_for(
                    min(tool.timeout_ms, self._envelope.budget(TOOL_CALL)),
                    now,
                    self._envelope.finish_reserve_ms + follow_up_ms,
                )
                if budget < tool.latency_prior_ms:
                    return self._hold(done, calls[offset:], seq, index, f"tool_budget:{tool.name}")
                outcome, result, ms, key = self._make(contact_id, seq, index, tool, call, arguments, budget)
            except _ArgumentsRefusedError as refused:
                record = ToolCallRecord(tool.name, tool.kind.value, f"refused:{refused.why}")
                return replace(done, records=(*done.records, record), refused=refused.why)
            except VaultUnavailableError:
                record = ToolCallRecord(tool.name, tool.kind.value, VAULT_UNAVAILABLE)
                held = self._hold(done, calls[offset:], seq, index, f"{VAULT_UNAVAILABLE}:{tool.name}")
                return replace(held, records=(*done.records, record))
            except ToolResultInvalidError:
                record = ToolCallRecord(tool.name, tool.kind.value, "invalid_result")
                return replace(done, records=(*done.records, record), refused=f"invalid_result:{tool.name}")
            except ToolRejectedError:
                record = ToolCallRecord(tool.name, tool.kind.value, "rejected")
                message = ChatMessage(
                    "tool", json.dumps({"error": "the tool refused this request"}), tool_call_id=call.call_id
                )
                done = replace(done, records=(*done.records, record), messages=(*done.messages, message))
                continue
            except ToolError as exc:
                record = ToolCallRecord(tool.name, tool.kind.value, exc.kind)
                held = self._hold(done, calls[offset:], seq, index, f"tool_{exc.kind}:{tool.name}")
                return replace(held, records=(*done.records, record))
            text = json.dumps(result, sort_keys=True, separators=(",", ":"))
            done = replace(
                done,
                records=(*done.records, ToolCallRecord(tool.name, tool.kind.value, outcome, round(ms, 1), key)),
                messages=(*done.messages, ChatMessage("tool", text, tool_call_id=call.call_id)),
                facts=(*done.facts, ToolFact(tool.name, text)),
                last_tool=tool.name,
            )
        return done

    def _real_arguments(self, contact_id: str, tool: ToolDef, arguments_json: str) -> dict[str, object]:
        """The call's arguments with its tokens' raw values from the vault (one read for all of
        them), checked against the tool's schema. Never logged.

        Raises:
            _ArgumentsRefusedError: the real arguments break the schema (``schema:<problem>``), or
                name a token the vault does not hold (``vault_value_missing``).
            VaultUnavailableError: the vault could not be read (the call is held, as a tool
                that did not answer).
        """
        arguments = json.loads(arguments_json or "{}")
        tokens = vault_tokens(arguments)
        if tokens:
            try:
                if self._vault is None:
                    raise VaultValueMissingError("no vault is configured")
                arguments = with_vault_values(arguments, self._vault.get(contact_id, tokens, self._clock.now_ms()))
            except VaultValueMissingError as exc:
                raise _ArgumentsRefusedError(VAULT_VALUE_MISSING) from exc
        problem = schema_problem(tool.schema, arguments)
        if problem:
            raise _ArgumentsRefusedError(f"schema:{problem}")
        return arguments  # type: ignore[no-any-return]

    def _scrubbed(self, result: dict[str, object]) -> dict[str, object]:
        return result if self._redactor is None else scrubbed_result(result, self._redactor.scrub)

    def _make(
        self,
        contact_id: str,
        seq: int,
        index: int,
        tool: ToolDef,
        call: ToolCall,
        arguments: dict[str, object],
        budget_ms: float,
    ) -> tuple[str, dict[str, object], float, str | None]:
        """Call the tool with the real ``arguments`` (through the journal for a side effect):
        outcome, scrubbed result, ms, key."""
        started = time.perf_counter()
        if tool.kind is not ToolKind.SIDE_EFFECT:
            with self._meter.timed(TOOL_CALLS):
                raw = self._gateway.call(tool, arguments, idempotency_key=None, timeout_ms=budget_ms)
            return OK, self._scrubbed(bounded_result(raw)), (time.perf_counter() - started) * 1000, None
        now = self._clock.now_ms()
        entry = self._journal.begin(
            JournalEntry(contact_id, seq, index, tool.name, call.arguments, arguments_hash(call.arguments),
                         idempotency_key(contact_id, seq, index, tool.name)),
            now,
        )  # fmt: skip
        if entry.state is JournalState.DONE and entry.result_json:
            return REPLAYED, self._scrubbed(json.loads(entry.result_json)), 0.0, entry.idempotency_key
        if entry.arguments_json != call.arguments:
            # The journaled arguments and key win: a retry never becomes a different effect.
            arguments = self._real_arguments(contact_id, tool, entry.arguments_json)
        try:
            with self._meter.timed(TOOL_CALLS):
                raw = self._gateway.call(tool, arguments, idempotency_key=entry.idempotency_key, timeout_ms=budget_ms)
            result = self._scrubbed(bounded_result(raw))
        except ToolRejectedError:
            self._journal.finish(replace(entry, state=JournalState.FAILED), now)
            raise
        self._journal.finish(replace(entry, state=JournalState.DONE, result_json=json.dumps(result)), now)
        return OK, result, (time.perf_counter() - started) * 1000, entry.idempotency_key

    def _hold(self, done: ToolRound, rest: tuple[ToolCall, ...], seq: int, index: int, reason: str) -> ToolRound:
        held = tuple(PendingTool(seq, index + i, c.name, c.arguments) for i, c in enumerate(rest))
        records = tuple(ToolCallRecord(c.name, "held", HELD) for c in rest)
        return replace(done, records=(*done.records, *records), held=held, hold_reason=reason)

    def pending(
        self, contact_id: str, pending: tuple[PendingTool, ...], *, deadline: Deadline, follow_up_ms: float
    ) -> ToolRound:
        """Make the calls an earlier turn cut short (same turn and index: the same journal entry)."""
        done = ToolRound()
        for item in pending:
            call = ToolCall(f"pending-{item.index}", item.name, item.arguments_json)
            round_ = self(contact_id, item.seq, (call,), last_tool=None, calls_made=item.index, deadline=deadline,
                          follow_up_ms=follow_up_ms, already_checked=True)  # fmt: skip
            done = replace(
                done,
                records=(*done.records, *round_.records),
                facts=(*done.facts, *round_.facts),
                last_tool=round_.last_tool or done.last_tool,
                refused=round_.refused,
                held=round_.held,
                hold_reason=round_.hold_reason,
            )
            if round_.refused or round_.held:
                break
        return done
