"""Amazon Lex V2 at run time, modelled from the bot ``infra/template.json`` defines.

moto has no Lex runtime (its ``lexv2-models`` keeps bots and aliases, nothing that listens), so
the simulator plays the bot the stack deploys, read from the template's ``AWS::Lex::Bot`` and
``AWS::Lex::BotAlias`` resources for one deployment (its parameters, ``TurnPath`` among them):

- its locales (``en_US``, ``es_US``), each with its voice, its intents and which one is the
  fallback (``AMAZON.FallbackIntent``); a conversation is in the locale the contact's language
  names (Connect's ``es-US`` is Lex's ``es_US``), and a locale the bot lacks is an error to
  Connect (the block's ``NoMatchingError``; on AWS, "BotId/BotLocale 404");
- whether an intent's fulfillment code hook is on (its ``Fn::If`` on ``LexCodeHookTurns``
  evaluated for the deployment's ``TurnPath``);
- the alias's code-hook Lambda for each locale (its ARN names the function that runs); an alias
  locale setting that is missing or not ``Enabled`` leaves that locale without a hook;
- ``IdleSessionTTLInSeconds``: a session idle longer than that starts again with no attributes.

A session is one locale's (Lex V2's runtime keys it by bot, alias, locale and session id): a
contact whose language changes talks to the other locale with a session of its own.

Recognition is modelled, not learned: an utterance equal to one of an intent's sample utterances
(case and spaces aside) is that intent; anything else is the fallback intent. With the code hook
on, Lex calls the alias's Lambda with a code hook event (AWS's published sample
``events/lex/lex-v2-codehook-input.from-connect.json``) whose ``sessionAttributes`` are the
session's; the answer's ``ElicitIntent`` plays its message and keeps listening, ``Close`` plays
it and ends the interaction. The attributes the Connect block passes (its
``LexSessionAttributes``) are merged into the session when the block starts the conversation —
its first utterance — and not again: within the block, what the code hook returned prevails
(research/deploy-artifacts.md §4: set "when starting a conversation", "overwrite[n] in your
Lambda function"); the next entry of a block passes its attributes again. With the hook off, Lex
closes the intent at once. A code hook that fails, answers late (Lex's 30 s) or answers something
that is not a valid response is an error to Connect (the block's ``NoMatchingError``); Lex does
not retry it.

Timeouts for voice come from session attributes (the template cannot set them for intent
elicitation, research/deploy-artifacts.md §4): ``end_timeout_ms`` reads
``x-amz-lex:audio:end-timeout-ms:<intent>:<slot>``, the ``*:*`` key while no intent is active,
default 600 ms (Lex V2's and Connect's documented default), from the attributes in force for the
utterance: the block's over the session's at the block's start, the session's (the code hook's)
after.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim.cfn_template import Resolver, TemplateReferenceError, parameter_values

ROOT = Path(__file__).resolve().parent.parent
CODE_HOOK_SAMPLE = ROOT / "events" / "lex" / "lex-v2-codehook-input.from-connect.json"
FALLBACK_SIGNATURE = "AMAZON.FallbackIntent"
END_TIMEOUT_KEY = "x-amz-lex:audio:end-timeout-ms"
DEFAULT_END_TIMEOUT_MS = 600  # docs.aws.amazon.com/lexv2/latest/dg/session-attribs-speech.html
CODE_HOOK_LIMIT_MS = 30_000  # Lex answers DependencyFailedException past 30 s
MAX_MESSAGE_CHARS = 1024  # Lex V2 runtime API, Message.content
DIALOG_ACTIONS = ("ElicitIntent", "Close")  # what a fallback-only bot's hook may answer


class LexBotDefinitionError(ValueError):
    """The template's bot cannot be played: no ``AWS::Lex::Bot``/``BotAlias``, no locale, no
    fallback intent, or a code hook that names no function."""


@dataclass(frozen=True)
class LexIntent:
    name: str
    sample_utterances: tuple[str, ...]
    fulfillment_code_hook: bool
    fallback: bool = False


@dataclass(frozen=True)
class LexLocale:
    """One locale of the bot: its voice, intents and the alias's code hook for it."""

    locale_id: str
    voice: str
    intents: tuple[LexIntent, ...]
    code_hook_function: str | None  # the function the alias's code hook ARN names

    @property
    def fallback(self) -> LexIntent:
        return next(i for i in self.intents if i.fallback)

    def intent_for(self, utterance: str) -> LexIntent:
        said = " ".join(utterance.lower().split())
        for intent in self.intents:
            if not intent.fallback and said in {" ".join(u.lower().split()) for u in intent.sample_utterances}:
                return intent
        return self.fallback

    @property
    def code_hook_on(self) -> bool:
        """True when the fallback intent's fulfillment calls the alias's Lambda."""
        return self.fallback.fulfillment_code_hook


@dataclass(frozen=True)
class LexBot:
    """One deployed bot alias and its locales, as the template defines them. ``locale_id``,
    ``voice``, ``intents``, ``code_hook_function``, ``fallback`` and ``intent_for`` are the first
    locale's (the template's first, ``en_US``); ``code_hook_on``: every locale's hook is on."""

    alias_arn: str
    bot_id: str
    bot_name: str
    alias_id: str
    alias_name: str
    locales: tuple[LexLocale, ...]
    idle_session_ttl_s: int
    version: str = "1"

    def locale(self, locale_id: str) -> LexLocale | None:
        """The locale ``locale_id`` (Lex's ``es_US`` or Connect's ``es-US``), None if the bot has none."""
        wanted = locale_id.replace("-", "_")
        return next((locale for locale in self.locales if locale.locale_id == wanted), None)

    @property
    def locale_ids(self) -> tuple[str, ...]:
        return tuple(locale.locale_id for locale in self.locales)

    @property
    def locale_id(self) -> str:
        return self.locales[0].locale_id

    @property
    def voice(self) -> str:
        return self.locales[0].voice

    @property
    def intents(self) -> tuple[LexIntent, ...]:
        return self.locales[0].intents

    @property
    def code_hook_function(self) -> str | None:
        return self.locales[0].code_hook_function

    @property
    def fallback(self) -> LexIntent:
        return self.locales[0].fallback

    def intent_for(self, utterance: str) -> LexIntent:
        return self.locales[0].intent_for(utterance)

    @property
    def code_hook_on(self) -> bool:
        return all(locale.code_hook_on for locale in self.locales)


def bot_from_template(template: dict[str, Any], parameters: Mapping[str, str], outputs: Mapping[str, str]) -> LexBot:
    """The bot of ``template`` for a deployment with ``parameters`` (``Stage``, ``TurnPath``, the
    pseudo parameters ``AWS::Region``/``AWS::AccountId``/``AWS::Partition``) whose stack has
    ``outputs`` (``LexBotAliasArn``, ``LexBotId``: what CloudFormation made).

    Raises:
        LexBotDefinitionError: the template has no playable bot.
    """
    resources = template.get("Resources", {})
    bots = [k for k, r in resources.items() if r["Type"] == "AWS::Lex::Bot"]
    aliases = [k for k, r in resources.items() if r["Type"] == "AWS::Lex::BotAlias"]
    if len(bots) != 1 or len(aliases) != 1:
        raise LexBotDefinitionError(f"expected one AWS::Lex::Bot and one AWS::Lex::BotAlias, found {bots} {aliases}")
    if "LexBotAliasArn" not in outputs:
        raise LexBotDefinitionError("the stack outputs have no LexBotAliasArn")
    alias_arn = outputs["LexBotAliasArn"]
    bot_id, alias_id = alias_arn.rsplit("/", 2)[-2:]
    physical = {bots[0]: outputs.get("LexBotId", bot_id), aliases[0]: f"{alias_id}|{bot_id}"}
    attributes = {(aliases[0], "Arn"): alias_arn, (aliases[0], "BotAliasId"): alias_id,
                  (bots[0], "Id"): physical[bots[0]]}  # fmt: skip

    def physical_id(logical_id: str) -> str:
        if logical_id not in physical:
            raise TemplateReferenceError(logical_id)
        return physical[logical_id]

    def attribute(logical_id: str, name: str) -> str:
        if (logical_id, name) not in attributes:
            raise TemplateReferenceError(f"{logical_id}.{name}")
        return attributes[(logical_id, name)]

    pseudo = {k: v for k, v in parameters.items() if k.startswith("AWS::")}
    given = {k: v for k, v in parameters.items() if not k.startswith("AWS::")}
    resolver = Resolver(template, {**parameter_values(template, given), **pseudo}, physical_id, attribute)
    try:
        # What Lex does at run time; not the role, version or description (nothing here uses them).
        bot = {k: resolver.resolve(v) for k, v in resources[bots[0]]["Properties"].items()
               if k in ("Name", "IdleSessionTTLInSeconds", "BotLocales")}  # fmt: skip
        alias = {k: resolver.resolve(v) for k, v in resources[aliases[0]]["Properties"].items()
                 if k in ("BotAliasName", "BotAliasLocaleSettings")}  # fmt: skip
    except TemplateReferenceError as exc:
        raise LexBotDefinitionError(f"the bot's properties refer to {exc}") from exc
    locales = bot.get("BotLocales") or []
    if not locales:
        raise LexBotDefinitionError("the bot has no BotLocales")
    return LexBot(
        alias_arn=alias_arn,
        bot_id=physical[bots[0]],
        bot_name=str(bot.get("Name", "")),
        alias_id=alias_id,
        alias_name=str(alias.get("BotAliasName", "")),
        locales=tuple(_locale(locale, alias.get("BotAliasLocaleSettings", [])) for locale in locales),
        idle_session_ttl_s=int(bot.get("IdleSessionTTLInSeconds", 300)),
    )


def _locale(locale: dict[str, Any], settings: list[dict[str, Any]]) -> LexLocale:
    intents = tuple(_intent(i) for i in locale.get("Intents", []))
    if sum(i.fallback for i in intents) != 1:
        raise LexBotDefinitionError(f"locale {locale.get('LocaleId')} needs exactly one {FALLBACK_SIGNATURE} intent")
    hook_arn = None
    for setting in settings:
        inner = setting.get("BotAliasLocaleSetting", {})
        if setting.get("LocaleId") == locale["LocaleId"] and inner.get("Enabled") in (True, "true", "True"):
            hook_arn = inner.get("CodeHookSpecification", {}).get("LambdaCodeHook", {}).get("LambdaArn")
    voice = locale.get("VoiceSettings", {})
    return LexLocale(
        locale_id=str(locale["LocaleId"]),
        voice=f"{voice.get('VoiceId', '')}/{voice.get('Engine', '')}",
        intents=intents,
        code_hook_function=function_name(hook_arn) if hook_arn else None,
    )


def _intent(declaration: dict[str, Any]) -> LexIntent:
    hook = declaration.get("FulfillmentCodeHook") or {}
    return LexIntent(
        name=str(declaration["Name"]),
        sample_utterances=tuple(str(u["Utterance"]) for u in declaration.get("SampleUtterances", [])),
        fulfillment_code_hook=hook.get("Enabled") in (True, "true", "True"),
        fallback=declaration.get("ParentIntentSignature") == FALLBACK_SIGNATURE,
    )


def function_name(arn: str) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`` -> ``<name>``."""
    if ":function:" not in arn:
        return arn
    return arn.split(":function:", 1)[1].split(":", 1)[0]


# --- at run time -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeHookAnswer:
    """What the code hook returned (``answer``), or why it failed (``error``)."""

    answer: Any = None
    error: str | None = None


CodeHook = Callable[[str, dict[str, Any]], CodeHookAnswer]  # (function, event) -> answer


@dataclass(frozen=True)
class LexInteraction:
    """One utterance through the bot: what Lex decided and what it played."""

    dialog_action: Literal["ElicitIntent", "Close"] | None  # None: an error
    intent_name: str
    input_transcript: str
    session_attributes: dict[str, str]
    messages: tuple[tuple[str, str], ...] = ()  # (contentType, content) played to the caller
    dialog_state: str = "Fulfilled"
    code_hook_called: bool = False
    error: str | None = None


@dataclass
class _Session:
    attributes: dict[str, str] = field(default_factory=dict)
    last_ms: float | None = None


class LexRuntime:
    """The bots a contact can reach, with their sessions (one per session id)."""

    def __init__(self, bots: list[LexBot]) -> None:
        self._bots = {bot.alias_arn: bot for bot in bots}
        self._sessions: dict[tuple[str, str, str], _Session] = {}  # (alias, locale, session id)

    def bot(self, alias_arn: str) -> LexBot | None:
        return self._bots.get(alias_arn)

    def session_attributes(
        self, alias_arn: str, session_id: str, now_ms: float, locale_id: str | None = None
    ) -> dict[str, str]:
        return dict(self._session(alias_arn, session_id, now_ms, locale_id).attributes)

    def end_timeout_ms(
        self,
        alias_arn: str,
        session_id: str,
        block_attributes: Mapping[str, str],
        now_ms: float,
        locale_id: str | None = None,
    ) -> int:
        """The end-of-utterance silence Lex waits for before it takes the caller's next words.

        ``block_attributes``: what the Connect block passes if this utterance starts its
        conversation (see ``recognize``), else nothing.
        """
        attributes = {**self.session_attributes(alias_arn, session_id, now_ms, locale_id), **block_attributes}
        return end_timeout_ms(attributes)

    def recognize(
        self,
        alias_arn: str,
        session_id: str,
        utterance: str,
        block_attributes: Mapping[str, str],
        now_ms: float,
        code_hook: CodeHook,
        locale_id: str | None = None,
    ) -> LexInteraction:
        """One caller utterance: recognised in ``locale_id`` (Lex's ``es_US`` or the contact's
        ``es-US``; None: the bot's first locale), fulfilled by the code hook when it is on. A
        locale the bot lacks is an error (``ResourceNotFoundException``).

        ``block_attributes``: the Connect block's ``LexSessionAttributes`` when this utterance
        starts the block's conversation (its first in an entry of the block), merged over the
        session's; empty for the utterances after it in the same entry, so the attributes the
        code hook returned (an end timeout among them) prevail over the block's.
        """
        bot = self._bots[alias_arn]
        locale = bot.locale(locale_id) if locale_id is not None else bot.locales[0]
        if locale is None:
            error = f"ResourceNotFoundException: the bot has no locale {locale_id} ({', '.join(bot.locale_ids)})"
            return LexInteraction(None, "", utterance, dict(block_attributes), (), "Failed", False, error)
        session = self._session(alias_arn, session_id, now_ms, locale.locale_id)
        session.attributes = {**session.attributes, **block_attributes}
        session.last_ms = now_ms
        intent = locale.intent_for(utterance)
        if not intent.fulfillment_code_hook or locale.code_hook_function is None:
            return LexInteraction("Close", intent.name, utterance, dict(session.attributes))
        event = code_hook_event(bot, session_id, utterance, intent, session.attributes, locale.locale_id)
        hooked = code_hook(locale.code_hook_function, event)
        if hooked.error is not None:
            return _failed(intent, utterance, session.attributes, hooked.error)
        parsed = parse_code_hook_answer(hooked.answer)
        if isinstance(parsed, str):
            return _failed(intent, utterance, session.attributes, parsed)
        action, attributes, messages, intent_name, state = parsed
        session.attributes = attributes
        return LexInteraction(action, intent_name or intent.name, utterance, dict(attributes), messages, state, True)

    def _session(self, alias_arn: str, session_id: str, now_ms: float, locale_id: str | None = None) -> _Session:
        bot = self._bots[alias_arn]
        locale = (locale_id or bot.locale_id).replace("-", "_")
        session = self._sessions.setdefault((alias_arn, locale, session_id), _Session())
        if session.last_ms is not None and now_ms - session.last_ms > bot.idle_session_ttl_s * 1000:
            session.attributes, session.last_ms = {}, None  # idle past the TTL: a new session
        return session


def _failed(intent: LexIntent, utterance: str, attributes: Mapping[str, str], error: str) -> LexInteraction:
    return LexInteraction(None, intent.name, utterance, dict(attributes), (), "Failed", True, error)


def end_timeout_ms(attributes: Mapping[str, str], intent: str = "*", slot: str = "*") -> int:
    """``x-amz-lex:audio:end-timeout-ms:<intent>:<slot>``, the most specific key first."""
    for key in (f"{intent}:{slot}", f"{intent}:*", f"*:{slot}", "*:*"):
        value = attributes.get(f"{END_TIMEOUT_KEY}:{key}")
        if value is not None and value.strip().isdigit():
            return int(value)
    return DEFAULT_END_TIMEOUT_MS


def code_hook_event(
    bot: LexBot,
    session_id: str,
    utterance: str,
    intent: LexIntent,
    attributes: Mapping[str, str],
    locale_id: str | None = None,
) -> dict[str, Any]:
    """The fulfillment code hook event Lex sends for one utterance, on AWS's published sample;
    ``bot.localeId`` is the locale of the conversation (default: the bot's first)."""
    event = copy.deepcopy(_sample())
    event["sessionId"] = session_id
    event["inputTranscript"] = utterance
    event["bot"] = {"id": bot.bot_id, "name": bot.bot_name, "localeId": (locale_id or bot.locale_id).replace("-", "_"),
                    "version": bot.version, "aliasId": bot.alias_id, "aliasName": bot.alias_name}  # fmt: skip
    state = {"name": intent.name, "slots": {}, "state": "ReadyForFulfillment", "confirmationState": "None"}
    event["interpretations"] = [{"interpretationSource": "Lex", "intent": dict(state)}]
    event["sessionState"] = {**event["sessionState"], "sessionAttributes": dict(attributes), "intent": dict(state)}
    transcription = event["transcriptions"][0]
    transcription.update({"transcription": utterance, "resolvedContext": {"intent": intent.name}})
    event["transcriptions"] = [transcription]
    return event


def parse_code_hook_answer(
    answer: Any,
) -> tuple[Literal["ElicitIntent", "Close"], dict[str, str], tuple[tuple[str, str], ...], str | None, str] | str:
    """``(dialog action, session attributes, messages, intent name, dialog state)`` from a code
    hook response, or why Lex would refuse it (lambda-response-format.html)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("sessionState"), dict):
        return "InvalidLambdaResponse: no sessionState"
    state = answer["sessionState"]
    action = (state.get("dialogAction") or {}).get("type")
    if action not in DIALOG_ACTIONS:
        return f"InvalidLambdaResponse: dialogAction {action!r} is not one of {DIALOG_ACTIONS}"
    attributes = state.get("sessionAttributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        return "InvalidLambdaResponse: sessionAttributes must map strings to strings"
    messages = []
    for message in answer.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not 1 <= len(content) <= MAX_MESSAGE_CHARS:
            return "InvalidLambdaResponse: a message content must be 1 to 1024 characters"
        messages.append((str(message.get("contentType", "PlainText")), content))
    if action == "ElicitIntent" and not messages:
        return "InvalidLambdaResponse: ElicitIntent needs messages"
    intent = state.get("intent") if isinstance(state.get("intent"), dict) else {}
    name = intent.get("name") if isinstance(intent.get("name"), str) else None
    state_name = intent.get("state") or ("Fulfilled" if action == "Close" else "ElicitIntent")
    return action, dict(attributes), tuple(messages), name, str(state_name)


_samples: list[dict[str, Any]] = []


def _sample() -> dict[str, Any]:
    if not _samples:
        _samples.append(json.loads(CODE_HOOK_SAMPLE.read_text()))
    return _samples[0]


def lex_locale(language: str) -> str:
    """The Lex V2 locale id of a BCP-47 language tag, as Connect's Get customer input block picks
    the bot's locale from the contact's language: ``es-US`` -> ``es_US``."""
    return language.replace("-", "_")
