"""Amazon Lex V2 code hook events in, Lex V2 dialog responses out.

When Connect hands the call to a Lex V2 bot, Lex calls the code hook with the transcript of
each caller utterance. AWS does not document that the Lex session id is the contact id, so the
contact flow passes ``$.ContactId`` explicitly as the session attribute ``contact_id`` (the Get
customer input block's Lex session attributes); ``sessionId`` is used only when it is absent.
The turn sequence travels in the session attribute ``turn``, which we set on every answer, and so
does Lex's end timeout while the caller answers the reply (``x-amz-lex:audio:end-timeout-ms:*:*``,
``domain/end_of_turn``): the code hook's attributes are the session's from then on, so the
timeout holds for the next utterance in the same Get customer input block.
Unknown fields and enum values (a new ``inputMode`` or ``invocationSource``) are tolerated.

The call's language: the session attribute ``switchboard_language`` (the flow's, or ours from the
previous answer) wins over the bot's ``localeId`` (``es_US``). Every answer sets
``switchboard_language`` (``es-US``) and ``switchboard_voice`` (the Polly voice id) to the
language the reply is in, and marks its SSML ``<lang xml:lang="es-US">``. A Lex session cannot
change its locale: after a change of language mid-call the bot keeps listening in its own
(transcription is the locale's) until the flow starts a new Get customer input block with the
bot's other locale, which it reads from ``$.Lex.SessionAttributes.switchboard_language``.

The answer's message is SSML for a voice caller and plain text for a text channel: the request
attribute ``x-amz-lex:accept-content-types`` (``PlainText``, ``SSML``, comma-separated) says
what the client takes; without it, ``inputMode: Text`` or a messaging platform's
``x-amz-lex:channel-type`` (Slack, Twilio-SMS, ...) means text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, ValidationError

from chalicelib.adapters.connect_events import LANGUAGE_ATTRIBUTE, TURN_ATTRIBUTE, parse_sequence
from chalicelib.adapters.validation import NULL_AS_EMPTY, NULL_AS_NO_ITEMS, Lenient, as_map, error_locations
from chalicelib.domain.conversation import Action, Reply, Source, TurnRequest
from chalicelib.domain.language import Language, first_locale
from chalicelib.domain.phrases import ENGLISH, say_tokens
from chalicelib.domain.ssml import render_ssml
from chalicelib.errors import EventMalformedError, ResponseTooLargeError

CONTACT_ID_ATTRIBUTE = "contact_id"
ACCEPT_CONTENT_TYPES = "x-amz-lex:accept-content-types"
CHANNEL_TYPE = "x-amz-lex:channel-type"
# While no intent is active (every turn lands in the fallback intent) only the *:* key applies.
END_TIMEOUT_ATTRIBUTE = "x-amz-lex:audio:end-timeout-ms:*:*"
VOICE_ATTRIBUTE = "switchboard_voice"
# Lex V2 accepts a message content of 1 to 1,024 characters (runtime API, Message).
MAX_MESSAGE_CHARS = 1024
_VOICE_INPUT_MODES = ("speech", "dtmf")


class LexContentType(StrEnum):
    """A Lex V2 message's ``contentType``."""

    SSML = "SSML"
    PLAIN_TEXT = "PlainText"


class LexIntent(Lenient):
    name: str | None = None
    state: str | None = None
    confirmationState: str | None = None


class LexSessionState(Lenient):
    sessionAttributes: Annotated[dict[str, str], NULL_AS_EMPTY] = Field(default_factory=dict)
    intent: LexIntent | None = None
    originatingRequestId: str | None = None


class LexInterpretation(Lenient):
    intent: LexIntent | None = None


class LexBot(Lenient):
    name: str | None = None
    localeId: str | None = None


class LexCodeHookEvent(Lenient):
    messageVersion: str
    sessionId: str = Field(min_length=1)
    inputTranscript: str | None = None
    invocationSource: str | None = None
    inputMode: str | None = None
    bot: LexBot | None = None
    interpretations: Annotated[list[LexInterpretation], NULL_AS_NO_ITEMS] = Field(default_factory=list)
    requestAttributes: Annotated[dict[str, object], NULL_AS_EMPTY] = Field(default_factory=dict)
    sessionState: LexSessionState = Field(default_factory=LexSessionState)


@dataclass(frozen=True)
class LexContext:
    """What a Lex answer carries back: the session attributes, the intent, the content type."""

    session_attributes: dict[str, str] = field(default_factory=dict)
    intent_name: str | None = None
    content_type: LexContentType = LexContentType.SSML

    @property
    def text_channel(self) -> bool:
        return self.content_type is LexContentType.PLAIN_TEXT


def is_lex_event(event: dict[str, Any]) -> bool:
    return "messageVersion" in event and "sessionState" in event


def lex_context(event: dict[str, Any]) -> LexContext:
    """The context to answer in, read leniently: also from an event that fails to parse, so
    that its safe answer keeps the caller's attributes and format."""
    state = as_map(event.get("sessionState"))
    intent = as_map(state.get("intent")).get("name")
    return LexContext(
        session_attributes=_strings(state.get("sessionAttributes")),
        intent_name=intent if isinstance(intent, str) else None,
        content_type=answer_content_type(event.get("inputMode"), _strings(event.get("requestAttributes"))),
    )


def answer_content_type(input_mode: object, request_attributes: dict[str, str]) -> LexContentType:
    """SSML for a voice caller, plain text for a text channel; what the client accepts wins."""
    text_channel = _is_text_mode(input_mode) or bool(request_attributes.get(CHANNEL_TYPE))
    accepted = {t.strip().lower() for t in request_attributes.get(ACCEPT_CONTENT_TYPES, "").split(",") if t.strip()}
    if not accepted:
        return LexContentType.PLAIN_TEXT if text_channel else LexContentType.SSML
    if "ssml" in accepted and not (text_channel and "plaintext" in accepted):
        return LexContentType.SSML
    return LexContentType.PLAIN_TEXT  # what every client can show


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
    text = _is_text_mode(parsed.inputMode) or bool(parsed.requestAttributes.get(CHANNEL_TYPE))
    voice = not text and (parsed.inputMode or "Speech").strip().lower() in _VOICE_INPUT_MODES
    return TurnRequest(
        contact_id=attributes.get(CONTACT_ID_ATTRIBUTE) or parsed.sessionId,
        seq=parse_sequence(attributes.get(TURN_ATTRIBUTE)),
        utterance=parsed.inputTranscript or "",
        source=Source.LEX,
        channel="VOICE" if voice else "CHAT",
        language=first_locale(attributes.get(LANGUAGE_ATTRIBUTE), parsed.bot.localeId if parsed.bot else None),
    )


def render_lex_answer(
    reply: Reply, next_seq: int, context: LexContext, *, end_timeout_ms: int, language: Language | None = None
) -> dict[str, Any]:
    """A Lex V2 response: keep listening (``ElicitIntent``) or finish (``Close``), its message
    in the context's content type and ``language`` (None: unmarked, no language attributes).

    ``action`` and ``turn`` ride in the session attributes, so the Connect flow after the Lex
    block can branch on ``$.Lex.SessionAttributes.action``; so does ``end_timeout_ms``, the
    silence Lex waits for while the caller answers ``reply`` (it replaces the flow's).
    """
    attributes = {**context.session_attributes, "action": reply.action.value, TURN_ATTRIBUTE: str(next_seq),
                  "intent": reply.intent, "tier": str(reply.tier),
                  END_TIMEOUT_ATTRIBUTE: str(end_timeout_ms)}  # fmt: skip
    if reply.queue and reply.action is Action.HANDOVER:
        attributes["queue"] = reply.queue
    if language is not None:
        attributes |= {LANGUAGE_ATTRIBUTE: language.locale, VOICE_ATTRIBUTE: language.voice}
    state: dict[str, Any] = {"sessionAttributes": attributes}
    if reply.action is Action.SPEAK:
        state["dialogAction"] = {"type": "ElicitIntent"}
    else:
        state["dialogAction"] = {"type": "Close"}
        state["intent"] = {"name": context.intent_name or "FallbackIntent", "state": "Fulfilled"}
    says = language.phrases if language is not None else ENGLISH
    content = say_tokens(reply.text, says) if context.text_channel else render_ssml(reply.speech, language)
    if len(content) > MAX_MESSAGE_CHARS:
        raise ResponseTooLargeError(f"Lex message of {len(content)} chars exceeds {MAX_MESSAGE_CHARS}")
    return {"sessionState": state, "messages": [{"contentType": context.content_type.value, "content": content}]}


def _is_text_mode(input_mode: object) -> bool:
    return isinstance(input_mode, str) and input_mode.strip().lower() == "text"


def _strings(value: object) -> dict[str, str]:
    return {k: v for k, v in as_map(value).items() if isinstance(k, str) and isinstance(v, str)}
