"""The transcriber's pure rules: where a run resumes, when the caller paused on stable words, and
what of a result is kept (its caller data redacted)."""

from __future__ import annotations

from chalicelib.adapters.data_files import load_end_of_turn, load_match_vocabulary
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.live_transcript import AGENT, CALLER
from chalicelib.domain.redaction import NO_CONTEXT, RedactionContext, Redactor
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.speculation import NO_VOCABULARY, speculation_key
from chalicelib.domain.speech import MediaPosition, TranscriptResult
from chalicelib.domain.transcription import (
    MIN_PAUSE_MS,
    SPECULATION_LEAD_MS,
    ProtectedResult,
    TrackProgress,
    pause_before_speculating,
    paused_words,
    protect_result,
    resume_point,
)

START, WRITTEN = MediaPosition("100", 0), MediaPosition("101", 1000)
SENT = [
    (MediaPosition("101", 1000), 1000.0),
    (MediaPosition("102", 2000), 2000.0),
    (MediaPosition("103", 3000), 3000.0),
]


def test_a_drained_run_resumes_after_the_last_timecode_it_sent() -> None:
    tracks = {CALLER: TrackProgress(0, final_end_ms=3000), AGENT: TrackProgress(0, final_end_ms=2900)}
    assert resume_point(START, SENT, tracks, {CALLER: 3000}, {}, drained=True, written=WRITTEN) == (SENT[-1][0], ())


def test_streams_that_did_not_drain_keep_the_checkpoint_last_written() -> None:
    assert resume_point(START, SENT, {}, {}, {}, drained=False, written=WRITTEN) == (WRITTEN, ())


def test_a_run_that_sent_nothing_keeps_its_start_and_what_was_skipped() -> None:
    assert resume_point(START, [], {}, {}, {AGENT: 900}, drained=True, written=WRITTEN) == (START, ((AGENT, 900),))


def test_a_failed_stream_resumes_where_its_finals_end_and_the_other_track_skips_what_it_sent() -> None:
    tracks = {CALLER: TrackProgress(0, open_partial_ms=2100, final_end_ms=2000, failed=True),
              AGENT: TrackProgress(0, final_end_ms=3000)}  # fmt: skip
    checkpoint, through = resume_point(START, SENT, tracks, {CALLER: 3000, AGENT: 3000}, {}, drained=True,
                                       written=WRITTEN)  # fmt: skip
    assert (checkpoint, through) == (MediaPosition("102", 2000), ((AGENT, 3000),))


def caller(text: str, end_ms: int, *, partial: bool = True) -> TranscriptResult:
    return TranscriptResult("r1", CALLER, text, partial, 0, end_ms)


def test_a_final_result_is_a_pause_at_once() -> None:
    words = paused_words(caller("What time do you close?", 900, partial=False), sent_ms=900, voice_end_ms=900,
                         pause_ms=250, final_only=True, already="")  # fmt: skip
    assert words == "what time do you close"


def test_a_partial_is_a_pause_only_after_enough_silence_once_it_caught_up() -> None:
    latest = caller("what time do you close", 900)
    assert paused_words(latest, sent_ms=1000, voice_end_ms=900, pause_ms=250, final_only=False, already="") is None
    assert paused_words(latest, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=False, already="")
    behind = caller("what time", 400)  # the speech went on after the partial's words
    assert paused_words(behind, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=False, already="") is None
    assert paused_words(latest, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=True, already="") is None


def test_the_same_words_are_never_speculated_on_twice() -> None:
    latest = caller("What time do you close?", 900, partial=False)
    assert paused_words(latest, sent_ms=900, voice_end_ms=900, pause_ms=250, final_only=True,
                        already="what time do you close") is None  # fmt: skip


def test_words_that_add_only_hesitations_or_a_trailing_please_are_not_speculated_on_again() -> None:
    english = load_match_vocabulary("en-US")
    first = paused_words(caller("what time do you close", 900), sent_ms=1200, voice_end_ms=900, pause_ms=250,
                         final_only=False, already="", vocabulary=english)  # fmt: skip
    final = caller("Um, what time do you close, please?", 1300, partial=False)
    assert first == "what time do you close"
    assert paused_words(final, sent_ms=1300, voice_end_ms=1300, pause_ms=250, final_only=True, already=first,
                        vocabulary=english) is None  # fmt: skip
    other = caller("what time do you close on sunday", 1300, partial=False)
    assert paused_words(other, sent_ms=1300, voice_end_ms=1300, pause_ms=250, final_only=True, already=first,
                        vocabulary=english) == "what time do you close on sunday"  # fmt: skip


def test_the_pause_follows_lex_end_timeout_so_the_speculation_starts_before_lex_hands_over() -> None:
    latest = caller("yes that's my new address", 900)

    def after(silence_ms: int, end_timeout_ms: float | None) -> str | None:
        return paused_words(latest, sent_ms=900 + silence_ms, voice_end_ms=900, pause_ms=250, final_only=False,
                            already="", end_timeout_ms=end_timeout_ms)  # fmt: skip

    assert after(180, 400) and after(180, None) is None  # after a yes/no question Lex waits 400 ms only
    assert after(400, 1400) is None and after(600, 1400)  # reading a long number: pauses between groups
    assert after(250, 600) and after(249, 600) is None  # Lex's default: the setting's pause
    assert pause_before_speculating(250, 200) == MIN_PAUSE_MS  # never within the gaps between words
    for end_timeout_ms in load_end_of_turn().timeouts_ms.values():
        assert pause_before_speculating(250, end_timeout_ms) <= end_timeout_ms - SPECULATION_LEAD_MS


# --- caller data: every result redacted before the run keeps it ------------------------------------

REDACTOR = Redactor(load_redaction_policy(), b"transcriber-test-key-of-32-bytes")
CARD = "four one one one one one one one one one one one one one one one"


def protected(text: str, *, partial: bool, stable: str = "", context: RedactionContext = NO_CONTEXT) -> ProtectedResult:
    result = TranscriptResult("r1", CALLER, text, partial, 0, 900, stable_text=stable)
    return protect_result(REDACTOR, result, RedactionState("c-1"), context)


def test_a_final_with_a_card_number_keeps_only_its_token_and_says_it_held_caller_data() -> None:
    made = protected(f"my card number is {CARD}", partial=False, stable=f"my card number is {CARD}")
    assert (made.result.text, made.result.stable_text) == ("my card number is [CARD_1]",) * 2
    assert made.caller_data and made.state.latest_token("card") == "[CARD_1]"


def test_a_partial_holds_back_a_number_still_being_read_until_it_is_placed() -> None:
    reading = protected("my card number is four one one one one one one one", partial=True,
                        stable="my card number is four one one one")  # fmt: skip
    assert (reading.result.text, reading.result.stable_text) == ("my card number is [NUMBER]",) * 2
    assert reading.caller_data
    done = protected(f"my card number is {CARD}", partial=True)
    assert done.result.text == "my card number is [CARD_1]"


def test_a_number_the_policy_keeps_stays_and_is_no_caller_data() -> None:
    made = protected("my account number is 4 4 7 1", partial=True)
    assert made.result.text == "my account number is 4 4 7 1" and not made.caller_data


def test_a_number_before_more_words_is_not_held_back_in_a_partial() -> None:
    made = protected("I'd like to pay 50 dollars", partial=True)
    assert made.result.text == "I'd like to pay 50 dollars" and not made.caller_data


def test_the_previous_prompt_makes_a_security_code_of_three_digits() -> None:
    asked = RedactionContext(prompt="What's the three digit security code on the back of your card?")
    made = protected("seven three seven", partial=False, context=asked)
    assert made.result.text == "[CVV_1]" and made.caller_data


def test_words_without_caller_data_are_unchanged_so_the_final_matches_the_partial_it_was_speculated_on() -> None:
    partial = protected("what time do you close on saturday", partial=True, stable="what time do you")
    final = protected("What time do you close on Saturday?", partial=False)
    assert partial.result.text == "what time do you close on saturday" and not partial.caller_data
    assert final.result.text == "What time do you close on Saturday?" and not final.caller_data
    assert speculation_key(partial.result.text, NO_VOCABULARY) == speculation_key(final.result.text, NO_VOCABULARY)


def test_only_finals_give_the_run_tokens_so_partials_do_not_use_up_numbers() -> None:
    state = RedactionState("c-1")
    for heard in ("my card number is four one one one one one one one one one one one one", CARD):
        partial = TranscriptResult("r1", CALLER, f"my card number is {heard}", True, 0, 900)
        made = protect_result(REDACTOR, partial, state, NO_CONTEXT)
        assert made.state == state
    final = TranscriptResult("r1", CALLER, f"my card number is {CARD}", False, 0, 900)
    done = protect_result(REDACTOR, final, state, NO_CONTEXT)
    assert done.result.text == "my card number is [CARD_1]" and done.state.latest_token("card") == "[CARD_1]"
