"""A contact played through a contact flow (``infra/contact-flow.json``), block by block.

``FlowRun`` runs one contact through a checked flow (``sim.flow_language.ContactFlow``) with each
block's documented parameters, transitions and error branches. It is driven by a ``Caller``: at
every Lex input it asks the caller's script for the next utterance; ``None`` means the caller
hangs up (the contact ends, abandoned). Lambda functions are reached through an injectable
``Invoker`` (``LambdaCall`` -> ``LambdaResult``), so whoever runs the interpreter decides how a
handler runs (in process, in a pool of execution environments, with faults armed, timed); Lex
through ``sim.lex_bot.LexRuntime``. What happened is reported per caller turn (``CallerTurn``: the
deliveries of the turn and the answer used, the prompts the caller then heard) and per contact
(``ContactReport``: the blocks run, the errors taken, the working queue, transfer, disconnect).

Lambda invocations follow Connect's documented behaviour (aws-interfaces.md §1.3): the event is
``ContactFlowEvent`` built on AWS's published sample (``events/connect/
connect-contact-flow-event.admin-guide.json``) with ``Details.ContactData`` from the contact
(``Attributes`` = ``$.Attributes``, ``MediaStreams`` once streaming started) and
``Details.Parameters`` = the block's ``LambdaInvocationAttributes``; a synchronous invocation
that raises is retried up to 3 times within ``InvocationTimeLimitSeconds``; an answer later than
that limit, an error after the retries, or an answer ``ResponseValidation`` refuses takes
``NoMatchingError``; the answer becomes ``$.External``, replaced by the next invocation, and a
``$.External.k`` it does not carry is ``FlowReferenceMissingError``. An utterance's
``lost_answers`` (a recorded call's ``connect_retries``) are answers Connect never got: it
invokes again, as it does after an error. ``ASYNCHRONOUS`` starts the function and goes on
(``$.LambdaInvocation.InvocationId``). The turn of an utterance is delivered by the first Lambda
invoked synchronously after the caller spoke (the flow's, or Lex's code hook).

The contact's language and voice are the contact's as the flow changes them: ``$.LanguageCode``
and every Lambda event's ``LanguageCode`` start as the ``Contact``'s and follow
``UpdateContactData``'s ``LanguageCode``; a Lex block talks to the bot's locale of that language
(``es-US``: ``es_US``; one the bot lacks is ``NoMatchingError``); every prompt is spoken with the
voice Set voice (``UpdateContactTextToSpeechVoice``) chose last (Joanna before any). A Set voice
or a language whose value is invalid — an unknown voice, an engine the voice lacks, a language
not ``xx-XX``, or no value at all (a ``$.External.k`` the last answer does not carry: Connect
resolves it to nothing) — takes ``NoMatchingError`` and changes nothing, which is how the flow
keeps the language when a turn's answer names none.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from sim.flow_language import (
    DEFAULT_VOICE,
    PATH_PATTERN,
    PROMPT_PARAMETERS,
    ContactFlow,
    FlowAction,
    FlowErrorBranchMissingError,
    FlowReferenceMissingError,
    FlowRunawayError,
    Reference,
    language_problem,
    parse_reference,
    single_reference,
    voice_problem,
)
from sim.lex_bot import CODE_HOOK_LIMIT_MS, CodeHookAnswer, LexInteraction, LexRuntime, function_name

ROOT = Path(__file__).resolve().parent.parent
CONNECT_SAMPLE = ROOT / "events" / "connect" / "connect-contact-flow-event.admin-guide.json"
LAMBDA_RETRIES = 3  # Connect retries a failed synchronous invocation up to 3 times
STRING_MAP_MAX_BYTES = 32 * 1024  # the answer "must be less than 32 KB of UTF-8 data"
ATTRIBUTES_MAX_BYTES = 32 * 1024  # all of a contact's attributes together
PROMPT_MAX_CHARS = 6000
MAX_STEPS = 10_000  # blocks one contact may run: a flow that loops without input is a bug

# --- what a run needs from its caller -----------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Who calls, as Connect knows the contact."""

    contact_id: str
    caller_number: str = "+15555550100"
    channel: str = "VOICE"
    language: str = "en-US"
    initiation_method: str = "INBOUND"


@dataclass(frozen=True)
class ConnectInstance:
    """The Amazon Connect instance a flow runs in: its ARN, number and queues."""

    arn: str
    phone_number: str
    queues: Mapping[str, str]  # queue ARN -> name
    at_capacity: frozenset[str] = frozenset()  # queue names whose transfer answers QueueAtCapacity

    def queue(self, value: str) -> tuple[str, str] | None:
        """``(arn, name)`` for a queue ARN or ID of this instance; None for anything else (a name)."""
        for arn, name in self.queues.items():
            if value in (arn, arn.rsplit("/", 1)[-1]):
                return arn, name
        return None


@dataclass(frozen=True)
class MediaSource:
    """Live media of the contact (Kinesis Video Streams): what Start media streaming attaches."""

    stream_arn: str
    start_fragment_number: str
    start_timestamp_ms: int


@dataclass(frozen=True)
class Utterance:
    """What the caller says at one Lex input."""

    text: str
    lost_answers: int = 0  # answers Connect never got (a recorded turn's connect_retries)
    at_ms: float | None = None  # the contact's clock when it was said (Lex's idle session TTL)
    tag: Any = None  # the caller script's own (a recorded turn, a load log entry, a planned turn)


@dataclass(frozen=True)
class Prompt:
    block: str
    kind: str  # SSML | Text | PlainText | PromptId | Media
    content: str
    by: Literal["flow", "lex"] = "flow"
    voice: str = DEFAULT_VOICE[0]  # the Amazon Polly voice it was spoken with (Set voice)


@dataclass(frozen=True)
class Listen:
    """A Lex input asking the caller to speak."""

    block: str
    end_timeout_ms: int  # the silence Lex waits for after the caller's last word
    heard: tuple[Prompt, ...]  # what was played since the caller last spoke
    previous: CallerTurn | None  # the caller's previous turn, as it went


class Caller(Protocol):
    """The caller's script: the next utterance at a Lex input, or None to hang up."""

    def speak(self, listen: Listen) -> Utterance | None: ...


@dataclass(frozen=True)
class LambdaCall:
    """One invocation the flow (or Lex's code hook) makes."""

    function: str  # the handler's name in app.py
    event: Any
    block: str
    synchronous: bool = True
    utterance: Utterance | None = None  # set when this invocation delivers the caller's turn
    attempt: int = 0  # 0, then Connect's retries
    via: Literal["flow", "lex"] = "flow"


@dataclass(frozen=True)
class LambdaResult:
    """What an invocation returned, as Connect or Lex sees it."""

    answer: Any = None
    error: str | None = None  # the error type when the function failed (raised, crashed, throttled)
    duration_ms: float = 0.0
    detail: Any = None  # the invoker's own (usage, timings, an environment's invocation)


Invoker = Callable[[LambdaCall], LambdaResult]
AsyncInvoker = Callable[[LambdaCall], None]


@dataclass
class Delivery:
    block: str
    function: str
    event: Any
    result: LambdaResult | None  # None for an asynchronous invocation
    synchronous: bool = True
    lost: bool = False  # Connect never got this answer (it invoked again)
    invocation_id: str | None = None


@dataclass
class CallerTurn:
    """One utterance and what it led to."""

    utterance: Utterance
    block: str
    end_timeout_ms: int
    deliveries: list[Delivery] = field(default_factory=list)  # the turn's invocations
    answer: Any = None  # the answer used (a STRING_MAP, or the Lex code hook response)
    via: Literal["flow", "lex", ""] = ""
    error: str | None = None  # why the turn took an error branch, if it did
    prompts: list[Prompt] = field(default_factory=list)  # what the caller heard afterwards

    @property
    def event(self) -> Any:
        return self.deliveries[0].event if self.deliveries else None

    @property
    def answered(self) -> list[Any]:
        return [d.result.answer for d in self.deliveries if d.result is not None and d.result.error is None]

    @property
    def consistent(self) -> bool:
        """Every delivery that answered got the same answer."""
        answers = self.answered
        return all(a == answers[0] for a in answers)


@dataclass
class ContactReport:
    contact_id: str
    turns: list[CallerTurn] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    path: list[str] = field(default_factory=list)  # every block run, in order
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (block, ErrorType, why)
    attributes: dict[str, str] = field(default_factory=dict)
    queue: tuple[str, str] | None = None  # the working queue (arn, name)
    transferred: bool = False
    disconnected: bool = False
    ended_by: Literal["caller", "transfer", "disconnect", ""] = ""
    analytics: dict[str, Any] | None = None  # what UpdateContactRecordingAndAnalyticsBehavior set
    media_streaming: bool = False
    language: str = "en-US"  # the contact's language when the contact ended (UpdateContactData)
    voice: tuple[str, str] = DEFAULT_VOICE  # (voice, engine) Set voice chose last

    @property
    def outcome(self) -> Literal["handover", "completed", "abandoned"]:
        """handover: queued for an agent; completed: the flow hung up; abandoned: the caller did."""
        if self.transferred:
            return "handover"
        return "completed" if self.disconnected else "abandoned"

    @property
    def real_time_analytics(self) -> bool:
        """Contact Lens real-time analytics was on: its segments reach the segments stream."""
        return bool(self.analytics and self.analytics["enabled"] and "RealTime" in self.analytics["modes"])

    @property
    def contact_lens_redaction(self) -> dict[str, Any] | None:
        """How Contact Lens redacts its analytics (results, mask, entities); None: it does not."""
        return self.analytics["redaction"] if self.analytics else None


# --- the Lambda event ----------------------------------------------------------------------------


def contact_flow_event(
    contact: Contact,
    parameters: Mapping[str, str],
    attributes: Mapping[str, str] | None = None,
    *,
    instance: ConnectInstance | None = None,
    media: Mapping[str, str | None] | None = None,
    queue: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The ``ContactFlowEvent`` an Invoke AWS Lambda function block sends, on AWS's sample."""
    event = copy.deepcopy(_sample())
    data = event["Details"]["ContactData"]
    data.update({
        "ContactId": contact.contact_id, "InitialContactId": contact.contact_id,
        "PreviousContactId": contact.contact_id, "Channel": contact.channel, "LanguageCode": contact.language,
        "InitiationMethod": contact.initiation_method, "Attributes": dict(attributes or {}),
        "CustomerEndpoint": {"Address": contact.caller_number, "Type": "TELEPHONE_NUMBER"},
        "MediaStreams": {"Customer": {"Audio": dict(media) if media else
                                      {"StreamARN": None, "StartTimestamp": None, "StopTimestamp": None,
                                       "StartFragmentNumber": None}}},
        "Queue": {"ARN": queue[0], "Name": queue[1], "OutboundCallerId": None} if queue else None,
        "References": {}, "CustomerId": None, "Description": None,
    })  # fmt: skip
    if instance is not None:
        data["InstanceARN"] = instance.arn
        data["SystemEndpoint"] = {"Address": instance.phone_number, "Type": "TELEPHONE_NUMBER"}
    event["Details"]["Parameters"] = dict(parameters)
    return event


_samples: list[dict[str, Any]] = []


def _sample() -> dict[str, Any]:
    if not _samples:
        _samples.append(json.loads(CONNECT_SAMPLE.read_text()))
    return _samples[0]


# --- running a contact ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Next:
    pass


@dataclass(frozen=True)
class _Branch:
    error_type: str
    why: str = ""


@dataclass(frozen=True)
class _Condition:
    index: int


@dataclass(frozen=True)
class _Stop:
    reason: Literal["caller", "transfer", "disconnect"]


_Outcome = _Next | _Branch | _Condition | _Stop


def _threaded(invoke: Invoker) -> AsyncInvoker:
    """The default asynchronous invocation: the function runs on a thread of its own."""

    def start(call: LambdaCall) -> None:
        threading.Thread(target=invoke, args=(call,), name=f"async-{call.function}", daemon=True).start()

    return start


class FlowRun:
    """One contact through a flow.

    Args:
        flow: the checked flow (``ContactFlow.parse``).
        contact: who calls.
        caller: the caller's script (``Caller``).
        invoke: runs a Lambda function synchronously (``LambdaCall`` -> ``LambdaResult``).
        functions: function name (``switchboard-dev-turn``) -> the handler to run (``turn``).
        lex: the bots the flow's Lex blocks reach, with their sessions.
        instance: the Connect instance (its queues).
        invoke_async: starts a function without waiting (default: ``invoke`` on a thread).
        media: the contact's live media, if the run has any: without it, Start media streaming
            takes ``NoMatchingError`` (``sim replay``/``sim load`` have no KVS media).
    """

    def __init__(
        self,
        flow: ContactFlow,
        contact: Contact,
        caller: Caller,
        *,
        invoke: Invoker,
        functions: Mapping[str, str],
        lex: LexRuntime,
        instance: ConnectInstance,
        invoke_async: AsyncInvoker | None = None,
        media: MediaSource | None = None,
    ) -> None:
        self.flow = flow
        self.contact = contact
        self.caller = caller
        self.invoke = invoke
        self.invoke_async = invoke_async or _threaded(invoke)
        self.functions = functions
        self.lex = lex
        self.instance = instance
        self.media = media
        self.report = ContactReport(contact.contact_id, language=contact.language)
        self._external: dict[str, Any] | None = None
        self._lex: LexInteraction | None = None
        self._media: dict[str, str | None] | None = None
        self._invocation_id: str | None = None
        self._heard: list[Prompt] = []
        self._open: CallerTurn | None = None  # the last utterance, while its turn is undelivered
        self._started = time.monotonic()
        self._clock_ms: float | None = None

    def run(self) -> ContactReport:
        """Play the contact from ``StartAction`` until it is transferred, disconnected or the
        caller hangs up."""
        current: str | None = self.flow.start
        while current is not None:
            if len(self.report.path) >= MAX_STEPS:
                raise FlowRunawayError(f"{self.contact.contact_id}: {MAX_STEPS} blocks ({self.report.path[-5:]})")
            action = self.flow.actions[current]
            self.report.path.append(current)
            outcome = self._run(action)
            current = self._next(action, outcome)
        return self.report

    def _run(self, action: FlowAction) -> _Outcome:
        handlers: dict[str, Callable[[FlowAction], _Outcome]] = {
            "InvokeLambdaFunction": self._invoke_lambda,
            "ConnectParticipantWithLexBot": self._lex_bot,
            "UpdateContactAttributes": self._update_attributes,
            "Compare": self._compare,
            "MessageParticipant": self._message,
            "UpdateContactTargetQueue": self._target_queue,
            "TransferContactToQueue": self._transfer,
            "DisconnectParticipant": self._disconnect,
            "UpdateContactRecordingAndAnalyticsBehavior": self._analytics,
            "UpdateContactMediaStreamingBehavior": self._media_streaming,
            "UpdateContactTextToSpeechVoice": self._set_voice,
            "UpdateContactData": self._update_contact_data,
        }
        return handlers[action.type](action)

    def _next(self, action: FlowAction, outcome: _Outcome) -> str | None:
        if isinstance(outcome, _Stop):
            self.report.ended_by = outcome.reason
            return None
        if isinstance(outcome, _Condition):
            return str(action.conditions[outcome.index]["NextAction"])
        if isinstance(outcome, _Branch):
            self.report.errors.append((action.identifier, outcome.error_type, outcome.why))
            target = action.error_branch(outcome.error_type)
            if target is not None:
                return target
            if outcome.error_type != "NoMatchingCondition":  # documented: NextAction otherwise
                raise FlowErrorBranchMissingError(f"{action.identifier} raised {outcome.error_type} ({outcome.why}), "
                                                  "which it has no branch for")  # fmt: skip
        return action.next_action

    # --- values ---

    def _value(self, reference: Reference) -> Any:
        head, rest = reference.namespace, reference.keys[1:]
        if head == "External":
            return self._external_value(reference)
        if head == "Attributes":
            return self.report.attributes.get(rest[0])
        if head == "Lex":
            return self._lex_value(rest)
        if head == "MediaStreams":
            return (self._media or {}).get(rest[2])
        if head == "LambdaInvocation":
            return self._invocation_id
        if head == "Queue":
            queue = self.report.queue
            return None if queue is None else {"ARN": queue[0], "Name": queue[1]}[rest[0]]
        endpoints = {"CustomerEndpoint": self.contact.caller_number, "SystemEndpoint": self.instance.phone_number}
        if head in endpoints:
            return {"Address": endpoints[head], "Type": "TELEPHONE_NUMBER"}[rest[0]]
        return {"ContactId": self.contact.contact_id, "InitialContactId": self.contact.contact_id,
                "PreviousContactId": self.contact.contact_id, "Channel": self.contact.channel,
                "LanguageCode": self.report.language, "InstanceARN": self.instance.arn,
                "InitiationMethod": self.contact.initiation_method,
                "StoredCustomerInput": None}[head]  # fmt: skip

    def _external_value(self, reference: Reference) -> Any:
        value: Any = self._external
        for key in reference.keys[1:]:
            if not isinstance(value, dict) or key not in value:
                carried = sorted(self._external) if isinstance(self._external, dict) else "no Lambda result yet"
                raise FlowReferenceMissingError(f"{reference.text}: the last Lambda result has no {key!r} ({carried})")
            value = value[key]
        return value

    def _lex_value(self, rest: tuple[str, ...]) -> Any:
        lex = self._lex
        if lex is None or rest[0] == "Slots":  # no interaction yet; a fallback-only bot fills no slots
            return None
        if rest[0] == "SessionAttributes":
            return lex.session_attributes.get(rest[1])
        return {"IntentName": lex.intent_name, "InputTranscript": lex.input_transcript,
                "DialogState": lex.dialog_state}[rest[0]]  # fmt: skip

    def _single(self, text: str) -> Any:
        """A "static or a single JSONPath" value (None when the path has no value)."""
        reference = single_reference(text)
        return text if reference is None else self._value(reference)

    def _dynamic(self, text: str) -> str | None:
        """A "static or dynamic" value: a single path's value (None if it has none), or the text
        with each path replaced by its value (empty when it has none)."""
        reference = single_reference(text)
        if reference is not None:
            value = self._value(reference)
            return None if value is None else str(value)

        def one(match: re.Match[str]) -> str:
            value = self._value(parse_reference(match.group(0)))
            return "" if value is None else str(value)

        return PATH_PATTERN.sub(one, text)

    def _now_ms(self) -> float:
        if self._clock_ms is not None:
            return self._clock_ms
        return (time.monotonic() - self._started) * 1000

    # --- prompts ---

    def _prompt(self, action: FlowAction, *, required: bool) -> _Branch | None:
        """Play the block's prompt (Text/SSML: resolved); a bad or missing one is NoMatchingError."""
        params = action.parameters
        kind = next((p for p in PROMPT_PARAMETERS if p in params), None)
        if kind is None:
            return _Branch("NoMatchingError", "no prompt") if required else None
        content = self._dynamic(str(params[kind])) if kind in ("Text", "SSML") else json.dumps(params[kind])
        if not content or len(content) > PROMPT_MAX_CHARS:
            return _Branch("NoMatchingError", f"{kind} prompt empty or longer than {PROMPT_MAX_CHARS}")
        if kind == "SSML" and not (content.strip().startswith("<speak>") and content.strip().endswith("</speak>")):
            return _Branch("NoMatchingError", "SSML is not one <speak> document")
        self._play(Prompt(action.identifier, kind, content, voice=self.report.voice[0]))
        return None

    def _play(self, prompt: Prompt) -> None:
        self.report.prompts.append(prompt)
        self._heard.append(prompt)
        if self.report.turns:
            self.report.turns[-1].prompts.append(prompt)

    # --- Lambda ---

    def _handler(self, arn: str) -> str | None:
        return self.functions.get(function_name(arn))

    def _invoke_lambda(self, action: FlowAction) -> _Outcome:
        params = action.parameters
        arn = self._single(str(params["LambdaFunctionARN"]))
        handler = self._handler(str(arn)) if arn else None
        if handler is None:
            return _Branch("NoMatchingError", f"no function {arn}")
        parameters = {k: self._dynamic(v) or "" for k, v in (params.get("LambdaInvocationAttributes") or {}).items()}
        contact = dataclasses.replace(self.contact, language=self.report.language)
        event = contact_flow_event(contact, parameters, self.report.attributes, instance=self.instance,
                                   media=self._media, queue=self.report.queue)  # fmt: skip
        limit_ms = int(params["InvocationTimeLimitSeconds"]) * 1000
        if params.get("InvocationType", "SYNCHRONOUS") == "ASYNCHRONOUS":
            invocation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.contact.contact_id}/{len(self.report.path)}"))
            try:
                self.invoke_async(LambdaCall(handler, event, action.identifier, synchronous=False))
            except Exception as exc:  # noqa: BLE001 - the invocation could not start: the error branch
                return _Branch("NoMatchingError", f"not started: {type(exc).__name__}")
            self.report.deliveries.append(Delivery(action.identifier, handler, event, None, False,
                                                   invocation_id=invocation_id))  # fmt: skip
            self._invocation_id = invocation_id
            return _Next()
        turn = self._take_open_turn()
        result, why = self._deliver(action.identifier, handler, event, limit_ms, "flow", turn)
        if result is None:
            return _Branch("NoMatchingError", why)
        validation = (params.get("ResponseValidation") or {}).get("ResponseType", "STRING_MAP")
        refused = _refused(result.answer, validation)
        if refused:
            if turn is not None:
                turn.error = refused
            return _Branch("NoMatchingError", refused)
        self._external = dict(result.answer)
        return _Next()

    def _take_open_turn(self) -> CallerTurn | None:
        """The caller's last utterance if no invocation delivered it yet: this one does."""
        turn, self._open = self._open, None
        return turn

    def _deliver(
        self, block: str, handler: str, event: Any, limit_ms: int, via: Literal["flow", "lex"], turn: CallerTurn | None
    ) -> tuple[LambdaResult | None, str]:
        """Invoke ``handler`` until it answers, as Connect (``via="flow"``: again after an error or
        a lost answer, at most ``LAMBDA_RETRIES`` times, within ``limit_ms`` in all) or Lex
        (``via="lex"``: once, within ``limit_ms``) does; the answer, or why there is none."""
        utterance = turn.utterance if turn is not None else None
        lost = utterance.lost_answers if utterance is not None and via == "flow" else 0
        retries, elapsed = 0, 0.0
        while True:
            result = self.invoke(LambdaCall(handler, event, block, utterance=utterance, attempt=retries, via=via))
            delivery = Delivery(block, handler, event, result)
            self.report.deliveries.append(delivery)
            if turn is not None:
                turn.deliveries.append(delivery)
                turn.via = via
            elapsed += result.duration_ms
            late = elapsed > limit_ms
            if not late and result.error is None and lost == 0:
                if turn is not None:
                    turn.answer = result.answer
                return result, ""
            if late:
                why = f"no answer within {limit_ms} ms ({elapsed:.0f} ms)"
            elif result.error is None:
                lost -= 1
                delivery.lost = True
                why = "the answer was lost"
            else:
                why = f"the function failed ({result.error})"
            if late or via == "lex" or retries >= LAMBDA_RETRIES:
                if turn is not None:
                    turn.error = why
                return None, why
            retries += 1

    # --- Lex ---

    def _lex_bot(self, action: FlowAction) -> _Outcome:
        params = action.parameters
        alias = self._single(str(params["LexV2Bot"]["AliasArn"]))
        bot = self.lex.bot(str(alias)) if alias else None
        if bot is None:
            return _Branch("NoMatchingError", f"no bot alias {alias}")
        locale = bot.locale(self.report.language)
        if locale is None:
            return _Branch("NoMatchingError", f"the contact's language {self.report.language} is no locale of the bot "
                                              f"({', '.join(bot.locale_ids)})")  # fmt: skip
        attributes: dict[str, str] = {}
        for key, value in (params.get("LexSessionAttributes") or {}).items():
            attributes[self._dynamic(key) or key] = self._dynamic(value) or ""
        failed = self._prompt(action, required=False)
        if failed is not None:
            return failed
        session = self.contact.contact_id
        starting: dict[str, str] = attributes  # the block starts the conversation with its attributes
        while True:
            end_timeout = self.lex.end_timeout_ms(bot.alias_arn, session, starting, self._now_ms(), locale.locale_id)
            previous = self.report.turns[-1] if self.report.turns else None
            listen = Listen(action.identifier, end_timeout, tuple(self._heard), previous)
            self._heard = []
            utterance = self.caller.speak(listen)
            if utterance is None:
                return _Stop("caller")
            if utterance.at_ms is not None:
                self._clock_ms = utterance.at_ms
            turn = CallerTurn(utterance, action.identifier, end_timeout)
            self.report.turns.append(turn)
            self._open = turn
            hook = functools.partial(self._code_hook, action.identifier)
            interaction = self.lex.recognize(bot.alias_arn, session, utterance.text, starting, self._now_ms(), hook,
                                             locale.locale_id)  # fmt: skip
            starting = {}  # from now on in this block the session's attributes (the code hook's) prevail
            if interaction.error is not None:
                turn.error = turn.error or interaction.error
                return _Branch("NoMatchingError", interaction.error)
            for kind, content in interaction.messages:
                self._play(Prompt(action.identifier, kind, content, by="lex", voice=self.report.voice[0]))
            if interaction.dialog_action == "ElicitIntent":
                continue
            self._lex = interaction
            for index, condition in enumerate(action.conditions):
                if condition["Condition"]["Operands"][0] == interaction.intent_name:
                    return _Condition(index)
            return _Branch("NoMatchingCondition", f"intent {interaction.intent_name}")

    def _code_hook(self, block: str, function: str, event: dict[str, Any]) -> CodeHookAnswer:
        handler = self.functions.get(function)
        if handler is None:
            return CodeHookAnswer(error=f"ResourceNotFoundException: {function}")
        result, why = self._deliver(block, handler, event, CODE_HOOK_LIMIT_MS, "lex", self._take_open_turn())
        return (
            CodeHookAnswer(error=f"DependencyFailedException: {why}")
            if result is None
            else CodeHookAnswer(result.answer)
        )

    # --- contact data ---

    def _set_voice(self, action: FlowAction) -> _Outcome:
        """Set voice: the voice (and engine) every later prompt is spoken with."""
        params = action.parameters
        voice = self._lenient(params["TextToSpeechVoice"])
        engine = self._lenient(params["TextToSpeechEngine"]) if "TextToSpeechEngine" in params else None
        style = self._lenient(params["TextToSpeechStyle"]) if "TextToSpeechStyle" in params else None
        problem = voice_problem(voice, engine, style)
        if problem:
            return _Branch("NoMatchingError", problem)
        self.report.voice = (str(voice), (engine or "standard").lower())
        return _Next()

    def _update_contact_data(self, action: FlowAction) -> _Outcome:
        """The contact's language (the Set voice block's "Set language attribute")."""
        if action.parameters.get("TargetContact", "Current") != "Current":
            return _Branch("NoMatchingError", "no related contact")
        language = self._lenient(action.parameters["LanguageCode"])
        problem = language_problem(language)
        if problem:
            return _Branch("NoMatchingError", problem)
        self.report.language = str(language)
        return _Next()

    def _lenient(self, text: Any) -> str | None:
        """A static or dynamic value whose missing ``$.External.k`` is no value (None), as Connect
        resolves it, instead of the interpreter's ``FlowReferenceMissingError``: for the blocks
        whose invalid value is their own error branch (Set voice, the contact's language)."""
        try:
            value = self._dynamic(str(text))
        except FlowReferenceMissingError:
            return None
        return value or None

    def _update_attributes(self, action: FlowAction) -> _Outcome:
        params = action.parameters
        if params.get("TargetContact", "Current") != "Current":
            return _Branch("NoMatchingError", "no related contact")
        values: dict[str, str] = {}
        for key, text in params["Attributes"].items():
            value = self._dynamic(str(text))
            if value is None:  # all or nothing: none is set
                return _Branch("NoMatchingError", f"{key}: {text} has no value")
            values[key] = value
        merged = {**self.report.attributes, **values}
        if len(json.dumps(merged, ensure_ascii=False).encode()) > ATTRIBUTES_MAX_BYTES:
            return _Branch("NoMatchingError", f"attributes above {ATTRIBUTES_MAX_BYTES} bytes")
        self.report.attributes = merged
        return _Next()

    def _compare(self, action: FlowAction) -> _Outcome:
        value = self._single(str(action.parameters["ComparisonValue"]))
        for index, condition in enumerate(action.conditions):
            inner = condition["Condition"]
            if value is not None and _holds(inner["Operator"], str(value), str(inner["Operands"][0])):
                return _Condition(index)
        return _Branch("NoMatchingCondition", f"{action.parameters['ComparisonValue']} = {value!r}")

    def _message(self, action: FlowAction) -> _Outcome:
        failed = self._prompt(action, required=True)
        return failed if failed is not None else _Next()

    def _target_queue(self, action: FlowAction) -> _Outcome:
        if "AgentId" in action.parameters:
            return _Branch("NoMatchingError", "the simulated instance has no agents")
        value = self._single(str(action.parameters["QueueId"]))
        queue = self.instance.queue(str(value)) if value else None
        if queue is None:
            return _Branch("NoMatchingError", f"{value!r} is not the ID or ARN of a queue of the instance")
        self.report.queue = queue
        return _Next()

    def _transfer(self, action: FlowAction) -> _Outcome:
        queue = self.report.queue
        if queue is None:
            return _Branch("NoMatchingError", "no working queue")
        if queue[1] in self.instance.at_capacity:
            return _Branch("QueueAtCapacity", queue[1])
        self.report.transferred = True
        return _Stop("transfer")

    def _disconnect(self, action: FlowAction) -> _Outcome:
        self.report.disconnected = True
        return _Stop("disconnect")

    def _analytics(self, action: FlowAction) -> _Outcome:
        params = action.parameters
        behavior = params.get("VoiceBehavior") if self.contact.channel == "VOICE" else params.get("ChatBehavior")
        if behavior is None:
            return _Branch("ChannelMismatch", f"no behaviour for a {self.contact.channel} contact")
        analytics = behavior.get("VoiceAnalyticsBehavior") or behavior.get("ChatAnalyticsBehavior") or {}
        enabled = analytics.get("Enabled") == "True"
        modes = tuple(analytics.get("AnalyticsModes") or ())
        if enabled and not {"RealTime", "PostContact"} & set(modes):
            return _Branch("NoMatchingError", f"AnalyticsModes {list(modes)} has neither RealTime nor PostContact")
        recording = behavior.get("VoiceRecordingBehavior") or {}
        redaction = analytics.get("ConversationalAnalyticsRedactionConfiguration") or {}
        redacts = enabled and redaction.get("Enabled") == "True"
        language = analytics.get("AnalyticsLanguage")  # static, or a path like $.LanguageCode
        language = self._dynamic(language) if isinstance(language, str) else None
        self.report.analytics = {"enabled": enabled, "modes": modes, "language": language,
                                 "recorded": tuple(recording.get("RecordedParticipants") or ()),
                                 "redaction": {"enabled": redacts, "results": redaction.get("RedactionResults"),
                                               "mask": redaction.get("RedactionMaskMode", "PII"),
                                               "entities": tuple(redaction.get("RedactionEntities") or ("ALL",))}
                                 if redacts else None}  # fmt: skip
        return _Next()

    def _media_streaming(self, action: FlowAction) -> _Outcome:
        if self.contact.channel != "VOICE":
            return _Branch("NoMatchingError", "media streaming is voice only")
        if action.parameters["MediaStreamingState"] == "Disabled":
            if self._media is not None:
                self._media = {**self._media, "StopTimestamp": str(int(time.time() * 1000))}
            return _Next()
        if self.media is None:
            return _Branch("NoMatchingError", "no live media: this run has no Kinesis Video Streams source")
        self._media = {"StreamARN": self.media.stream_arn, "StartFragmentNumber": self.media.start_fragment_number,
                       "StartTimestamp": str(self.media.start_timestamp_ms), "StopTimestamp": None}  # fmt: skip
        self.report.media_streaming = True
        return _Next()


def _refused(answer: Any, validation: str) -> str:
    """Why ``ResponseValidation`` refuses the answer ('' when it accepts it)."""
    if not isinstance(answer, dict):
        return f"the answer is not an object ({type(answer).__name__})"
    size = len(json.dumps(answer, ensure_ascii=False).encode())
    if size >= STRING_MAP_MAX_BYTES:
        return f"the answer is {size} bytes (less than {STRING_MAP_MAX_BYTES} allowed)"
    if validation == "STRING_MAP" and not all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items()):
        return "STRING_MAP: the answer is not a flat map of strings"
    return ""


def _holds(operator: str, value: str, operand: str) -> bool:
    if operator == "Equals":
        return value == operand
    if operator == "TextStartsWith":
        return value.startswith(operand)
    if operator == "TextEndsWith":
        return value.endswith(operand)
    if operator == "TextContains":
        return operand in value
    try:
        left, right = float(value), float(operand)
    except ValueError:
        return False
    return {"NumberGreaterThan": left > right, "NumberGreaterOrEqualTo": left >= right,
            "NumberLessThan": left < right, "NumberLessOrEqualTo": left <= right}[operator]  # fmt: skip
