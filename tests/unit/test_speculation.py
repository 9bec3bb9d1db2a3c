"""Speculative turns: made on the stable partial, used by the matching turn, never a side effect."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from chalicelib.adapters.data_files import load_envelope, load_match_vocabulary, load_tiers, load_tools
from chalicelib.adapters.language_files import shipped_languages
from chalicelib.adapters.memory_journal import InMemoryToolJournal
from chalicelib.adapters.memory_speculation import InMemorySpeculationStore
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.session_codec import turn_from_json, turn_to_json
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.speculation import (
    CALLER_DATA,
    Speculation,
    SpeculationState,
    keep_waiting,
    speculation_key,
    wasted,
    why_unused,
    why_unused_each,
)
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.run_models import RunModels
from chalicelib.usecases.run_tools import RunTools
from chalicelib.usecases.speculate import Speculate
from tests.fakes import FakeToolBackend, ManualClock, ScriptedModelClient
from tests.languages import EN
from tests.unit.test_tools import ACCOUNT, ARRANGEMENT, BALANCE, PAYMENT_CALLS, text_answer, tool_answer

TIERS = load_tiers()
ENVELOPE = load_envelope()
GRAPH, _ = load_tools()
POLICY = DialoguePolicy()
VOCABULARY = load_match_vocabulary("en-US")
ROUTINE = "what time do you close on saturday"  # tier 1


class Call:
    """One contact: a live turn handler and a speculation over the same stores and models."""

    def __init__(self, replies: list[Any], greet: bool = True, policy: DialoguePolicy = POLICY) -> None:
        self.clock = ManualClock()
        self.sessions = InMemorySessionStore()
        self.speculations = InMemorySpeculationStore()
        self.models = ScriptedModelClient(replies)
        self.backend = FakeToolBackend({"lookup_account": ACCOUNT, "get_balance": BALANCE,
                                        "create_payment_arrangement": ARRANGEMENT})  # fmt: skip
        meter = InvocationMeter()
        tools = RunTools(GRAPH, self.backend, InMemoryToolJournal(), self.clock, ENVELOPE, meter)
        self.handle = HandleTurn(self.sessions, self.clock, policy, ENVELOPE, words=EN, models=self.models, tiers=TIERS,
                                 tools=tools, meter=meter, speculations=self.speculations,
                                 sleep=lambda s: self.clock.advance(int(s * 1000)), vocabulary=VOCABULARY)  # fmt: skip
        worker = RunModels(self.models, TIERS, tools, ENVELOPE, self.clock, InvocationMeter(), policy)
        self.speculate = Speculate(self.sessions, self.speculations, self.clock, policy, ENVELOPE, TIERS, worker,
                                   vocabulary=VOCABULARY, words=EN)  # fmt: skip
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
    assert (made.seq, made.key) == (2, speculation_key(ROUTINE, VOCABULARY))
    assert made.transcript == "What time do you close on Saturday?"  # the words as heard: only the key is normalized
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


def test_a_first_turn_is_routed_by_the_rules_of_the_call_s_language_before_any_session_exists() -> None:
    # sim stream: six of eighteen wasted speculations were Spanish greetings routed by English rules.
    languages = DialoguePolicy(languages=shipped_languages())
    spanish = Call([text_answer("¡Hola!")], greet=False, policy=languages)
    assert spanish.speculate("c-1", "buenas tardes", False, "es-US") is None  # the Spanish rules greet back
    assert spanish.models.calls == [] and spanish.speculations.load_all("c-1", spanish.clock.now_ms()) == ()
    english = Call([text_answer("Hello! How can I help?")], greet=False, policy=languages)
    made = english.speculate("c-1", "buenas tardes", False, "en-US")  # no English rule knows it: a model's
    assert made is not None and made.tier == 1


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
    assert made is not None and resumable(made, 2, made.key, made.tier)
    assert resumable(replace(made, why="whatever the use case calls it"), 2, made.key, made.tier)
    abandoned = replace(made, state=SpeculationState.ABANDONED)
    assert not resumable(abandoned, 2, made.key, made.tier)


def test_words_still_reading_caller_data_are_not_speculated_on_and_the_reason_is_recorded() -> None:
    call = Call([text_answer("Thanks, I'll take that payment now.")])
    made = call.speculate("c-1", "I want to pay with my card [NUMBER]", True)  # a number not finished
    assert made is not None and (made.state, made.why, made.work, made.usage) == (
        SpeculationState.ABANDONED,
        CALLER_DATA,
        None,
        (),
    )
    assert call.models.calls == []  # no model saw the words ahead of the turn
    stored = call.speculations.load_all("c-1", call.clock.now_ms())
    assert [(s.why, s.transcript) for s in stored] == [(CALLER_DATA, "I want to pay with my card [NUMBER]")]


def test_caller_data_read_out_in_full_is_speculated_on_as_tokens_and_the_turn_answers_from_it() -> None:
    call = Call([text_answer("Thanks. And the expiry date on that card?")])
    made = call.speculate("c-1", "I want to pay with my card [CARD_1]", True)
    assert made is not None and made.state is SpeculationState.READY
    seen = json.dumps(call.models.messages, default=str)
    assert "[CARD_1]" in seen and not re.search(r"\d{4}", seen)  # the model saw the token, no value
    result = call.turn("I want to pay with my card [CARD_1]")
    assert result.record.speculated and len(call.models.calls) == 1  # answered from it: no second call


# --- matching: the final's key finds the partial's speculation ---------------------------------------


def test_a_final_that_only_adds_hesitations_and_a_trailing_please_is_answered_from_the_speculation() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    call.speculate("c-1", "what time do you close on saturday")
    result = call.turn("Um, what time do you, uh, close on Saturday? Thank you.")
    assert result.record.speculated and (result.record.speculation, len(call.models.calls)) == ("used", 1)
    assert result.record.caller == "Um, what time do you, uh, close on Saturday? Thank you."  # as heard


def test_digits_read_out_match_whichever_way_each_recogniser_wrote_them() -> None:
    call = Call([text_answer("Your balance is $42.")])
    call.speculate("c-1", "what's the balance on account four four eight oh one two")
    result = call.turn("What's the balance on account 448 012?")
    assert result.record.speculated and len(call.models.calls) == 1


def test_rules_words_cost_no_store_write_and_no_model_call() -> None:
    call = Call([])
    starts: list[Any] = []
    real_start = call.speculations.start
    call.speculations.start = lambda *a: starts.append(a) or real_start(*a)  # type: ignore[method-assign]
    assert call.speculate("c-1", "agent") is None and call.speculate("c-1", "yes please") is None
    assert (starts, call.models.calls) == ([], [])


def test_words_the_newest_turn_already_answered_are_not_speculated_on_as_the_next_turn() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    call.turn(ROUTINE)  # Lex handed the words over and the turn committed before the trigger fired
    assert call.speculate("c-1", ROUTINE + "?") is None
    assert call.speculations.load_all("c-1", call.clock.now_ms()) == () and len(call.models.calls) == 1


# --- waiting for a speculation still running --------------------------------------------------------


def pending_until(call: Call, ready_at_ms: int, *, started_ms_ago: int = 0) -> Any:
    """A speculation of ROUTINE stored pending, that turns ready when the clock reaches ``ready_at_ms``
    (milliseconds from now)."""
    made = call.speculate("c-1", ROUTINE)
    assert made is not None
    pending = replace(
        made, state=SpeculationState.PENDING, work=None, started_at_ms=made.started_at_ms - started_ms_ago
    )
    call.speculations.finish(pending, 0)
    done_at = call.clock.now_ms() + ready_at_ms
    real_get = call.speculations.get
    call.speculations.get = lambda *a: (replace(made, started_at_ms=pending.started_at_ms)  # type: ignore[method-assign]
                                        if call.clock.now_ms() >= done_at else real_get(*a))  # fmt: skip
    return made


def test_a_speculation_running_past_the_point_a_fresh_run_would_fit_is_still_waited_for() -> None:
    # A fresh tier-1 run needs ~1.2 s of the 2.5 s; the speculation, with its head start and its
    # first model attempt still within the tier's timeout, is nearer its answer than that run.
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    pending_until(call, 1450)
    result = call.turn(ROUTINE)
    assert result.record.speculated and result.record.speculation == "used" and len(call.models.calls) == 1


def test_a_speculation_running_longer_than_its_first_model_attempt_may_is_given_up_as_late() -> None:
    # Past the point a fresh run fits the turn has bet on the speculation: when the speculation's
    # first attempt has timed out too, the turn answers safely at once, not at its deadline.
    call = Call([text_answer("We close at 6 pm on Saturdays."), text_answer("We close at 6.")])
    pending_until(call, 5000)
    result = call.turn(ROUTINE)
    assert not result.record.speculated and result.record.speculation == "late"
    assert call.clock.monotonic_ms() <= TIERS.get(1).total_timeout_ms + 40  # one poll past it, no more
    assert result.reply.text.startswith("Sorry")  # the envelope's safe answer, in time


def test_a_speculation_pending_past_its_own_deadline_is_not_waited_for() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays."), text_answer("We close at 6.")])
    pending_until(call, 5000, started_ms_ago=ENVELOPE.hard_deadline_ms + 1)  # its transcriber died
    before = call.clock.monotonic_ms()
    result = call.turn(ROUTINE)
    assert (result.record.speculation, call.clock.monotonic_ms()) == ("late", before)
    assert result.reply.text == "We close at 6."


# --- why a speculation was wasted -------------------------------------------------------------------


def reasons(call: Call) -> list[tuple[str, str]]:
    now = call.clock.now_ms()
    made = call.speculations.load_all("c-1", now)
    return list(
        zip([s.transcript for s in made], why_unused_each(made, call.sessions.load_turns("c-1", now)), strict=True)
    )


def test_a_used_speculation_has_no_reason_and_one_for_other_words_is_words_changed() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays."), text_answer("We open at 9 am.")])
    call.speculate("c-1", ROUTINE)
    assert reasons(call) == [(ROUTINE, "no_turn")]  # the call ended before the turn
    call.turn("what time do you open on saturday")
    assert reasons(call) == [(ROUTINE, "words_changed")]


def test_a_speculation_on_words_the_caller_then_went_on_from_is_superseded() -> None:
    call = Call([text_answer("We close at 6 pm."), text_answer("We close at 6 pm on Saturdays.")])
    call.speculate("c-1", "what time do you close")
    call.clock.advance(400)
    call.speculate("c-1", ROUTINE)
    call.turn(ROUTINE)
    assert dict(reasons(call)) == {"what time do you close": "superseded", ROUTINE: ""}


def test_a_turn_routed_to_another_tier_makes_the_speculation_tier_changed() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    made = call.speculate("c-1", ROUTINE)
    assert made is not None
    turn = call.turn(ROUTINE).record
    assert why_unused(made, replace(turn, routed_tier=2, speculated=False, speculation="other_tier")) == "tier_changed"


def test_a_speculation_stored_after_the_turn_looked_is_after_turn() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    turn = call.turn(ROUTINE).record
    assert turn.speculation == "none" and turn.words_key == speculation_key(ROUTINE, VOCABULARY)
    late = Speculation("c-1", turn.seq, ROUTINE, SpeculationState.READY, turn.routed_tier, 0, key=turn.words_key)
    assert why_unused(late, turn) == "after_turn"


def test_a_late_one_is_late_an_abandoned_one_names_its_failure_and_caller_data_is_named() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays."), text_answer("We close at 6.")])
    made = pending_until(call, 5000)
    turn = call.turn(ROUTINE).record
    assert why_unused(made, turn) == "late"
    failed = replace(made, state=SpeculationState.ABANDONED, work=None, why="model_failed:timeout")
    assert why_unused(failed, turn) == "model_failed:timeout"
    assert why_unused(replace(failed, why=CALLER_DATA), turn) == "caller_data"
    stopped = replace(made, state=SpeculationState.RESUMABLE, why="side_effect")
    assert why_unused(stopped, replace(turn, speculation="")) == "side_effect"


def test_a_turn_stored_before_the_lookup_was_recorded_decodes_with_none() -> None:
    call = Call([text_answer("We close at 6 pm on Saturdays.")])
    call.speculate("c-1", ROUTINE)
    record = call.turn(ROUTINE).record
    assert turn_from_json(turn_to_json(record)) == record and record.speculation == "used"
    old = json.loads(turn_to_json(record))
    del old["speculation"], old["words_key"]
    assert (turn_from_json(json.dumps(old)).speculation, turn_from_json(json.dumps(old)).words_key) == ("", "")


def test_waiting_for_a_running_speculation_is_bounded_by_a_fresh_run_its_first_attempt_and_its_life() -> None:
    running = Speculation("c-1", 2, ROUTINE, SpeculationState.PENDING, 1, 10_000, key="k")

    def wait(at_ms: int, *, fresh: bool, answer: bool = True) -> bool:
        return keep_waiting(running, at_ms, fresh_run_fits=fresh, answer_fits=answer, attempt_ms=1500, lifetime_ms=2500)

    assert wait(11_700, fresh=True)  # a fresh run would still fit after it: wait
    assert wait(11_400, fresh=False) and not wait(11_400, fresh=False, answer=False)
    assert not wait(11_600, fresh=False)  # its first attempt is over: retrying or giving up
    assert not wait(12_500, fresh=True)  # past its own deadline: its writer is gone
    assert not keep_waiting(replace(running, state=SpeculationState.READY), 10_100, fresh_run_fits=True,
                            answer_fits=True, attempt_ms=1500, lifetime_ms=2500)  # fmt: skip
