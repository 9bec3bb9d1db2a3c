"""How a call ended, whether it counts for the business KPI (handled with a neutral-to-positive
outcome), and whether the caller's tokenized values may be forgotten when it closes."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.handover import HandoverStatus
from chalicelib.domain.session import ContactClosure, Session, SessionStatus

CONTAINED, HANDOVER, ABANDONED, FAILED = "contained", "handover", "abandoned", "failed"
SURVEY_ATTRIBUTE = "survey_score"  # 1..5, set by a post-call survey flow
SURVEY_POSITIVE_FROM = 3


@dataclass(frozen=True)
class ContactRecordFacts:
    """What the contact record says (the parts the outcome needs)."""

    contact_id: str
    last_update_ms: int  # epoch milliseconds (the adapter parses the record's timestamps)
    initiated_ms: int
    disconnected_ms: int | None
    disconnect_reason: str
    agent_connected: bool
    queued: bool
    attributes: tuple[tuple[str, str], ...] = ()
    channel: str = "UNKNOWN"  # VOICE | CHAT | TASK | EMAIL | UNKNOWN
    initiation_method: str = "UNKNOWN"  # INBOUND | OUTBOUND | TRANSFER | API | ...


def is_newer(facts: ContactRecordFacts, closure: ContactClosure | None) -> bool:
    """A record is applied only if it is newer than the one already applied (at least once
    delivery, updated copies: the newest LastUpdateTimestamp wins)."""
    return closure is None or facts.last_update_ms > closure.last_update_ms


def duration_s(facts: ContactRecordFacts) -> float:
    if facts.disconnected_ms is None:
        return 0.0
    return max(0.0, (facts.disconnected_ms - facts.initiated_ms) / 1000)


def outcome(session: Session | None, facts: ContactRecordFacts) -> str:
    """contained (the bot finished the call), handover (a person took it, or a callback was
    booked), abandoned (the caller left, also while queued), failed (our side broke)."""
    if facts.agent_connected:
        return HANDOVER
    if session is None:
        return ABANDONED
    if session.status is SessionStatus.HANDOVER:
        return HANDOVER if _callback_booked(session) else ABANDONED
    if session.status is SessionStatus.ENDED:
        return CONTAINED
    if session.previous_failed or facts.disconnect_reason in ("TELECOM_PROBLEM", "OTHER"):
        return FAILED
    return ABANDONED


def neutral_to_positive(session: Session | None, facts: ContactRecordFacts, ended: str) -> bool:
    """Handled (contained or properly handed over) and the caller not negative at the end; a
    post-call survey score, when there is one, decides instead."""
    survey = dict(facts.attributes).get(SURVEY_ATTRIBUTE, "")
    if survey.isdigit():
        return int(survey) >= SURVEY_POSITIVE_FROM
    if ended not in (CONTAINED, HANDOVER):
        return False
    last = session.caller_sentiments[-1] if session and session.caller_sentiments else "NEUTRAL"
    return last != "NEGATIVE"


def handover_may_call_back(session: Session) -> bool:
    """Whether a handover workflow of the call may still reach its callback step, which reads the
    caller's number from the vault: the call was handed over and the workflow has not ended yet
    (not started its summary, or waiting for an agent) with no callback booked or voicemail
    taken. When it may, the contact's vault is left to its TTL at close.

    Example:
        >>> from dataclasses import replace
        >>> handed = replace(Session.new("c-1", 0), status=SessionStatus.HANDOVER)
        >>> handover_may_call_back(handed), handover_may_call_back(Session.new("c-1", 0))
        (True, False)
    """
    if session.status is not SessionStatus.HANDOVER:
        return False
    held = session.handover
    return held is None or (held.callback is None and held.status in (HandoverStatus.PREPARED, HandoverStatus.WAITING))


def _callback_booked(session: Session) -> bool:
    return any(f.tool == "book_callback" for f in session.tool_facts)
