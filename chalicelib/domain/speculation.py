"""Speculative turns: the model's work done on the caller's stable partial transcript, before Lex
has finalized the utterance, kept for the turn handler to answer from.

A speculation is keyed by contact, the turn it would be (the session's next sequence) and the
normalized transcript. The turn handler uses it only when Lex's final utterance normalizes to
the same text, the router picks the same tier, and no turn was committed since it was made;
otherwise the handler runs normally and the speculation is wasted (its cost stays in the ledger).
A speculation never makes a side effect: when the model asks for one before any tool ran, it
stops there, resumable, and the live turn goes on from its answer and makes the call under its
journal. Which state a finished speculation is in is decided here (``finished_speculation``), not by the use
case that ran it.

Words that hold caller data (an entity the policy does not keep: ``[CARD_1]``, or a number a
partial is still reading) are not speculated on: the speculation is recorded abandoned at once,
``why`` ``caller_data``, with no work, and the turn handler does that turn itself (its own
redaction, its vault, its tools under its journal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from chalicelib.domain.model_replies import STOPPED_AT_SIDE_EFFECT, ModelRun
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.turn_outcome import charged
from chalicelib.domain.usage import Usage

_NOT_WORDS = re.compile(r"[^a-z0-9' ]+")
CALLER_DATA = "caller_data"  # ``why`` of a speculation not started: the words held caller data


def normalized_transcript(text: str) -> str:
    """Lower case, no punctuation, single spaces: Lex's final and Transcribe's partial of the
    same words compare equal."""
    return " ".join(_NOT_WORDS.sub(" ", text.lower()).split())


class SpeculationState(StrEnum):
    PENDING = "pending"  # the work is being done (the turn handler may wait for it)
    READY = "ready"  # ``work`` holds the model's answer
    RESUMABLE = "resumable"  # stopped where the answer asked for a side effect, before any tool ran
    ABANDONED = "abandoned"  # no answer to offer: the models failed, a tool was refused or held


@dataclass(frozen=True)
class Speculation:
    contact_id: str
    seq: int  # the turn it answers: the session's ``last_seq + 1`` when it started
    transcript: str  # normalized
    state: SpeculationState
    tier: int  # the tier the router picked for it
    started_at_ms: int
    expected_ms: float = 0.0  # how long the work should take (the tier's prior)
    work: ModelRun | None = None  # what the models did (the stored field name)
    usage: tuple[Usage, ...] = ()  # what it cost, used or wasted
    why: str = ""  # why it stopped short of an answer


def speculation_refusal(session: Session) -> str | None:
    """Why no speculation may start on this session (None: it may); a call's first turn
    speculates on a new session."""
    if session.closed is not None or session.handover is not None:
        return "call_not_with_the_bot"
    if session.pending_tools:
        return "pending_tools"  # picking them up is a side effect's business: the live turn's
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


def usable(speculation: Speculation | None, seq: int, utterance: str, tier: int) -> bool:
    """True when ``speculation`` answers this turn: same turn, same words, same tier, ready."""
    return _made_for(speculation, seq, utterance, tier, SpeculationState.READY)


def resumable(speculation: Speculation | None, seq: int, utterance: str, tier: int) -> bool:
    """True when ``speculation`` stopped at a side effect for this turn's words before any tool
    ran: the live turn goes on from its model answer instead of asking the model again."""
    return _made_for(speculation, seq, utterance, tier, SpeculationState.RESUMABLE)


def _made_for(speculation: Speculation | None, seq: int, utterance: str, tier: int, state: SpeculationState) -> bool:
    return (
        speculation is not None
        and speculation.state is state
        and speculation.work is not None
        and (speculation.seq, speculation.tier) == (seq, tier)
        and speculation.transcript == normalized_transcript(utterance)
    )


def used(speculation: Speculation, turns: dict[int, TurnRecord]) -> bool:
    """True when the stored turn it was made for answered from it."""
    turn = turns.get(speculation.seq)
    return turn is not None and turn.speculated and normalized_transcript(turn.caller) == speculation.transcript


def wasted(speculations: tuple[Speculation, ...], turns: tuple[TurnRecord, ...]) -> tuple[Speculation, ...]:
    """The speculations no turn answered from: their cost is on top of the turns' own."""
    by_seq = {t.seq: t for t in turns}
    return tuple(s for s in speculations if not used(s, by_seq))
