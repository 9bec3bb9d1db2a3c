"""The turn handler's boundary: which integration sent the event, parse it, render the answer
in the same integration's format, and the safe answer when anything goes wrong."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.connect_events import (
    TURN_ATTRIBUTE,
    is_connect_event,
    parse_connect_turn,
    render_connect_answer,
)
from chalicelib.adapters.lex_events import is_lex_event, lex_context, parse_lex_turn, render_lex_answer
from chalicelib.domain.conversation import Action, Reply, TurnRequest
from chalicelib.domain.dialogue import fallback_reply
from chalicelib.errors import (
    AppError,
    EventMalformedError,
    EventTypeUnknownError,
    UtteranceEmptyError,
    UtteranceTooLongError,
)
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.usecases.handle_turn import TurnResult

# Errors that mean the caller's input (not our system) was the problem.
_INPUT_ERRORS = (EventMalformedError, EventTypeUnknownError, UtteranceEmptyError, UtteranceTooLongError)


def is_warmup(event: object) -> bool:
    """The contact flow's warm-up invocation at the start of a call (``warmup = "true"``)."""
    if not isinstance(event, dict):
        return False
    details = event.get("Details")
    parameters = details.get("Parameters") if isinstance(details, dict) else None
    return isinstance(parameters, dict) and parameters.get("warmup") == "true"


def parse_turn_event(event: object, max_utterance_chars: int) -> TurnRequest:
    """The caller's turn from a Connect or Lex V2 event, with its words checked.

    Raises:
        EventMalformedError: not an object, or not shaped like either event.
        EventTypeUnknownError: a Connect event of another ``Name``.
        UtteranceEmptyError: no words.
        UtteranceTooLongError: more words than ``max_utterance_chars``.
    """
    if is_lex_event(event):
        request = parse_lex_turn(event)  # type: ignore[arg-type]
    elif is_connect_event(event):
        request = parse_connect_turn(event)  # type: ignore[arg-type]
    else:
        raise EventMalformedError(f"event is neither a Connect nor a Lex V2 event ({type(event).__name__})")
    if not request.utterance.strip():
        raise UtteranceEmptyError("the turn carried no words")
    if len(request.utterance) > max_utterance_chars:
        raise UtteranceTooLongError(f"utterance of {len(request.utterance)} chars exceeds {max_utterance_chars}")
    return request


def render_turn_answer(event: object, result: TurnResult) -> dict[str, Any]:
    """The turn's reply in the format of the integration that sent ``event``; counts it."""
    reply = result.reply
    metrics.add_metric(name="DuplicateTurns" if result.duplicate else "TurnsHandled", unit=MetricUnit.Count, value=1)
    if not result.duplicate:
        metrics.add_metric(name=f"TurnsTier{reply.tier}", unit=MetricUnit.Count, value=1)
        degraded = any(r.startswith(("degraded:", "fallback:")) for r in reply.reasons)
        metrics.add_metric(name="DegradedTurns", unit=MetricUnit.Count, value=int(degraded))
        metrics.add_metric(name="Handovers", unit=MetricUnit.Count, value=int(reply.action is Action.HANDOVER))
    logger.info(
        "turn answered",
        extra={"action": reply.action.value, "intent": reply.intent, "tier": reply.tier, "duplicate": result.duplicate,
               "attempts": result.attempts, "reasons": list(reply.reasons)},
    )  # fmt: skip
    return _render(event, reply, result.next_seq)


def _render(event: object, reply: Reply, next_seq: int) -> dict[str, Any]:
    if is_lex_event(event):
        attributes, intent_name = lex_context(event)  # type: ignore[arg-type]
        return render_lex_answer(reply, next_seq, attributes, intent_name)
    return render_connect_answer(reply, next_seq)


def render_fallback_answer(event: object, error: Exception) -> dict[str, Any]:
    """The safe answer when the turn failed: ask again and keep the sequence where it was.

    Logs the error by name (never the caller's words) and counts it.
    """
    input_problem = isinstance(error, _INPUT_ERRORS)
    name = type(error).__name__
    if isinstance(error, AppError):
        logger.warning("turn answered with fallback", extra={"error": name, "detail": str(error)})
    else:
        logger.exception("turn failed unexpectedly; answered with fallback", extra={"error": name})
    metrics.add_metric(name="BadInput" if input_problem else "TurnFailures", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="error", value=name)
    reply = fallback_reply(name, input_problem=input_problem)
    # The flow stores the turn we return: echo the one it sent, so no sequence is skipped.
    return _render(event, reply, _sequence_sent(event))


def _sequence_sent(event: object) -> int:
    attributes: object = None
    if is_lex_event(event):
        attributes, _ = lex_context(event)  # type: ignore[arg-type]
    elif isinstance(event, dict):
        details = event.get("Details")
        data = details.get("ContactData") if isinstance(details, dict) else None
        attributes = data.get("Attributes") if isinstance(data, dict) else None
    value = attributes.get(TURN_ATTRIBUTE) if isinstance(attributes, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() and int(value) > 0 else 1
