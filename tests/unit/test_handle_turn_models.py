"""The turn use case with model tiers: escalation, degradation, fallback, races, usage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.adapters.data_files import load_envelope, load_tiers
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.conversation import Action, Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.model import ModelAnswer
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.usage import UsageKind
from chalicelib.errors import ModelTimeoutError, ModelUnavailableError
from chalicelib.usecases.handle_turn import HandleTurn
from tests.fakes import ManualClock, RecordingSessionStore, ScriptedModelClient
from tests.languages import EN

TIERS = load_tiers()
ENVELOPE = load_envelope()
POLICY = DialoguePolicy(misunderstandings_before_handover=2)
ROUTINE = "what time do you close on saturday"  # tier 1
COMPLAINT = "this is ridiculous, I was charged twice"  # tier 2


def ok(
    model: str, text: str = "We close at 6 pm on Saturdays. Is there anything else I can help you with?"
) -> ModelAnswer:
    return ModelAnswer(model=model, text=text, finish_reason="stop", input_tokens=300, output_tokens=20,
                       first_token_ms=400, total_ms=600)  # fmt: skip


def request(words: str, seq: int = 1) -> TurnRequest:
    return TurnRequest(contact_id="c-1", seq=seq, utterance=words, source=Source.CONNECT)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def handler(
    models: ScriptedModelClient, clock: ManualClock, store: object = None, meter: InvocationMeter | None = None
) -> HandleTurn:
    return HandleTurn(store or InMemorySessionStore(), clock, POLICY, ENVELOPE, words=EN, models=models, tiers=TIERS,
                      meter=meter)  # fmt: skip


def deadline(clock: ManualClock, hard_ms: float = 2500) -> Deadline:
    return Deadline(clock.monotonic_ms(), hard_ms)


def test_routine_request_is_answered_by_the_small_model(clock: ManualClock) -> None:
    models = ScriptedModelClient([ok("gpt-6-luna")])
    result = handler(models, clock)(request(ROUTINE), deadline(clock))
    assert [tier for tier, _ in models.calls] == [1]
    assert (result.reply.tier, result.reply.intent) == (1, "model")
    assert result.record is not None and result.record.routed_tier == 1
    assert result.record.baseline_tokens == (300, 20)


def test_invalid_small_answer_is_escalated_and_both_calls_are_charged(clock: ManualClock) -> None:
    meter = InvocationMeter()
    models = ScriptedModelClient([ok("gpt-6-luna", text=""), ok("gpt-6-sol")])
    result = handler(models, clock, meter=meter)(request(ROUTINE), deadline(clock))
    assert [tier for tier, _ in models.calls] == [1, 2]
    assert result.reply.tier == 2 and "escalated:1->2:empty" in result.reply.reasons
    llm = [u for u in meter.drain()[0] if u.kind is UsageKind.LLM_INPUT_TOKENS]
    assert {(u.model, u.quantity) for u in llm} == {("gpt-6-luna", Decimal(300)), ("gpt-6-sol", Decimal(300))}


def test_failed_large_model_degrades_to_the_small_one(clock: ManualClock) -> None:
    models = ScriptedModelClient([ModelTimeoutError("slow"), ok("gpt-6-luna")], clock, cost_ms=500)
    result = handler(models, clock)(request(COMPLAINT), deadline(clock))
    assert [tier for tier, _ in models.calls] == [2, 1]
    assert result.reply.tier == 1 and "degraded:2->1:timeout" in result.reply.reasons


def test_model_budget_leaves_room_for_the_write(clock: ManualClock) -> None:
    models = ScriptedModelClient([ok("gpt-6-sol")])
    handler(models, clock)(request(COMPLAINT), deadline(clock, hard_ms=2000))
    assert models.calls[0][1] <= 2000 - ENVELOPE.finish_reserve_ms


def test_when_every_model_fails_the_caller_hears_the_safe_line_and_then_a_person(clock: ManualClock) -> None:
    models = ScriptedModelClient([ModelUnavailableError("500")] * 6, clock, cost_ms=100)
    handle = handler(models, clock)
    first = handle(request(ROUTINE), deadline(clock))
    assert (first.reply.action, first.reply.intent) == (Action.SPEAK, "fallback")
    assert first.reply.reasons[-1] == "fallback:too_many_model_calls"  # retry, escalate, give up
    second = handle(request(ROUTINE + " please", 2), deadline(clock))
    assert second.reply.action is Action.HANDOVER
    assert "previous_turn_failed" in second.reply.reasons  # the router saw the failure


def test_no_model_is_called_when_none_fits_the_deadline(clock: ManualClock) -> None:
    models = ScriptedModelClient([])
    result = handler(models, clock)(request(ROUTINE), deadline(clock, hard_ms=600))
    assert models.calls == []
    assert "fallback:deadline" in result.reply.reasons


def test_a_version_race_does_not_call_the_model_again(clock: ManualClock) -> None:
    store = RecordingSessionStore(InMemorySessionStore())
    models = ScriptedModelClient([ok("gpt-6-luna")])
    handle = handler(models, clock, store)
    handle(request("hello"), deadline(clock))

    def other_writer() -> None:
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        other = answer_with_rules(current, request("x", 40), 40, clock.now, POLICY, words=EN.rules)
        store.inner.commit_turn(other.record, current, clock.now)

    store.before_commit = other_writer
    result = handle(request(ROUTINE, 2), deadline(clock))
    assert len(models.calls) == 1 and result.attempts == 2 and result.reply.tier == 1


def test_without_a_model_client_every_turn_is_answered_by_rules(clock: ManualClock) -> None:
    result = HandleTurn(InMemorySessionStore(), clock, POLICY, ENVELOPE, words=EN)(request(ROUTINE), deadline(clock))
    assert result.reply.tier == 0 and result.record is not None and result.record.routed_tier == 1


def test_model_timeouts_are_drawn_from_the_envelope_and_the_deadline(clock: ManualClock) -> None:
    models = ScriptedModelClient([ok("gpt-6-sol")])
    turn_deadline = Deadline(clock.monotonic_ms(), 2500)
    clock.advance(900)  # a slow read already spent 900 ms
    handler(models, clock)(request(COMPLAINT), turn_deadline)
    ((_, timeout_ms),) = models.calls
    assert timeout_ms == min(ENVELOPE.budget("model_total"), 2500 - 900 - ENVELOPE.finish_reserve_ms)


def test_every_component_of_the_turn_is_timed(clock: ManualClock) -> None:
    meter = InvocationMeter()
    models = ScriptedModelClient([ok("gpt-6-luna")])
    handler(models, clock, meter=meter)(request(ROUTINE), deadline(clock))
    _, timings = meter.drain()
    assert set(timings) == {"state_read", "routing", "model", "model_first_token", "state_write"}
    assert timings["model_first_token"] == 400


def test_past_the_soft_deadline_the_turn_degrades_and_says_why(clock: ManualClock) -> None:
    models = ScriptedModelClient([ok("gpt-6-luna")])
    turn_deadline = Deadline(clock.monotonic_ms(), 3500, soft_ms=1500)
    clock.advance(1600)  # the large model would still fit before the hard deadline
    result = handler(models, clock)(request(COMPLAINT), turn_deadline)
    assert [tier for tier, _ in models.calls] == [1]
    assert "degraded:2->1:soft_deadline" in result.reply.reasons


def test_the_stored_turn_keeps_its_component_timings(clock: ManualClock) -> None:
    meter = InvocationMeter()
    result = handler(ScriptedModelClient([ok("gpt-6-luna")]), clock, meter=meter)(request(ROUTINE), deadline(clock))
    assert result.record is not None
    assert {"state_read", "routing", "model", "model_first_token", "until_write"} <= dict(
        result.record.latency_ms
    ).keys()


def test_model_tokens_spent_before_a_race_stay_on_the_turn_when_the_re_read_routes_it_to_rules(
    clock: ManualClock,
) -> None:
    """The model answered, the commit lost a version race, and the fresh session routes the same
    words to the rules: the tokens already spent are still the turn's (invariant 7)."""
    from dataclasses import replace

    from chalicelib.domain.session import Pending, PendingKind

    store = RecordingSessionStore(InMemorySessionStore())
    meter = InvocationMeter()
    question = ok("gpt-6-luna", text="I can check your last bill. Would you like me to do that?")
    models = ScriptedModelClient([question, ok("gpt-6-luna")])
    handle = handler(models, clock, store, meter=meter)
    handle(request("hello"), deadline(clock))
    handle(request("what was my last bill", 2), deadline(clock))  # the model asks a question
    meter.drain()

    def other_writer() -> None:  # the flow's own prompt changes what "yes" answers
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        store.inner.save_session(replace(current, pending=Pending(PendingKind.ANYTHING_ELSE)), clock.now)

    store.before_commit = other_writer
    result = handle(request("yes", 3), deadline(clock))
    assert len(models.calls) == 2 and result.attempts == 2  # asked once, answered by the rules
    assert result.reply.tier == 0 and result.record is not None
    spent = {(u.kind, u.model, u.quantity) for u in result.record.usage if u.model}
    assert spent == {(UsageKind.LLM_INPUT_TOKENS, "gpt-6-luna", Decimal(300)),
                     (UsageKind.LLM_OUTPUT_TOKENS, "gpt-6-luna", Decimal(20))}  # fmt: skip
    assert [c.model for c in result.record.model_calls] == ["gpt-6-luna"]
    assert {u.kind for u in meter.drain()[0]} >= {UsageKind.LLM_INPUT_TOKENS, UsageKind.LLM_OUTPUT_TOKENS}


def test_model_tokens_of_a_turn_that_could_not_be_stored_stay_in_the_invocations_ledger(clock: ManualClock) -> None:
    from dataclasses import replace

    from chalicelib.errors import SessionContentionError

    store = RecordingSessionStore(InMemorySessionStore())
    meter = InvocationMeter()
    models = ScriptedModelClient([ok("gpt-6-luna")])
    handle = handler(models, clock, store, meter=meter)
    handle(request("hello"), deadline(clock))
    meter.drain()

    def always_raced() -> None:
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        store.inner.save_session(replace(current, holds=current.holds + 1), clock.now)
        store.before_commit = always_raced

    store.before_commit = always_raced
    with pytest.raises(SessionContentionError):
        handle(request(ROUTINE, 2), deadline(clock))
    assert len(models.calls) == 1
    llm = {(u.kind, u.quantity) for u in meter.drain()[0] if u.model == "gpt-6-luna"}
    assert llm == {(UsageKind.LLM_INPUT_TOKENS, Decimal(300)), (UsageKind.LLM_OUTPUT_TOKENS, Decimal(20))}
