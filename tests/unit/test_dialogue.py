"""Tier-0 dialogue and delivery classification: pure functions, no store."""

from __future__ import annotations

from chalicelib.domain.conversation import Action, Source, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.phrases import fallback_reply
from chalicelib.domain.redelivery import DeliveryKind, classify_delivery, resolve_stored_turn
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.session import PendingKind, Session, SessionStatus
from tests.languages import EN

POLICY = DialoguePolicy(history_limit=6, misunderstandings_before_handover=3, default_queue="Billing")


def request(words: str, seq: int = 1, contact: str = "c-1") -> TurnRequest:
    return TurnRequest(contact_id=contact, seq=seq, utterance=words, source=Source.CONNECT)


def play(*utterances: str) -> Session:
    """The session after the caller said ``utterances`` on turns 1, 2, ..."""
    session: Session | None = None
    for seq, words in enumerate(utterances, start=1):
        outcome = answer_with_rules(session, request(words, seq), seq, 1_000 * seq, POLICY, words=EN.rules)
        session = outcome.session.evolve(version=seq)
    assert session is not None
    return session


def test_first_turn_starts_a_session_at_the_given_sequence() -> None:
    outcome = answer_with_rules(None, request("hello"), 1, 5_000, POLICY, words=EN.rules)
    assert outcome.session.last_seq == 1
    assert outcome.session.version == 0
    assert outcome.session.started_at_ms == 5_000
    assert outcome.reply.action is Action.SPEAK
    assert [m.role for m in outcome.session.history] == ["caller", "assistant"]


def test_asking_for_an_agent_hands_over_to_the_default_queue() -> None:
    outcome = answer_with_rules(None, request("agent please"), 1, 0, POLICY, words=EN.rules)
    assert outcome.reply.action is Action.HANDOVER
    assert outcome.reply.queue == "Billing"
    assert "handover:caller_asked" in outcome.reply.reasons
    assert outcome.session.status is SessionStatus.HANDOVER


def test_goodbye_ends_the_call() -> None:
    outcome = answer_with_rules(None, request("ok bye"), 1, 0, POLICY, words=EN.rules)
    assert outcome.reply.action is Action.END
    assert outcome.session.status is SessionStatus.ENDED


def test_digits_are_read_back_for_confirmation_as_digits() -> None:
    outcome = answer_with_rules(None, request("my account is 4 4 7 1 9"), 1, 0, POLICY, words=EN.rules)
    assert ("44719", "digits") in [(p.text, p.say_as) for p in outcome.reply.speech]
    assert outcome.session.pending is not None
    assert outcome.session.pending.kind is PendingKind.CONFIRM_ACCOUNT


def test_confirmed_digits_become_the_account_number() -> None:
    session = play("my account is 4 4 7 1 9", "yes")
    assert session.account_number == "44719"
    assert session.pending is None


def test_rejected_digits_are_asked_for_again_and_not_kept() -> None:
    session = play("my account is 4 4 7 1 9", "no")
    assert session.account_number is None
    assert session.pending is not None and session.pending.kind is PendingKind.ACCOUNT_NUMBER


def test_no_after_anything_else_ends_the_call() -> None:
    session = play("thank you", "no")
    assert session.status is SessionStatus.ENDED


def test_repeat_says_the_previous_reply_again() -> None:
    first = play("my account is 4 4 7 1 9")
    again = answer_with_rules(first, request("say that again", 2), 2, 9_000, POLICY, words=EN.rules)
    assert again.reply.speech == first.last_turn.reply.speech  # type: ignore[union-attr]


def test_third_misunderstanding_in_a_row_hands_over() -> None:
    session = play("I moved house", "the address", "change my address")
    assert session.status is SessionStatus.HANDOVER
    assert session.last_turn is not None
    assert "handover:repeated_misunderstanding" in session.last_turn.reply.reasons


def test_an_understood_turn_resets_the_misunderstanding_count() -> None:
    session = play("I moved house", "hello", "the address")
    assert session.misunderstandings == 1
    assert session.status is SessionStatus.ACTIVE


def test_history_keeps_only_the_newest_messages() -> None:
    session = play("hi", "hello", "hey", "good morning")
    assert len(session.history) == POLICY.history_limit
    assert session.history[-1].seq == 4


def test_turn_after_the_call_ended_says_goodbye_again() -> None:
    session = play("bye")
    outcome = answer_with_rules(session, request("hello?", 2), 2, 0, POLICY, words=EN.rules)
    assert outcome.reply.action is Action.END


def test_first_delivery_is_new() -> None:
    assert classify_delivery(None, request("hi", 1)).kind is DeliveryKind.NEW


def test_redelivery_with_the_same_words_is_a_duplicate() -> None:
    session = play("hi")
    delivery = classify_delivery(session, request("hi", 1))
    assert delivery.kind is DeliveryKind.DUPLICATE
    assert delivery.reply == session.last_turn.reply  # type: ignore[union-attr]


def test_next_sequence_is_new_even_with_the_same_words() -> None:
    session = play("yes")
    assert classify_delivery(session, request("yes", 2)).kind is DeliveryKind.NEW


def test_a_taken_sequence_with_other_words_is_numbered_after_the_newest_turn() -> None:
    session = play("hi", "hello")
    delivery = classify_delivery(session, request("agent", 2))
    assert (delivery.kind, delivery.seq) == (DeliveryKind.NEW, 3)


def test_an_older_sequence_is_checked_against_its_stored_turn() -> None:
    session = play("hi", "hello", "hey")
    older = request("hi", 1)
    assert classify_delivery(session, older).kind is DeliveryKind.CHECK_STORED_TURN
    stored = answer_with_rules(None, older, 1, 0, POLICY, words=EN.rules).record
    assert resolve_stored_turn(session, older, stored).kind is DeliveryKind.DUPLICATE
    assert resolve_stored_turn(session, request("other", 1), stored).seq == 4
    assert resolve_stored_turn(session, older, None).kind is DeliveryKind.NEW


def test_fallback_asks_again_without_handing_over() -> None:
    reply = fallback_reply("UtteranceEmptyError", input_problem=True)
    assert reply.action is Action.SPEAK
    assert "didn't catch" in reply.text
    assert reply.reasons == ("fallback:UtteranceEmptyError",)
