"""Which turn a delivery is: new, or a redelivery of one already answered.

A rule about sequences, not about storage: Connect retries a failed invocation up to three
times, Lambda may run the same event twice, and the flow may keep an old sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.conversation import Reply, TurnRequest
from chalicelib.domain.session import Session, TurnRecord


class DeliveryKind(StrEnum):
    NEW = "new"  # process as turn ``seq``
    DUPLICATE = "duplicate"  # answered before: return the stored reply
    CHECK_STORED_TURN = "check_stored_turn"  # an older sequence: compare with its stored record


@dataclass(frozen=True)
class Delivery:
    kind: DeliveryKind
    seq: int
    reply: Reply | None = None


def classify_delivery(session: Session | None, request: TurnRequest) -> Delivery:
    """Decide whether ``request`` is a new turn or a redelivery of one already answered.

    A redelivery (Connect's retry, Lambda's retry, a concurrent duplicate) carries the same
    sequence and the same words as the stored turn. A request whose sequence is taken by a
    turn with *other* words is a new turn: the flow kept an old sequence (for example after a
    fallback answer that did not advance it), so it is numbered after the newest stored turn.
    """
    if session is None or session.last_turn is None:
        return Delivery(DeliveryKind.NEW, max(request.seq, 1))
    last = session.last_turn
    if request.seq > last.seq:
        return Delivery(DeliveryKind.NEW, request.seq)
    if request.digest == last.digest:
        return Delivery(DeliveryKind.DUPLICATE, last.seq, last.reply)
    if request.seq < last.seq:
        return Delivery(DeliveryKind.CHECK_STORED_TURN, request.seq)
    return Delivery(DeliveryKind.NEW, last.seq + 1)


def resolve_stored_turn(session: Session, request: TurnRequest, stored: TurnRecord | None) -> Delivery:
    """Finish ``CHECK_STORED_TURN``: a redelivery if the stored turn has the same words."""
    if stored is not None and stored.digest == request.digest:
        return Delivery(DeliveryKind.DUPLICATE, stored.seq, stored.reply)
    return Delivery(DeliveryKind.NEW, session.last_seq + 1)
