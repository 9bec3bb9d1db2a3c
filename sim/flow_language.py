"""Amazon Connect's flow language: a flow loaded and checked as the language defines it.

The rules are research/deploy-artifacts.md §1's, from docs.aws.amazon.com/connect/latest/
APIReference/flow-language-actions.html and the action pages. ``ContactFlow.parse`` refuses a
flow that breaks one, each with a named error: a ``Type`` the interpreter does not execute
(``FlowBlockUnknownError``), a transition to an identifier that does not exist
(``FlowTransitionDanglingError``), more than 250 actions (``FlowTooLargeError``), an invalid or
repeated ``Identifier`` (``FlowIdentifierInvalidError``), a parameter of the wrong class — a
JSONPath where only a static value is allowed, text around a JSONPath where a single JSONPath is
required (``FlowParameterInvalidError``), an error branch a block must always define
(``FlowErrorBranchMissingError``), a ``$.Attributes.k`` no block of the flow sets
(``FlowReferenceUnsetError``), a placeholder still there (``FlowPlaceholderUnfilledError``), a
Lambda function or Lex bot alias the deployment does not have. ``BLOCKS`` says what each action
``Type`` takes; the references (``$.External.k``, ``$.Attributes.k``, ``$.Lex.*``, ...) are read
here and resolved at run time by ``sim.connect_flow``, which plays a contact through the flow.

The contact's language and voice: ``UpdateContactTextToSpeechVoice`` (Set voice:
``TextToSpeechVoice``, ``TextToSpeechEngine``, ``TextToSpeechStyle``, static or dynamic; its
``NoMatchingError`` "must always be defined") and ``UpdateContactData`` with ``LanguageCode``
(the console's "Set language attribute" of the Set voice block: the contact's language, which
picks the Lex bot's locale). A static voice outside ``POLLY_VOICES``, an engine the voice does not
have, a style other than None/Conversational/Newscaster or a language code not ``xx-XX`` is
refused here; a dynamic one is checked when the block runs (``NoMatchingError``). Of
``UpdateContactData``'s parameters only ``LanguageCode`` (and ``TargetContact``) is executed; any
other is refused by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.lex_bot import function_name

FLOW_VERSION = "2019-10-30"
MAX_ACTIONS = 250
MAX_IDENTIFIER_CHARS = 50
FORBIDDEN_IDENTIFIER_CHARS = frozenset("%:(\\/)=$,;[]{}")
FORBIDDEN_IDENTIFIER_STRINGS = ("__proto__", "constructor", "toString")
SYNC_LIMIT_S = 8  # InvocationTimeLimitSeconds, synchronous
ASYNC_LIMIT_S = 60  # asynchronous (admin guide, invoke-lambda-function-block)
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
# A JSONPath as the flow language writes it: $.A.b, $['A']['b'], $.Attributes.['a b'].
PATH_PATTERN = re.compile(r"\$(?:\.[A-Za-z0-9_-]+|\.?\['[^'\]]*'\])+")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\.?\['([^'\]]*)'\]")


# --- errors --------------------------------------------------------------------------------------


class FlowError(ValueError):
    """The flow breaks a rule of Amazon Connect's flow language (or of the deployment it runs in)."""


class FlowVersionUnsupportedError(FlowError):
    """``Version`` is not ``2019-10-30``."""


class FlowTooLargeError(FlowError):
    """More than 250 actions."""


class FlowIdentifierInvalidError(FlowError):
    """An ``Identifier`` missing, repeated, longer than 50 characters, or with a forbidden
    character or string."""


class FlowBlockUnknownError(FlowError):
    """An action ``Type`` this interpreter does not execute."""


class FlowTransitionDanglingError(FlowError):
    """A ``StartAction``/``NextAction`` naming no action of the flow."""


class FlowTransitionMissingError(FlowError):
    """A block that goes on has no ``NextAction``."""


class FlowErrorTypeUnknownError(FlowError):
    """An ``Errors`` entry with an ``ErrorType`` the block cannot raise."""


class FlowErrorBranchMissingError(FlowError):
    """A block lacks an error branch it must always define, or took one the flow does not have."""


class FlowConditionInvalidError(FlowError):
    """``Conditions`` on a block without them, or an operator the block does not accept."""


class FlowParameterInvalidError(FlowError):
    """A parameter missing, unknown, of the wrong value, or of the wrong class (a JSONPath in a
    static-only parameter; text around a JSONPath where a single JSONPath is required)."""


class FlowReferenceInvalidError(FlowError):
    """A JSONPath outside the namespaces the flow language has (``$.External``, ``$.Attributes``,
    ``$.Lex``, ``$.MediaStreams``, ``$.LambdaInvocation``, system attributes)."""


class FlowReferenceUnsetError(FlowError):
    """A ``$.Attributes.k`` reference to an attribute no block of the flow sets."""


class FlowReferenceMissingError(FlowError):
    """At run time: a ``$.External.k`` reference the last Lambda result does not carry."""


class FlowPlaceholderUnfilledError(FlowError):
    """A ``${...}`` placeholder left in a flow that should be filled (``infra/fill_flow.py``)."""


class FlowFunctionUnknownError(FlowError):
    """A ``LambdaFunctionARN`` naming no function of the deployment."""


class FlowBotUnknownError(FlowError):
    """A Lex ``AliasArn`` naming no bot alias of the deployment."""


class FlowRunawayError(FlowError):
    """More than ``MAX_STEPS`` blocks in one contact: the flow loops without waiting for the caller."""


# --- references ----------------------------------------------------------------------------------

_SYSTEM = frozenset({"ContactId", "InitialContactId", "PreviousContactId", "Channel", "LanguageCode",
                     "InstanceARN", "InitiationMethod", "StoredCustomerInput"})  # fmt: skip
_LEX_VALUES = frozenset({"IntentName", "InputTranscript", "DialogState"})
_AUDIO = frozenset({"StreamARN", "StartFragmentNumber", "StartTimestamp", "StopTimestamp"})


@dataclass(frozen=True)
class Reference:
    """One JSONPath: ``$.External.turn`` is ``Reference(("External", "turn"))``."""

    keys: tuple[str, ...]
    text: str

    @property
    def namespace(self) -> str:
        return self.keys[0]


def parse_reference(text: str) -> Reference:
    """A JSONPath the flow language allows, or ``FlowReferenceInvalidError``."""
    keys = tuple(a or b for a, b in _SEGMENT.findall(text[1:]))
    if not keys or not _valid(keys):
        raise FlowReferenceInvalidError(f"{text!r} is not a reference the flow language has")
    return Reference(keys, text)


def _valid(keys: tuple[str, ...]) -> bool:
    head, rest = keys[0], keys[1:]
    if head in ("External",):
        return len(rest) >= 1
    if head == "Attributes":
        return len(rest) == 1
    if head == "Lex":
        return (len(rest) == 1 and rest[0] in _LEX_VALUES) or (
            len(rest) == 2 and rest[0] in ("SessionAttributes", "Slots")
        )
    if head == "MediaStreams":
        return len(rest) == 3 and rest[:2] == ("Customer", "Audio") and rest[2] in _AUDIO
    if head == "LambdaInvocation":
        return rest == ("InvocationId",)
    if head in ("CustomerEndpoint", "SystemEndpoint"):
        return len(rest) == 1 and rest[0] in ("Address", "Type")
    if head == "Queue":
        return len(rest) == 1 and rest[0] in ("ARN", "Name")
    return head in _SYSTEM and not rest


def references_in(text: str) -> list[Reference]:
    """Every JSONPath in a static-or-dynamic text."""
    return [parse_reference(m.group(0)) for m in PATH_PATTERN.finditer(text)]


def single_reference(text: str) -> Reference | None:
    """The reference when the whole value is one JSONPath, else None."""
    match = PATH_PATTERN.fullmatch(text.strip())
    return parse_reference(match.group(0)) if match else None


# --- the blocks ----------------------------------------------------------------------------------

STATIC = "static"
PATH = "static or a single JSONPath"
DYNAMIC = "static or dynamic"
PATH_ONLY = "a single JSONPath"


@dataclass(frozen=True)
class BlockSpec:
    """What one action ``Type`` takes: its parameters (name -> class), error types, conditions."""

    parameters: Mapping[str, str]
    errors: frozenset[str]
    required_parameters: frozenset[str] = frozenset()
    required_errors: frozenset[str] = frozenset()
    conditions: frozenset[str] = frozenset()  # operators its Conditions may use
    terminal: bool = False


_TEXT_OPERATORS = frozenset({"Equals", "TextStartsWith", "TextEndsWith", "TextContains", "NumberGreaterThan",
                             "NumberGreaterOrEqualTo", "NumberLessThan", "NumberLessOrEqualTo"})  # fmt: skip
PROMPT_PARAMETERS = ("Text", "SSML", "PromptId", "Media")
# Amazon Polly voices the simulator knows, with their engines (a subset of Polly's voice list:
# US English, US and Mexican Spanish, Canadian French). Engine names as the flow writes them
# (the console exports "Neural"); compared without case.
POLLY_VOICES: dict[str, frozenset[str]] = {
    "Joanna": frozenset({"standard", "neural"}), "Matthew": frozenset({"standard", "neural"}),
    "Ivy": frozenset({"standard", "neural"}), "Kendra": frozenset({"standard", "neural"}),
    "Kimberly": frozenset({"standard", "neural"}), "Salli": frozenset({"standard", "neural"}),
    "Joey": frozenset({"standard", "neural"}), "Justin": frozenset({"standard", "neural"}),
    "Kevin": frozenset({"neural"}), "Ruth": frozenset({"neural"}), "Stephen": frozenset({"neural"}),
    "Danielle": frozenset({"neural"}), "Gregory": frozenset({"neural"}),
    "Lupe": frozenset({"standard", "neural"}), "Penélope": frozenset({"standard"}), "Miguel": frozenset({"standard"}),
    "Pedro": frozenset({"neural"}), "Mia": frozenset({"standard", "neural"}), "Andrés": frozenset({"neural"}),
    "Chantal": frozenset({"standard"}), "Gabrielle": frozenset({"neural"}), "Liam": frozenset({"neural"}),
}  # fmt: skip
DEFAULT_VOICE = ("Joanna", "standard")  # "This defaults to Joanna if this action is never run"
TTS_STYLES = ("None", "Conversational", "Newscaster")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")  # "Use the format xx-XX, for example, en-US"
BLOCKS: dict[str, BlockSpec] = {
    "InvokeLambdaFunction": BlockSpec(
        {
            "LambdaFunctionARN": PATH,
            "InvocationTimeLimitSeconds": STATIC,
            "InvocationType": STATIC,
            "LambdaInvocationAttributes": DYNAMIC,
            "ResponseValidation": STATIC,
        },
        frozenset({"NoMatchingError"}),
        frozenset({"LambdaFunctionARN", "InvocationTimeLimitSeconds"}),
    ),
    "ConnectParticipantWithLexBot": BlockSpec(
        {
            "Text": DYNAMIC,
            "SSML": DYNAMIC,
            "PromptId": PATH,
            "Media": STATIC,
            "LexV2Bot": PATH,
            "LexSessionAttributes": DYNAMIC,
            "LexInitializationData": DYNAMIC,
            "LexTimeoutSeconds": DYNAMIC,
        },
        frozenset({"NoMatchingCondition", "NoMatchingError", "InputTimeLimitExceeded"}),
        frozenset({"LexV2Bot"}),
        conditions=frozenset({"Equals"}),
    ),
    "UpdateContactAttributes": BlockSpec(
        {"Attributes": DYNAMIC, "TargetContact": STATIC}, frozenset({"NoMatchingError"}), frozenset({"Attributes"})
    ),
    "Compare": BlockSpec(
        {"ComparisonValue": PATH_ONLY},
        frozenset({"NoMatchingCondition"}),
        frozenset({"ComparisonValue"}),
        conditions=_TEXT_OPERATORS,
    ),
    "MessageParticipant": BlockSpec(
        {"Text": DYNAMIC, "SSML": DYNAMIC, "PromptId": PATH, "Media": STATIC}, frozenset({"NoMatchingError"})
    ),
    "UpdateContactTargetQueue": BlockSpec({"QueueId": PATH, "AgentId": PATH}, frozenset({"NoMatchingError"})),
    "TransferContactToQueue": BlockSpec({}, frozenset({"QueueAtCapacity", "NoMatchingError"})),
    "DisconnectParticipant": BlockSpec({}, frozenset(), terminal=True),
    "UpdateContactRecordingAndAnalyticsBehavior": BlockSpec(
        {"VoiceBehavior": STATIC, "ChatBehavior": STATIC, "ScreenRecordingBehavior": STATIC},
        frozenset({"NoMatchingError", "ChannelMismatch", "InFlightRedactionConfigurationFailed"}),
        required_errors=frozenset({"NoMatchingError", "ChannelMismatch"}),
    ),
    "UpdateContactMediaStreamingBehavior": BlockSpec(
        {"MediaStreamingState": STATIC, "Participants": STATIC, "MediaStreamType": STATIC},
        frozenset({"NoMatchingError"}),
        frozenset({"MediaStreamingState", "Participants", "MediaStreamType"}),
    ),
    "UpdateContactTextToSpeechVoice": BlockSpec(
        {"TextToSpeechVoice": DYNAMIC, "TextToSpeechEngine": DYNAMIC, "TextToSpeechStyle": DYNAMIC},
        frozenset({"NoMatchingError"}),
        frozenset({"TextToSpeechVoice"}),
        required_errors=frozenset({"NoMatchingError"}),
    ),
    "UpdateContactData": BlockSpec(
        {"LanguageCode": PATH, "TargetContact": STATIC},
        frozenset({"NoMatchingError"}),
        frozenset({"LanguageCode"}),
    ),
}


@dataclass(frozen=True)
class FlowAction:
    identifier: str
    type: str
    parameters: Mapping[str, Any]
    transitions: Mapping[str, Any]

    @property
    def next_action(self) -> str | None:
        value = self.transitions.get("NextAction")
        return value if isinstance(value, str) else None

    def error_branch(self, error_type: str) -> str | None:
        for entry in self.transitions.get("Errors") or []:
            if entry.get("ErrorType") == error_type:
                return str(entry["NextAction"])
        return None

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return list(self.transitions.get("Conditions") or [])


@dataclass(frozen=True)
class ContactFlow:
    """A checked flow: its actions by identifier and where it starts."""

    start: str
    actions: Mapping[str, FlowAction]
    attributes_set: frozenset[str]  # the contact attributes some block of the flow sets
    source: dict[str, Any]

    @classmethod
    def load(cls, path: Path, **checks: Any) -> ContactFlow:
        return cls.parse(json.loads(path.read_text()), **checks)

    @classmethod
    def parse(
        cls,
        flow: dict[str, Any],
        *,
        functions: Mapping[str, str] | None = None,
        bots: frozenset[str] | None = None,
        filled: bool = True,
    ) -> ContactFlow:
        """Check ``flow`` and return it ready to run.

        Args:
            flow: the flow language document.
            functions: the deployment's Lambda function names (every ``LambdaFunctionARN`` must
                name one); None: not checked.
            bots: the deployment's Lex bot alias ARNs; None: not checked.
            filled: the flow must hold no ``${...}`` placeholder (the flow a user imports).

        Raises:
            FlowError: the first rule the flow breaks, by name (see the module docstring).
        """
        if flow.get("Version") != FLOW_VERSION:
            raise FlowVersionUnsupportedError(f"Version {flow.get('Version')!r} (expected {FLOW_VERSION})")
        raw = flow.get("Actions")
        if not isinstance(raw, list) or not raw:
            raise FlowParameterInvalidError("Actions must be a non-empty list")
        if len(raw) > MAX_ACTIONS:
            raise FlowTooLargeError(f"{len(raw)} actions (at most {MAX_ACTIONS})")
        if filled and PLACEHOLDER.search(json.dumps(raw)):
            found = sorted(set(PLACEHOLDER.findall(json.dumps(raw))))
            raise FlowPlaceholderUnfilledError(f"fill {', '.join(found)} (infra/fill_flow.py)")
        actions: dict[str, FlowAction] = {}
        for entry in raw:
            action = _action(entry)
            if action.identifier in actions:
                raise FlowIdentifierInvalidError(f"{action.identifier!r} is used twice")
            actions[action.identifier] = action
        start = flow.get("StartAction")
        if start not in actions:
            raise FlowTransitionDanglingError(f"StartAction {start!r} is not an action")
        for action in actions.values():
            _check_transitions(action, actions)
            _check_parameters(action)
        attributes_set = frozenset(
            key for a in actions.values() if a.type == "UpdateContactAttributes" for key in a.parameters["Attributes"]
        )
        for action in actions.values():
            for reference in _references(action.parameters):
                if reference.namespace == "Attributes" and reference.keys[1] not in attributes_set:
                    raise FlowReferenceUnsetError(f"{action.identifier}: {reference.text} is never set by the flow")
            _check_deployment(action, functions, bots)
        return cls(str(start), actions, attributes_set, flow)


def _action(entry: Any) -> FlowAction:
    if not isinstance(entry, dict):
        raise FlowParameterInvalidError(f"an action is not an object: {entry!r}")
    identifier = entry.get("Identifier")
    if not isinstance(identifier, str) or not identifier:
        raise FlowIdentifierInvalidError(f"an action has no Identifier: {json.dumps(entry)[:80]}")
    bad = sorted(FORBIDDEN_IDENTIFIER_CHARS & set(identifier))
    if len(identifier) > MAX_IDENTIFIER_CHARS or bad or any(s in identifier for s in FORBIDDEN_IDENTIFIER_STRINGS):
        raise FlowIdentifierInvalidError(f"{identifier!r}: at most {MAX_IDENTIFIER_CHARS} characters, none of "
                                         f"{''.join(sorted(FORBIDDEN_IDENTIFIER_CHARS))}, none of "
                                         f"{', '.join(FORBIDDEN_IDENTIFIER_STRINGS)}")  # fmt: skip
    kind = entry.get("Type")
    if kind not in BLOCKS:
        raise FlowBlockUnknownError(f"{identifier}: Type {kind!r} (known: {', '.join(sorted(BLOCKS))})")
    parameters = entry.get("Parameters", {})
    transitions = entry.get("Transitions", {})
    if not isinstance(parameters, dict) or not isinstance(transitions, dict):
        raise FlowParameterInvalidError(f"{identifier}: Parameters and Transitions must be objects")
    return FlowAction(identifier, str(kind), parameters, transitions)


def _check_deployment(action: FlowAction, functions: Mapping[str, str] | None, bots: frozenset[str] | None) -> None:
    """The functions and bot aliases a static ARN names exist in the deployment."""
    if functions is not None and action.type == "InvokeLambdaFunction":
        arn = str(action.parameters["LambdaFunctionARN"])
        if single_reference(arn) is None and function_name(arn) not in functions:
            raise FlowFunctionUnknownError(f"{action.identifier}: {arn} is no function of the deployment")
    if bots is not None and action.type == "ConnectParticipantWithLexBot":
        alias = str(action.parameters["LexV2Bot"].get("AliasArn", ""))
        if single_reference(alias) is None and alias not in bots:
            raise FlowBotUnknownError(f"{action.identifier}: {alias} is no bot alias of the deployment")


def _check_transitions(action: FlowAction, actions: Mapping[str, FlowAction]) -> None:
    spec = BLOCKS[action.type]
    where = action.identifier
    targets = [action.next_action] if action.next_action else []
    if not spec.terminal and not action.next_action:
        raise FlowTransitionMissingError(f"{where}: no NextAction")
    types = []
    for entry in action.transitions.get("Errors") or []:
        error_type = entry.get("ErrorType")
        if error_type not in spec.errors:
            raise FlowErrorTypeUnknownError(f"{where}: ErrorType {error_type!r} (a {action.type} raises "
                                            f"{', '.join(sorted(spec.errors)) or 'none'})")  # fmt: skip
        types.append(error_type)
        targets.append(entry.get("NextAction"))
    missing = sorted(spec.required_errors - set(types))
    if missing:
        raise FlowErrorBranchMissingError(f"{where}: a {action.type} must define {', '.join(missing)}")
    for condition in action.conditions:
        if not spec.conditions:
            raise FlowConditionInvalidError(f"{where}: a {action.type} has no Conditions")
        inner = condition.get("Condition") or {}
        operands = inner.get("Operands")
        if inner.get("Operator") not in spec.conditions or not isinstance(operands, list) or len(operands) != 1:
            raise FlowConditionInvalidError(f"{where}: condition {inner!r} (operators {sorted(spec.conditions)}, "
                                            "one operand)")  # fmt: skip
        targets.append(condition.get("NextAction"))
    for target in targets:
        if target not in actions:
            raise FlowTransitionDanglingError(f"{where} -> {target!r}")


def _check_parameters(action: FlowAction) -> None:
    spec = BLOCKS[action.type]
    where = action.identifier
    params = action.parameters
    unknown = sorted(set(params) - set(spec.parameters))
    if unknown:
        raise FlowParameterInvalidError(f"{where}: {action.type} has no parameter {', '.join(unknown)}")
    missing = sorted(spec.required_parameters - set(params))
    if missing:
        raise FlowParameterInvalidError(f"{where}: {action.type} needs {', '.join(missing)}")
    for name, value in params.items():
        _check_class(where, name, value, spec.parameters[name], keys_dynamic=name == "LexSessionAttributes")
    problem = _PARAMETER_RULES.get(action.type, lambda _: "")(params)
    if problem:
        raise FlowParameterInvalidError(f"{where}: {problem}")


def _lambda_rules(params: Mapping[str, Any]) -> str:
    mode = params.get("InvocationType", "SYNCHRONOUS")
    if mode not in ("SYNCHRONOUS", "ASYNCHRONOUS"):
        return f"InvocationType {mode!r}"
    limit = str(params["InvocationTimeLimitSeconds"])
    most = SYNC_LIMIT_S if mode == "SYNCHRONOUS" else ASYNC_LIMIT_S
    if not limit.isdigit() or not 0 < int(limit) <= most:
        return f"InvocationTimeLimitSeconds {limit!r} (1 to {most} when {mode})"
    validation = (params.get("ResponseValidation") or {}).get("ResponseType", "STRING_MAP")
    if validation not in ("STRING_MAP", "JSON"):
        return f"ResponseValidation {validation!r}"
    if not all(isinstance(v, str) for v in (params.get("LambdaInvocationAttributes") or {}).values()):
        return "LambdaInvocationAttributes values must be strings"
    return ""


def _message_rules(params: Mapping[str, Any]) -> str:
    return "" if sum(p in params for p in PROMPT_PARAMETERS) == 1 else f"exactly one of {', '.join(PROMPT_PARAMETERS)}"


def _lex_rules(params: Mapping[str, Any]) -> str:
    if sum(p in params for p in PROMPT_PARAMETERS) > 1:
        return f"at most one of {', '.join(PROMPT_PARAMETERS)}"
    if not isinstance(params["LexV2Bot"], dict) or "AliasArn" not in params["LexV2Bot"]:
        return "LexV2Bot needs AliasArn"
    return ""


def _attributes_rules(params: Mapping[str, Any]) -> str:
    attributes = params["Attributes"]
    if not isinstance(attributes, dict) or not attributes:
        return "Attributes must be a non-empty object"
    bad = [k for k in attributes if not ATTRIBUTE_KEY.match(k)]
    if bad:
        return f"attribute keys {bad} (alphanumeric, dash, underscore only)"
    if params.get("TargetContact", "Current") not in ("Current", "Related"):
        return f"TargetContact {params['TargetContact']!r}"
    return ""


def _streaming_rules(params: Mapping[str, Any]) -> str:
    if params["MediaStreamingState"] not in ("Enabled", "Disabled") or params["MediaStreamType"] != "Audio":
        return "MediaStreamingState Enabled|Disabled, MediaStreamType Audio"
    for participant in params["Participants"]:
        directions = set(participant.get("MediaDirections") or ())
        if participant.get("ParticipantType") != "Customer" or not directions or directions - {"From", "To"}:
            return f"Participants {participant!r}"
    return ""


def _one_of(first: str, second: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda params: "" if (first in params) != (second in params) else f"exactly one of {first}, {second}"


REDACTION_RESULTS = ("RedactedAndOriginal", "RedactedOnly")
REDACTION_MASK_MODES = ("PII", "EntityType")


def _analytics_rules(params: Mapping[str, Any]) -> str:
    """One channel's behaviour, and Contact Lens's redaction as the action page defines it:
    ``Enabled`` "True"/"False", ``RedactionResults`` RedactedAndOriginal or RedactedOnly,
    ``RedactionMaskMode`` PII or EntityType, ``RedactionEntities`` a non-empty list (absent: all)."""
    if problem := _one_of("VoiceBehavior", "ChatBehavior")(params):
        return problem
    behavior = params.get("VoiceBehavior") or params.get("ChatBehavior") or {}
    analytics = behavior.get("VoiceAnalyticsBehavior") or behavior.get("ChatAnalyticsBehavior") or {}
    redaction = analytics.get("ConversationalAnalyticsRedactionConfiguration")
    if redaction is None:
        return ""
    if redaction.get("Enabled") not in ("True", "False"):
        return f"ConversationalAnalyticsRedactionConfiguration.Enabled True|False, not {redaction.get('Enabled')!r}"
    results, mask = redaction.get("RedactionResults"), redaction.get("RedactionMaskMode")
    if results is not None and results not in REDACTION_RESULTS:
        return f"RedactionResults {'|'.join(REDACTION_RESULTS)}, not {results!r}"
    if mask is not None and mask not in REDACTION_MASK_MODES:
        return f"RedactionMaskMode {'|'.join(REDACTION_MASK_MODES)}, not {mask!r}"
    entities = redaction.get("RedactionEntities")
    if entities is not None and (not isinstance(entities, list) or not entities
                                 or not all(isinstance(e, str) and e for e in entities)):  # fmt: skip
        return f"RedactionEntities a non-empty list of entity types, not {entities!r}"
    unknown = sorted(set(redaction) - {"Enabled", "RedactionResults", "RedactionMaskMode", "RedactionEntities"})
    return f"ConversationalAnalyticsRedactionConfiguration has no {', '.join(unknown)}" if unknown else ""


def voice_problem(voice: str | None, engine: str | None, style: str | None) -> str:
    """Why Set voice refuses this voice, engine and style ('' when it takes them): "Results in
    error if voice or engine are invalid, or if the selected voice does not support the selected
    engine"."""
    if not voice:
        return "TextToSpeechVoice has no value"
    if voice not in POLLY_VOICES:
        return f"TextToSpeechVoice {voice!r} is no Amazon Polly voice the simulator knows"
    if engine is not None and engine.lower() not in POLLY_VOICES[voice]:
        return f"{voice} has no {engine!r} engine ({', '.join(sorted(POLLY_VOICES[voice]))})"
    if style is not None and style not in TTS_STYLES:
        return f"TextToSpeechStyle {style!r} ({', '.join(TTS_STYLES)})"
    return ""


def language_problem(language: str | None) -> str:
    """Why ``UpdateContactData`` refuses a ``LanguageCode`` ('' when it takes it)."""
    if not language:
        return "LanguageCode has no value"
    return "" if LANGUAGE_CODE.match(language) else f"LanguageCode {language!r} is not xx-XX"


def _static(params: Mapping[str, Any], name: str) -> str | None:
    """A parameter's value when it is static (no JSONPath in it), else None."""
    value = params.get(name)
    return None if value is None or references_in(str(value)) else str(value)


def _voice_rules(params: Mapping[str, Any]) -> str:
    voice = _static(params, "TextToSpeechVoice")
    engine, style = _static(params, "TextToSpeechEngine"), _static(params, "TextToSpeechStyle")
    if voice is None:  # dynamic: checked when the block runs
        if engine is not None and engine.lower() not in {e for engines in POLLY_VOICES.values() for e in engines}:
            return f"TextToSpeechEngine {engine!r}"
        return "" if style is None or style in TTS_STYLES else f"TextToSpeechStyle {style!r} ({', '.join(TTS_STYLES)})"
    return voice_problem(voice, engine, style)


def _contact_data_rules(params: Mapping[str, Any]) -> str:
    if params.get("TargetContact", "Current") not in ("Current", "Related"):
        return f"TargetContact {params['TargetContact']!r}"
    language = _static(params, "LanguageCode")
    return "" if language is None else language_problem(language)


# Each block's rules beyond its parameters' classes: '' when they hold, else what is wrong.
_PARAMETER_RULES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "InvokeLambdaFunction": _lambda_rules,
    "MessageParticipant": _message_rules,
    "ConnectParticipantWithLexBot": _lex_rules,
    "UpdateContactAttributes": _attributes_rules,
    "UpdateContactTargetQueue": _one_of("QueueId", "AgentId"),
    "UpdateContactRecordingAndAnalyticsBehavior": _analytics_rules,
    "UpdateContactMediaStreamingBehavior": _streaming_rules,
    "UpdateContactTextToSpeechVoice": _voice_rules,
    "UpdateContactData": _contact_data_rules,
}


def _strings(value: Any, keys: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, keys)
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield key
            yield from _strings(item, keys)


def _check_class(where: str, name: str, value: Any, klass: str, keys_dynamic: bool) -> None:
    for text in _strings(value, keys=keys_dynamic):
        found = references_in(text)
        whole = single_reference(text)
        if klass == STATIC and found:
            raise FlowParameterInvalidError(f"{where}: {name} is static only, not {text!r}")
        if klass in (PATH, PATH_ONLY) and found and whole is None:
            raise FlowParameterInvalidError(f"{where}: {name} takes a single JSONPath, not text around one: {text!r}")
        if klass == PATH_ONLY and whole is None:
            raise FlowParameterInvalidError(f"{where}: {name} must be a single JSONPath, not {text!r}")
    if isinstance(value, dict) and not keys_dynamic:
        for key in value:
            if references_in(key):
                raise FlowParameterInvalidError(f"{where}: {name} keys are static, not {key!r}")


def _references(parameters: Mapping[str, Any]) -> list[Reference]:
    return [r for text in _strings(dict(parameters), keys=True) for r in references_in(text)]
