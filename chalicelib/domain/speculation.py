"""Speculative turns: the model's work done on the caller's stable partial transcript, before Lex
has finalized the utterance, kept for the turn handler to answer from.

A speculation is keyed by contact, the turn it would be (the session's next sequence) and the
normalized transcript. The turn handler uses it only when Lex's final utterance normalizes to
the same text, the router picks the same tier, and no turn was committed since it was made;
otherwise the handler runs normally and the speculation is wasted (its cost stays in the ledger).
A speculation never makes a side effect: when the model asks for one, it is abandoned, and the
live turn makes the call under its journal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.model_replies import ModelRun
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.usage import Usage

_NOT_WORDS = re.compile(r"[^a-z0-9' ]+")


def normalized_transcript(text: str) -> str:
    """Lower case, no punctuation, single spaces: Lex's final and Transcribe's partial of the
    same words compare equal."""
    return " ".join(_NOT_WORDS.sub(" ", text.lower()).split())


class SpeculationState(StrEnum):
    PENDING = "pending"  # the work is being done (the turn handler may wait for it)
    READY = "ready"  # ``work`` holds the model's answer
    ABANDONED = "abandoned"  # no answer to offer: a side effect was asked for, or the models failed


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
    why: str = ""  # why it was abandoned


def speculation_refusal(session: Session | None) -> str | None:
    """Why no speculation may start on this session (None: it may)."""
    if session is None:
        return "no_session"
    if session.closed is not None or session.handover is not None:
        return "call_not_with_the_bot"
    if session.pending_tools:
        return "pending_tools"  # picking them up is a side effect's business: the live turn's
    return None


def usable(speculation: Speculation | None, seq: int, utterance: str, tier: int) -> bool:
    """True when ``speculation`` answers this turn: same turn, same words, same tier, ready."""
    return (
        speculation is not None
        and speculation.state is SpeculationState.READY
        and speculation.work is not None
        and speculation.seq == seq
        and speculation.tier == tier
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


def resumable(speculation: Speculation | None, seq: int, utterance: str, tier: int) -> bool:
    """True when ``speculation`` stopped at a side effect for this turn's words before any tool
    ran: the live turn goes on from its model answer instead of asking the model again."""
    return (
        speculation is not None
        and speculation.state is SpeculationState.ABANDONED
        and speculation.why == "side_effect"
        and speculation.work is not None
        and not speculation.work.tools
        and bool(speculation.work.attempts)
        and (speculation.seq, speculation.tier) == (seq, tier)
        and speculation.transcript == normalized_transcript(utterance)
    )
