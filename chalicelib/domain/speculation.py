"""Speculative turns: the model's work done on the caller's stable partial transcript, before Lex
has finalized the utterance, kept for the turn handler to answer from.

A speculation is keyed by contact, the turn it would be (the session's next sequence) and the key
of its words (``speculation_key``: case, punctuation, hesitations, how numbers are written and a
trailing "please" do not count; ``domain/words_key``). The turn handler uses it only when Lex's
final utterance has the same key, the router picks the same tier, and no turn was committed since
it was made; otherwise the handler runs normally and the speculation is wasted (its cost stays in
the ledger), and ``why_unused`` names why. The turn records what it found (``TurnRecord.speculation``,
a ``Lookup``) and the key it looked up (``TurnRecord.words_key``). A speculation never makes a side
effect: when the model asks for one before any tool ran, it stops there, resumable, and the live
turn goes on from its answer and makes the call under its journal. Which state a finished
speculation is in is decided here (``finished_speculation``), not by the use case that ran it.

Words that hold caller data are speculated on as tokens (``[CARD_1]``): the model sees what the
turn's model would see, never a value, and the speculation holds tokens only. A tool the
speculation would call with a token finds no value (the turn puts the values in the vault) and
the speculation is abandoned; one with a side effect stops resumable, and the turn makes it with
the vault's values under its journal. Words that are still being read — a number a partial has
not finished (``[NUMBER]``), or a value only scrubbed, not tokenized — are not speculated on:
the speculation is recorded abandoned at once, ``why`` ``caller_data``, with no work, and the
turn handler does that turn itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from chalicelib.domain.conversation import Role
from chalicelib.domain.model_replies import STOPPED_AT_SIDE_EFFECT, ModelRun
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.turn_outcome import charged
from chalicelib.domain.usage import Usage
from chalicelib.domain.words_key import NO_VOCABULARY, MatchVocabulary, speculation_key

__all__ = ["NO_VOCABULARY", "MatchVocabulary", "speculation_key"]  # the key, for both sides

CALLER_DATA = "caller_data"  # ``why`` of a speculation not started: the words held caller data being read
# A caller-data label with no token number: a number still being read, or a value scrubbed only.
_OPEN_VALUE = re.compile(r"\[[A-Z][A-Z_]*\]")


def still_reading(transcript: str) -> bool:
    """Whether the (redacted) words hold caller data that is not a token yet: speculating on
    them would answer words the caller has not finished.

    Example:
        >>> still_reading("my card is [CARD_1]"), still_reading("my card is [NUMBER]")
        (False, True)
    """
    return _OPEN_VALUE.search(transcript) is not None


_LEGACY_NOT_WORDS = re.compile(r"[^a-z0-9' ]+")


class Lookup(StrEnum):
    """What the turn found when it looked for a speculation (``TurnRecord.speculation``)."""

    NOT_LOOKED = ""  # rules answered, speculation is off, or a stored turn from before the field
    USED = "used"  # answered from a ready one
    RESUMED = "resumed"  # went on from one that stopped at a side effect
    NONE = "none"  # nothing stored for its words yet
    LATE = "late"  # one was still running when the turn could wait no longer
    ABANDONED = "abandoned"  # one was there with no answer to offer
    OTHER_TIER = "other_tier"  # one made for another tier
    UNAVAILABLE = "unavailable"  # the store failed


class Unused(StrEnum):
    """Why a speculation was wasted (``why_unused``); an abandoned one may name its own ``why``."""

    NO_TURN = "no_turn"  # the call ended, was handed over or barged in before that turn
    SUPERSEDED = "superseded"  # newer words were speculated on for the same turn
    WORDS_CHANGED = "words_changed"  # the turn's words have another key
    TIER_CHANGED = "tier_changed"  # the turn routed to another tier
    LATE = "late"  # the turn arrived while it was running and could not wait for it
    AFTER_TURN = "after_turn"  # it was stored after the turn had looked
    SIDE_EFFECT = "side_effect"  # it stopped at a side effect and the turn did not go on from it
    CALLER_DATA = CALLER_DATA  # not started: the words held caller data
    STORE_UNAVAILABLE = "store_unavailable"  # the turn could not read the store
    NOT_LOOKED = "not_looked"  # the turn did not look (a stored turn from before the lookup was recorded)


class SpeculationState(StrEnum):
    PENDING = "pending"  # the work is being done (the turn handler may wait for it)
    READY = "ready"  # ``work`` holds the model's answer
    RESUMABLE = "resumable"  # stopped where the answer asked for a side effect, before any tool ran
    ABANDONED = "abandoned"  # no answer to offer: the models failed, a tool was refused or held


@dataclass(frozen=True)
class Speculation:
    contact_id: str
    seq: int  # the turn it answers: the session's ``last_seq + 1`` when it started
    transcript: str  # the words it was made on, as heard (redacted)
    state: SpeculationState
    tier: int  # the tier the router picked for it
    started_at_ms: int
    expected_ms: float = 0.0  # how long the work should take (the tier's prior)
    work: ModelRun | None = None  # what the models did (the stored field name)
    usage: tuple[Usage, ...] = ()  # what it cost, used or wasted
    why: str = ""  # why it stopped short of an answer
    key: str = ""  # ``speculation_key`` of ``transcript``: what it is stored and found under
    finished_at_ms: int = 0  # when its result was stored (0: still running)


def speculation_refusal(session: Session, key: str = "", vocabulary: MatchVocabulary = NO_VOCABULARY) -> str | None:
    """Why no speculation on the words of ``key`` may start on this session (None: it may); a
    call's first turn speculates on a new session.

    Words the session's newest turn already answered are refused (``answered``): a pause trigger
    that fires after Lex handed those words over and the turn committed (on the final result,
    a second after the caller stopped) would otherwise speculate on them as the *next* turn.
    """
    if session.closed is not None or session.handover is not None:
        return "call_not_with_the_bot"
    if session.pending_tools:
        return "pending_tools"  # picking them up is a side effect's business: the live turn's
    newest = next((m for m in reversed(session.history) if m.role is Role.CALLER), None)
    if (
        key
        and newest is not None
        and newest.seq == session.last_seq
        and speculation_key(newest.text, vocabulary) == key
    ):
        return "answered"
    return None


def finished_speculation(pending: Speculation, run: ModelRun | None, *, failed: str = "") -> Speculation:
    """The speculation once its run is over (``failed``: the error that ended it): ready with
    the model's answer, resumable at a side effect, or abandoned; its usage, used or wasted."""
    usage = charged(run.attempts).usage if run is not None else ()
    if failed or run is None:
        return replace(pending, state=SpeculationState.ABANDONED, usage=usage, why=failed or "no_run")
    if run.refused == STOPPED_AT_SIDE_EFFECT and not run.tools and run.attempts:
        return replace(pending, state=SpeculationState.RESUMABLE, work=run, usage=usage, why=STOPPED_AT_SIDE_EFFECT)
    if run.held or run.refused or run.answer is None:
        why = run.refused or run.hold_reason or run.give_up_reason or "no_answer"
        return replace(pending, state=SpeculationState.ABANDONED, usage=usage, why=why)
    return replace(pending, state=SpeculationState.READY, work=run, usage=usage)


def usable(speculation: Speculation | None, seq: int, key: str, tier: int) -> bool:
    """True when ``speculation`` answers this turn: same turn, same words' key, same tier, ready."""
    return _made_for(speculation, seq, key, tier, SpeculationState.READY)


def resumable(speculation: Speculation | None, seq: int, key: str, tier: int) -> bool:
    """True when ``speculation`` stopped at a side effect for this turn's words before any tool
    ran: the live turn goes on from its model answer instead of asking the model again."""
    return _made_for(speculation, seq, key, tier, SpeculationState.RESUMABLE)


def _made_for(speculation: Speculation | None, seq: int, key: str, tier: int, state: SpeculationState) -> bool:
    return (
        speculation is not None
        and speculation.state is state
        and speculation.work is not None
        and (speculation.seq, speculation.tier) == (seq, tier)
        and bool(key)
        and speculation.key == key
    )


def keep_waiting(
    speculation: Speculation, now_ms: int, *, fresh_run_fits: bool, answer_fits: bool, attempt_ms: float,
    lifetime_ms: float,
) -> bool:  # fmt: skip
    """Whether the turn waits on for ``speculation`` (found running for its words and tier).

    While a fresh run would still fit after waiting, it waits. Past that point a fresh run would
    be cut and degrade, while the speculation, with its head start on the same work, is nearer
    an answer: it waits on while the turn can still answer after it (``answer_fits``) and the
    speculation's first model attempt may still be answering (running less than ``attempt_ms``,
    the tier's total timeout); one running longer is retrying or about to give up. One running
    longer than ``lifetime_ms`` (its own hard deadline) is not waited for at all: its run is
    over and its writer stopped before storing the result.
    """
    if speculation.state is not SpeculationState.PENDING:
        return False
    running_ms = now_ms - speculation.started_at_ms
    if running_ms >= lifetime_ms:
        return False
    return fresh_run_fits or (answer_fits and running_ms < attempt_ms)


def next_look_in_ms(speculation: Speculation, now_ms: int, *, fine_ms: float, coarse_ms: float) -> float:
    """How long a turn waiting on a running ``speculation`` sleeps before it looks again: until
    the speculation's expected end (``expected_ms`` after it started), ``coarse_ms`` at most, and
    from then on ``fine_ms``: the turn sees the answer within ``fine_ms`` of its store write.

    Example:
        >>> s = Speculation("c-1", 2, "words", SpeculationState.PENDING, 1, started_at_ms=1_000, expected_ms=700)
        >>> next_look_in_ms(s, 1_100, fine_ms=10, coarse_ms=40), next_look_in_ms(s, 1_690, fine_ms=10, coarse_ms=40)
        (40, 10)
    """
    left = speculation.started_at_ms + speculation.expected_ms - now_ms
    return min(coarse_ms, max(fine_ms, left))


def lookup_outcome(found: Speculation | None, tier: int) -> Lookup:
    """What the turn found under its words' key once it stopped looking (``TurnRecord.speculation``):
    a speculation still running then is one it could not wait for."""
    if found is None:
        return Lookup.NONE
    if found.tier != tier:
        return Lookup.OTHER_TIER
    if found.state is SpeculationState.PENDING:
        return Lookup.LATE
    if found.work is not None and found.state is SpeculationState.READY:
        return Lookup.USED
    if found.work is not None and found.state is SpeculationState.RESUMABLE:
        return Lookup.RESUMED
    return Lookup.ABANDONED


def used(speculation: Speculation, turns: dict[int, TurnRecord]) -> bool:
    """True when the stored turn it was made for answered from it."""
    turn = turns.get(speculation.seq)
    if turn is None or not turn.speculated:
        return False
    if turn.words_key:
        return speculation.key == turn.words_key
    # A turn stored before the key was: it and its speculation were compared by plain words.
    return not speculation.key and speculation.transcript == _legacy_words(turn.caller)


def wasted(speculations: tuple[Speculation, ...], turns: tuple[TurnRecord, ...]) -> tuple[Speculation, ...]:
    """The speculations no turn answered from: their cost is on top of the turns' own."""
    by_seq = {t.seq: t for t in turns}
    return tuple(s for s in speculations if not used(s, by_seq))


def why_unused(speculation: Speculation, turn: TurnRecord | None, others: Iterable[Speculation] = ()) -> str:
    """Why ``speculation`` was wasted: an ``Unused`` reason, or an abandoned one's own ``why``
    (the model failure that ended it); "" when ``turn`` answered from it.

    Args:
        speculation: a speculation of the call.
        turn: the stored turn of its sequence (None: there is none).
        others: the call's other speculations (a newer one for the same turn supersedes it).

    Example:
        A speculation on "what time do you open" for a turn that asked when we close::

            why_unused(open_speculation, close_turn)  # 'words_changed'
    """
    if turn is not None and used(speculation, {turn.seq: turn}):
        return ""
    if speculation.why == CALLER_DATA:
        return Unused.CALLER_DATA
    if turn is None:
        return Unused.NO_TURN
    if turn.words_key and speculation.key != turn.words_key:
        newer = any(
            o.seq == speculation.seq and o.key != speculation.key and o.started_at_ms >= speculation.started_at_ms
            for o in others
        )
        return Unused.SUPERSEDED if newer else Unused.WORDS_CHANGED
    if turn.routed_tier != speculation.tier:
        return Unused.TIER_CHANGED
    if speculation.state is SpeculationState.ABANDONED:
        return speculation.why or "abandoned"
    reason = _BY_LOOKUP.get(turn.speculation)
    if reason is not None:
        return reason
    if speculation.state is SpeculationState.RESUMABLE:
        return Unused.SIDE_EFFECT
    return Unused.NOT_LOOKED


_BY_LOOKUP: dict[str, Unused] = {
    Lookup.LATE.value: Unused.LATE,
    Lookup.NONE.value: Unused.AFTER_TURN,
    Lookup.UNAVAILABLE.value: Unused.STORE_UNAVAILABLE,
}


def why_unused_each(speculations: tuple[Speculation, ...], turns: tuple[TurnRecord, ...]) -> tuple[str, ...]:
    """``why_unused`` of each of the call's speculations, in their order ("" for a used one)."""
    by_seq = {t.seq: t for t in turns}
    return tuple(why_unused(s, by_seq.get(s.seq), speculations) for s in speculations)


def _legacy_words(text: str) -> str:
    return " ".join(_LEGACY_NOT_WORDS.sub(" ", text.lower()).split())
