"""Amazon Lex V2 code hook events in, Lex V2 dialog responses out.

When Connect hands the call to a Lex V2 bot, Lex calls the code hook with the transcript of
each caller utterance. AWS does not document that the Lex session id is the contact id, so the
contact flow passes ``$.ContactId`` explicitly as the session attribute ``contact_id`` (the Get
customer input block's Lex session attributes); ``sessionId`` is used only when it is absent.
The turn sequence travels in the session attribute ``turn``, which we set on every answer.
Unknown fields and enum values (a new ``inputMode`` or ``invocationSource``) are tolerated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.adapters.connect_events import TURN_ATTRIBUTE, parse_sequence
from chalicelib.adapters.validation import error_locations
from chalicelib.domain.conversation import Action, Reply, Source, TurnRequest
from chalicelib.domain.ssml import render_ssml
from chalicelib.errors import EventMalformedError, ResponseTooLargeError

CONTACT_ID_ATTRIBUTE = "contact_id"
# Lex V2 accepts a message content of 1 to 1,024 characters (runtime API, Message).
MAX_MESSAGE_CHARS = 1024


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LexIntent(_Lenient):
    name: str | None = None
    state: str | None = None
    confirmationState: str | None = None


class LexSessionState(_Lenient):
    sessionAttributes: dict[str, str] = Field(default_factory=dict)
    intent: LexIntent | None = None
    originatingRequestId: str | None = None

    @field_validator("sessionAttributes", mode="before")
    @classmethod
    def _null_attributes(cls, value: object) -> object:
        return {} if value is None else value


class LexInterpretation(_Lenient):
    intent: LexIntent | None = None


class LexBot(_Lenient):
    name: str | None = None
    localeId: str | None = None


class LexCodeHookEvent(_Lenient):
    messageVersion: str
    sessionId: str = Field(min_length=1)
    inputTranscript: str | None = None
    invocationSource: str | None = None
    inputMode: str | None = None
    bot: LexBot | None = None
    interpretations: list[LexInterpretation] = Field(default_factory=list)
    sessionState: LexSessionState = Field(default_factory=LexSessionState)

    @field_validator("interpretations", mode="before")
    @classmethod
    def _null_interpretations(cls, value: object) -> object:
        return [] if value is None else value


def is_lex_event(event: object) -> bool:
    return isinstance(event, dict) and "messageVersion" in event and "sessionState" in event


def parse_lex_turn(event: dict[str, Any]) -> TurnRequest:
    """The caller's turn in a Lex V2 code hook event.

    Raises:
        EventMalformedError: required fields are missing or of the wrong type.
    """
    try:
        parsed = LexCodeHookEvent.model_validate(event)
    except ValidationError as exc:
        raise EventMalformedError(f"Lex V2 event invalid at {error_locations(exc)}") from exc
    attributes = parsed.sessionState.sessionAttributes
    return TurnRequest(
        contact_id=attributes.get(CONTACT_ID_ATTRIBUTE) or parsed.sessionId,
        seq=parse_sequence(attributes.get(TURN_ATTRIBUTE)),
        utterance=parsed.inputTranscript or "",
        source=Source.LEX,
        channel="VOICE" if (parsed.inputMode or "Speech") in ("Speech", "DTMF") else "CHAT",
        language=parsed.bot.localeId if parsed.bot else None,
    )


def render_lex_answer(
    reply: Reply, next_seq: int, session_attributes: dict[str, str], intent_name: str | None
) -> dict[str, Any]:
    """A Lex V2 response: keep listening (``ElicitIntent``) or finish (``Close``).

    ``action`` and ``turn`` ride in the session attributes, so the Connect flow after the Lex
    block can branch on ``$.Lex.SessionAttributes.action``.
    """
    attributes = {**session_attributes, "action": reply.action.value, TURN_ATTRIBUTE: str(next_seq),
                  "intent": reply.intent, "tier": str(reply.tier)}  # fmt: skip
    if reply.queue and reply.action is Action.HANDOVER:
        attributes["queue"] = reply.queue
    state: dict[str, Any] = {"sessionAttributes": attributes}
    if reply.action is Action.SPEAK:
        state["dialogAction"] = {"type": "ElicitIntent"}
    else:
        state["dialogAction"] = {"type": "Close"}
        state["intent"] = {"name": intent_name or "FallbackIntent", "state": "Fulfilled"}
    content = render_ssml(reply.speech)
    if len(content) > MAX_MESSAGE_CHARS:
        raise ResponseTooLargeError(f"Lex message of {len(content)} chars exceeds {MAX_MESSAGE_CHARS}")
    return {"sessionState": state, "messages": [{"contentType": "SSML", "content": content}]}


def lex_context(event: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The session attributes and intent name to carry into the answer, read leniently (also
    from events that failed to parse, for the fallback answer)."""
    state = event.get("sessionState") if isinstance(event.get("sessionState"), dict) else {}
    raw_attributes = state.get("sessionAttributes") if isinstance(state.get("sessionAttributes"), dict) else {}
    attributes = {k: v for k, v in raw_attributes.items() if isinstance(k, str) and isinstance(v, str)}
    intent = state.get("intent") if isinstance(state.get("intent"), dict) else {}
    name = intent.get("name") if isinstance(intent.get("name"), str) else None
    return attributes, name
