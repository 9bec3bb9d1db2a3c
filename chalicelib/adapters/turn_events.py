"""The turn handler's boundary: the raw event read once into a ``TurnEvent`` (which integration
sent it, what its answer carries back, the caller's turn or why there is none), the answer
rendered in that integration's format, and the safe answer when anything goes wrong.

Whatever arrives is answered (invariant 1): a malformed Connect or Lex event gets the safe
answer in its own format, with the sequence it sent; an event that is not even recognisable
(not an object, or neither integration's shape) gets the safest one, Connect's flat map of
strings with sequence 1: a Lex event always carries ``messageVersion`` and ``sessionState``,
so anything else is most likely the flow's own block.

Every answer carries the end timeout Lex should use while the caller answers it (the shipped
``end_of_turn.json``, ``domain/end_of_turn``): the safe answer too, with Lex's default when even
that file cannot be read (the container refuses to start on it, and still answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.adapters.connect_events import (
    TURN_ATTRIBUTE,
    flow_context,
    is_connect_event,
    parse_connect_turn,
    render_connect_answer,
)
from chalicelib.adapters.data_files import shipped_end_of_turn
from chalicelib.adapters.language_files import shipped_languages
from chalicelib.adapters.lex_events import LexContext, is_lex_event, lex_context, parse_lex_turn, render_lex_answer
from chalicelib.domain.conversation import Action, Reply, TurnRequest
from chalicelib.domain.end_of_turn import LEX_DEFAULT_END_TIMEOUT_MS
from chalicelib.domain.language import Language
from chalicelib.domain.phrases import ENGLISH, fallback_reply
from chalicelib.errors import (
    AppError,
    ConfigurationInvalidError,
    EventMalformedError,
    EventTypeUnknownError,
    UtteranceEmptyError,
    UtteranceTooLongError,
)
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.usecases.handle_turn import TurnResult

# Errors that mean the caller's input (not our system) was the problem.
_INPUT_ERRORS = (EventMalformedError, EventTypeUnknownError, UtteranceEmptyError, UtteranceTooLongError)


class AnswerFormat(StrEnum):
    CONNECT = "connect"  # the flow's Invoke AWS Lambda function block: a STRING_MAP
    LEX = "lex"  # a Lex V2 code hook: a dialog response
    UNRECOGNISED = "unrecognised"  # neither: answered as the flow's block (see the module doc)


@dataclass(frozen=True)
class TurnEvent:
    """The raw event, read once: what the request handler, the renderer and the fallback use.

    ``sequence_sent`` is the turn the flow sent (1 when it sent none, or one that does not
    read): the safe answer echoes it, so no sequence is skipped. ``request`` is None for the
    warm-up and for an event that did not parse (``problem`` says why).
    """

    answer_format: AnswerFormat
    sequence_sent: int = 1
    warmup: bool = False
    lex: LexContext | None = None
    request: TurnRequest | None = None
    problem: Exception | None = None

    def request_within(self, max_utterance_chars: int) -> TurnRequest:
        """The caller's turn, with its words checked.

        Raises:
            EventMalformedError: not an object, or not shaped like either event.
            EventTypeUnknownError: a Connect event of another ``Name``.
            UtteranceEmptyError: no words.
            UtteranceTooLongError: more words than ``max_utterance_chars``.
        """
        if self.request is None:
            raise self.problem or EventMalformedError("the event carries no turn")
        if not self.request.utterance.strip():
            raise UtteranceEmptyError("the turn carried no words")
        if len(self.request.utterance) > max_utterance_chars:
            raise UtteranceTooLongError(
                f"utterance of {len(self.request.utterance)} chars exceeds {max_utterance_chars}"
            )
        return self.request


def read_turn_event(event: object) -> TurnEvent:
    """The event as a ``TurnEvent``; never raises (an unreadable event is one with a problem)."""
    try:
        if not isinstance(event, dict):
            raise EventMalformedError(f"event is not an object ({type(event).__name__})")
        if is_lex_event(event):
            context = lex_context(event)
            request, problem = _parsed(parse_lex_turn, event)
            sent = context.session_attributes.get(TURN_ATTRIBUTE)
            return TurnEvent(AnswerFormat.LEX, _sequence(request, sent), lex=context, request=request, problem=problem)
        if is_connect_event(event):
            flow = flow_context(event)
            if flow.warmup:
                return TurnEvent(AnswerFormat.CONNECT, warmup=True)
            request, problem = _parsed(parse_connect_turn, event)
            return TurnEvent(AnswerFormat.CONNECT, _sequence(request, flow.turn_attribute), request=request,
                             problem=problem)  # fmt: skip
        raise EventMalformedError("event is neither a Connect nor a Lex V2 event")
    except Exception as exc:  # noqa: BLE001 - invariant 1: whatever arrives gets the safest answer
        return TurnEvent(AnswerFormat.UNRECOGNISED, problem=exc)


def render_turn_answer(turn: TurnEvent, result: TurnResult) -> dict[str, Any]:
    """The turn's reply in the format of the integration that sent ``turn``; counts it."""
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
    return _render(turn, reply, result.next_seq, result.language)


def render_fallback_answer(turn: TurnEvent, error: Exception) -> dict[str, Any]:
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
    # The flow stores the turn we return: echo the one it sent, so no sequence is skipped.
    language = _event_language(turn)
    says = language.phrases if language is not None else ENGLISH
    reply = fallback_reply(name, input_problem=input_problem, phrases=says)
    return _render(turn, reply, turn.sequence_sent, language)


def _event_language(turn: TurnEvent) -> Language | None:
    """The language the event says (the flow's attribute, Connect's or Lex's): the safe answer's.
    The shipped default when it says none or one not spoken; None when even the shipped
    languages cannot be read (the container refused to start on them: answer in English)."""
    try:
        languages = shipped_languages()
    except ConfigurationInvalidError:
        return None
    return languages.get(turn.request.language if turn.request is not None else None)


def _render(turn: TurnEvent, reply: Reply, next_seq: int, language: Language | None) -> dict[str, Any]:
    end_timeout_ms = _end_timeout_ms(turn, reply, language)
    if turn.lex is not None:
        return render_lex_answer(reply, next_seq, turn.lex, end_timeout_ms=end_timeout_ms, language=language)
    return render_connect_answer(reply, next_seq, end_timeout_ms=end_timeout_ms, language=language)


def _end_timeout_ms(turn: TurnEvent, reply: Reply, language: Language | None) -> int:
    """Lex's end timeout while the caller answers ``reply``, in the reply's language."""
    try:
        policy = shipped_end_of_turn()
    except ConfigurationInvalidError:
        return LEX_DEFAULT_END_TIMEOUT_MS  # the container refused to start on it: answer all the same
    if language is not None:
        return policy.end_timeout_ms(reply, language.locale)
    return policy.end_timeout_ms(reply, turn.request.language if turn.request is not None else None)


def _parsed(
    parse: Callable[[dict[str, Any]], TurnRequest], event: dict[str, Any]
) -> tuple[TurnRequest | None, Exception | None]:
    try:
        return parse(event), None
    except Exception as exc:  # noqa: BLE001 - kept for the answer: its format is known by now
        return None, exc


def _sequence(request: TurnRequest | None, sent: str | None) -> int:
    if request is not None:
        return request.seq
    return int(sent) if sent is not None and sent.isdigit() and int(sent) > 0 else 1
