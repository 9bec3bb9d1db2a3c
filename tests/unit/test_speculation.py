"""Speculative turns: made on the stable partial, used by the matching turn, never a side effect."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.data_files import load_envelope, load_tiers, load_tools
from chalicelib.adapters.memory_journal import InMemoryToolJournal
from chalicelib.adapters.memory_speculation import InMemorySpeculationStore
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.speculation import CALLER_DATA, SpeculationState, normalized_transcript, wasted
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.run_models import RunModels
from chalicelib.usecases.run_tools import RunTools
from chalicelib.usecases.speculate import Speculate
from tests.fakes import FakeToolBackend, ManualClock, ScriptedModelClient
from tests.unit.test_tools import ACCOUNT, ARRANGEMENT, BALANCE, PAYMENT_CALLS, text_answer, tool_answer

TIERS = load_tiers()
ENVELOPE = load_envelope()
GRAPH, _ = load_tools()
POLICY = DialoguePolicy()
ROUTINE = "what time do you close on saturday"  # tier 1


class Call:
    """One contact: a live turn handler and a speculation over the same stores and models."""

    def __init__(self, replies: list[Any], greet: bool = True) -> None:
        self.clock = ManualClock()
        self.sessions = InMemorySessionStore()
        self.speculations = InMemorySpeculationStore()
        self.models = ScriptedModelClient(replies)
        self.backend = FakeToolBackend({"lookup_account": ACCOUNT, "get_balance": BALANCE,
                                        "create_payment_arrangement": ARRANGEMENT})  # fmt: skip
        meter = InvocationMeter()
        tools = RunTools(GRAPH, self.backend, InMemoryToolJournal(), self.clock, ENVELOPE, meter)
        self.handle = HandleTurn(self.sessions, self.clock, POLICY, ENVELOPE, models=self.models, tiers=TIERS,
                                 tools=tools, meter=meter, speculations=self.speculations,
                                 sleep=lambda s: self.clock.advance(int(s * 1000)))  # fmt: skip
        worker = RunModels(self.models, TIERS, tools, ENVELOPE, self.clock, InvocationMeter(), POLICY)
        self.speculate = Speculate(self.sessions, self.speculations, self.clock, POLICY, ENVELOPE, TIERS, worker)
        if greet:
            self.turn("hello")  # tier 0: the session exists, the next turn is 2

    def turn(self, words: str, seq: int | None = None) -> Any:
        session = self.sessions.load("c-1", self.clock.now_ms())
        seq = seq or (session.last_seq + 1 if session else 1)
        request = TurnRequest(contact_id="c-1", seq=seq, utterance=words, source=Source.LEX)
        return self.handle(request, Deadline(self.clock.monotonic_ms(), 2500, soft_ms=1500))


def test_a_speculation_on_a_model_turn_stores_the_models_work_for_the_next_turn() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    made = call.speculate("c-1", "What time do you close on Saturday?")
    assert made is not None and made.state is SpeculationState.READY
    assert (made.seq, made.transcript) == (2, normalized_transcript(ROUTINE))
    assert made.usage  # its tokens, charged whether or not a turn uses it


def test_the_matching_final_utterance_is_answered_from_the_speculation_without_a_model_call() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    call.speculate("c-1", ROUTINE)
    calls_before = len(call.models.calls)
    result = call.turn("What time do you close, on Saturday")
    assert len(call.models.calls) == calls_before
    assert result.record.speculated and result.reply.text == "We close at 6 pm on Saturdays."


def test_other_final_words_run_the_turn_normally_and_the_speculation_is_wasted() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays."), text_answer("We open at 9 am.")])
    call.speculate("c-1", ROUTINE)
    result = call.turn("what time do you open on saturday")
    assert not result.record.speculated and result.reply.text == "We open at 9 am."
    made = call.speculations.load_all("c-1", call.clock.now_ms())
    assert len(wasted(made, call.sessions.load_turns("c-1", call.clock.now_ms()))) == 1


def test_rules_turns_are_not_speculated() -> None:
    call = Call([])
    assert call.speculate("c-1", "yes") is None


def test_the_same_words_twice_make_one_speculation() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    assert call.speculate("c-1", ROUTINE) is not None
    assert call.speculate("c-1", ROUTINE + ".") is None
    assert len(call.models.calls) == 1


def test_a_speculation_never_makes_a_side_effect_and_the_live_turn_goes_on_from_its_answer() -> None:
    ask = "I'd like to set up a payment of a hundred dollars on December first"
    call = Call([tool_answer(*PAYMENT_CALLS), text_answer()])
    made = call.speculate("c-1", ask)
    assert made is not None and made.state is SpeculationState.RESUMABLE  # not abandoned: the turn goes on from it
    assert call.backend.calls == []  # not even the read-only calls of that answer
    result = call.turn(ask)
    assert result.record.speculated  # its model answer was used: the model was asked once for it
    assert len(call.models.calls) == 2 and call.backend.side_effects == 1
    assert result.reply.text.startswith("Done.")


def test_the_first_turn_of_a_call_is_speculated_on_before_any_session_exists() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")], greet=False)
    made = call.speculate("c-1", ROUTINE)
    assert made is not None and made.seq == 1
    assert call.turn(ROUTINE).record.speculated


def test_a_speculation_still_running_is_waited_for_and_used() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    made = call.speculate("c-1", ROUTINE)
    assert made is not None
    pending = replace(made, state=SpeculationState.PENDING, work=None)
    call.speculations.finish(pending, 0)
    gets = 0
    real_get = call.speculations.get

    def ready_on_the_third_look(*args: Any) -> Any:
        nonlocal gets
        gets += 1
        return made if gets >= 3 else real_get(*args)

    call.speculations.get = ready_on_the_third_look  # type: ignore[method-assign]
    result = call.turn(ROUTINE)
    assert result.record.speculated and gets == 3


def test_whether_a_speculation_is_resumable_is_its_state_not_a_reason_string() -> None:
    from chalicelib.domain.speculation import resumable

    call = Call([tool_answer(*PAYMENT_CALLS)])
    ask = "I'd like to set up a payment of a hundred dollars on December first"
    made = call.speculate("c-1", ask)
    assert made is not None and resumable(made, 2, ask, made.tier)
    assert resumable(replace(made, why="whatever the use case calls it"), 2, ask, made.tier)
    abandoned = replace(made, state=SpeculationState.ABANDONED)
    assert not resumable(abandoned, 2, ask, made.tier)


def test_words_that_held_caller_data_are_not_speculated_on_and_the_reason_is_recorded() -> None:
    call = Call([text_answer("Thanks, I'll take that payment now.")])
    made = call.speculate("c-1", "I want to pay with my card [CARD_1]", True)
    assert made is not None and (made.state, made.why, made.work, made.usage) == (
        SpeculationState.ABANDONED,
        CALLER_DATA,
        None,
        (),
    )
    assert call.models.calls == []  # no model saw the words ahead of the turn
    stored = call.speculations.load_all("c-1", call.clock.now_ms())
    assert [(s.why, s.transcript) for s in stored] == [(CALLER_DATA, "i want to pay with my card card 1")]
    result = call.turn("I want to pay with my card [CARD_1]")
    assert not result.record.speculated and len(call.models.calls) == 1  # the turn did it itself
