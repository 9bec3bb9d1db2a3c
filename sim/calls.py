"""Recorded calls (``events/calls/*.json``) and the caller's script they make.

A recorded call is what one caller said, turn by turn, with the time each turn arrived and how
it was delivered: Connect's retries, and its ``format`` — the deployment's ``TurnPath``
(``connect``: the flow's Invoke Lambda block takes each turn, ``InvokeLambda``; ``lex``: the
Lex bot's code hook does, ``LexCodeHook``). The contact flow itself (``sim.connect_flow``)
turns each utterance into the event Connect or Lex sends.

A turn's words may hold hesitations (``…`` or ``...`` between two words, ``sim.end_of_turn``):
``CallTurn.caller`` is the words without them, as Lex hears them — what every delivery, script
and report uses — and ``CallTurn.spoken`` the words with them, as the caller says them (what
``sim.speech_audio.synthesize_turn`` speaks, with ``pause_ms`` of silence at each).

A call has a ``language`` (a BCP-47 tag, ``en-US`` unless the file says otherwise): the language
the contact starts in, as Connect knows it (``ContactData.LanguageCode``, set by the flow or the
number the caller dialled). The simulated contact carries it, so Connect's events have it as
``LanguageCode`` and Lex's as ``bot.localeId`` (``es-US`` -> ``es_US``, the locale of the bot the
flow reaches). A caller who switches language mid-call (call ``es-06``: "can we do this in
spanish?") does not change it: Connect's ``LanguageCode`` changes only when the flow sets it
(a Set voice block), so the events keep the language the call started in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.connect_flow import Contact, Listen, Utterance, contact_flow_event
from sim.end_of_turn import HESITATION_MS, check_pause_marks, has_pauses, without_pauses

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LANGUAGE = "en-US"
# A BCP-47 tag as Connect, Transcribe and Polly name a language: a language subtag (2 or 3
# letters, lower case) and a region (2 letters upper case, or 3 digits), e.g. ``en-US``, ``es-US``,
# ``es-419``. Lex V2 names the same locale with an underscore (``es_US``, ``sim.lex_bot.lex_locale``).
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}-(?:[A-Z]{2}|\d{3})")


class RecordedCallInvalidError(ValueError):
    """A recorded call file that is not valid JSON or does not fit the schema (the message
    names the file and each field at fault)."""


class ModelResponse(BaseModel):
    """What a model answered to this turn in the recorded call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    fault: str | None = None  # a fault the scripted endpoint injects on this turn
    by_tier: dict[str, ModelResponse] = Field(default_factory=dict, description="what another tier answered")
    after_tools: list[ModelResponse] = Field(default_factory=list, description="answers after each round of tools")


class CallTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at_ms: int = Field(ge=0, description="when the caller's words reached us, from the call's start")
    caller: str = Field(description="the caller's words as Lex hears them (the file's, without pause marks)")
    connect_retries: int = Field(default=0, ge=0, le=3, description="extra deliveries of the same event")
    model: ModelResponse | None = None
    sentiment: Literal["POSITIVE", "NEUTRAL", "NEGATIVE", "MIXED"] = "NEUTRAL"  # what Contact Lens heard
    barge_in_after_ms: int | None = Field(default=None, ge=0, description="caller spoke this far into the last reply")
    pause_ms: int = Field(default=HESITATION_MS, ge=100, le=5000, description="the silence of each hesitation")
    _spoken: str = PrivateAttr(default="")  # the file's words, pause marks kept

    @model_validator(mode="wrap")
    @classmethod
    def _hesitations(cls, data: Any, handler: ModelWrapValidatorHandler[CallTurn]) -> CallTurn:
        """Take the pause marks out of the caller's words, and keep them for ``spoken``."""
        said = data.get("caller") if isinstance(data, dict) else None
        if not isinstance(said, str) or not has_pauses(said):
            return handler(data)
        check_pause_marks(said)  # a ValueError: the file's error names the turn
        turn = handler({**data, "caller": without_pauses(said)})
        turn._spoken = said
        return turn

    @property
    def spoken(self) -> str:
        """The caller's words with their hesitations (``…``), as they say them; the words alone
        when they have none, or when ``caller`` was changed since (``model_copy``)."""
        return self._spoken if self._spoken and without_pauses(self._spoken) == self.caller else self.caller


class SensitiveValue(BaseModel):
    """One piece of caller data the call holds, normalised as the redactor values it (digits,
    "MM/YY", "+1..." for a phone, "YYYY-MM-DD" for a date of birth, an e-mail lower-cased):
    what ``sim leaks`` looks for in every sink."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["card", "security_code", "expiry", "ssn", "routing", "bank_account", "dob", "phone", "email"]
    value: str = Field(min_length=3)


class RecordedCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    call: str
    description: str
    format: Literal["connect", "lex"] = "connect"
    contact_id: str
    caller_number: str = "+15555550100"
    language: str = Field(
        default=DEFAULT_LANGUAGE,
        description="the BCP-47 language the contact starts in (Connect's LanguageCode); kept if the caller switches",
    )
    expect_outcome: Literal["completed", "handover", "abandoned"] | None = None
    turns: list[CallTurn] = Field(min_length=1)
    # After a handover: an agent takes the call (the workflow is resumed), or none does in time
    # (the wait times out and a callback is booked).
    handover_agent_answers: bool = True
    # The caller data the caller reads out (sim leaks scans every sink for it).
    sensitive: list[SensitiveValue] = Field(default_factory=list)

    @field_validator("language")
    @classmethod
    def _bcp47(cls, value: str) -> str:
        if not _LANGUAGE_TAG.fullmatch(value):
            raise ValueError(f"{value!r} is no BCP-47 language tag as Connect names one (like en-US or es-US)")
        return value


def recorded_contact(call: RecordedCall, contact_id: str | None = None) -> Contact:
    """The contact Connect has for ``call`` (its id, or ``contact_id`` for a run of its own):
    the caller's number and the language the call starts in (``LanguageCode``; kept for the
    whole call, a caller who switches language does not change it)."""
    return Contact(contact_id or call.contact_id, call.caller_number, language=call.language)


def load_call(path: Path) -> RecordedCall:
    """The recorded call in ``path``.

    Raises:
        RecordedCallInvalidError: the file is not JSON or does not fit ``RecordedCall``; the
            message names the file and the fields (a ``language`` that is no BCP-47 tag among them).
    """
    try:
        return RecordedCall.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise RecordedCallInvalidError(f"{path}: {exc}") from exc


def model_scripts(calls: list[RecordedCall]) -> dict[str, dict[str, Any]]:
    """The caller's words -> what the model answered, from every call (for the scripted model
    endpoint). The same words scripted twice must have the same answer."""
    scripts: dict[str, dict[str, Any]] = {}
    for call in calls:
        for turn in call.turns:
            if turn.model is None:
                continue
            key = " ".join(turn.caller.lower().split())
            script = turn.model.model_dump(exclude_defaults=True)
            if scripts.get(key, script) != script:
                raise ValueError(f"{call.call}: {turn.caller!r} is scripted differently in another call")
            scripts[key] = script
    return scripts


def call_files(paths: list[str]) -> list[Path]:
    """Expand files and folders into the call files they hold, sorted."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


class RecordedCaller:
    """A recorded call as the caller's script for the contact flow (``sim.connect_flow.Caller``):
    its turns in order, each with Connect's lost answers (``connect_retries``) and its time; then
    the caller hangs up."""

    def __init__(self, call: RecordedCall, retries: bool = True) -> None:
        self._turns = iter(call.turns)
        self._retries = retries  # False: every answer reaches Connect (a latency measurement)

    def speak(self, listen: Listen) -> Utterance | None:
        turn = next(self._turns, None)
        if turn is None:
            return None
        lost = turn.connect_retries if self._retries else 0
        return Utterance(turn.caller, lost_answers=lost, at_ms=turn.at_ms, tag=turn)


def connect_event(
    contact_id: str,
    utterance: str,
    turn_attribute: str | None,
    caller_number: str = "+15555550100",
    language: str = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The ContactFlowEvent the flow's turn block sends for one turn (``sim.connect_flow``'s
    builder, for tests and benchmarks that call the handler directly), for a contact in
    ``language`` (``ContactData.LanguageCode``)."""
    attributes = {} if turn_attribute is None else {"turn": turn_attribute}
    contact = Contact(contact_id, caller_number, language=language)
    return contact_flow_event(contact, {"utterance": utterance}, attributes)


def warmup_event(contact_id: str) -> dict[str, Any]:
    """The flow's warm-up invocation at the start of the call (before the greeting)."""
    return contact_flow_event(Contact(contact_id), {"warmup": "true"})
