"""``sim.connect_flow`` and ``sim.lex_bot``: the contact flow checked when it is loaded (each broken
rule a named error) and each block run with its parameters, branches and errors — the checked-in
flow, filled as a user would fill it, with scripted functions in place of the handlers (fast: no
embedded AWS)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from sim import connect_flow as cf
from sim import flow_language as fl
from sim.calls import CallTurn, RecordedCall, RecordedCaller
from sim.connect_flow import (
    CallerTurn,
    Contact,
    ContactReport,
    LambdaCall,
    LambdaResult,
    Listen,
    MediaSource,
    Utterance,
)
from sim.connect_instance import FLOW, SimulatedConnect, connect_for
from sim.flow_language import ContactFlow
from sim.lex_bot import DEFAULT_END_TIMEOUT_MS, END_TIMEOUT_KEY, CodeHookAnswer, LexRuntime

OUTPUTS = {
    "TurnFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:switchboard-dev-turn",
    "TranscriberFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:switchboard-dev-transcriber",
    "LexBotAliasArn": "arn:aws:lex:us-east-1:123456789012:bot-alias/SWBBOTID01/SWBALIAS01",
    "LexBotId": "SWBBOTID01",
}
PARAMETERS = {"Stage": "dev", "ConnectInstanceId": "3f2a7c1e-0000-4000-8000-000000000001"}
# The contact's language first: an en-US contact gets the English voice and language.
ENGLISH_START = ["contact-language", "voice-en-US", "language-en-US"]
CHECKED_IN = json.loads(FLOW.read_text())


@pytest.fixture(scope="module")
def connect() -> SimulatedConnect:
    return connect_for(OUTPUTS, PARAMETERS, ["turn", "transcriber"])


# --- scripted functions and callers ---------------------------------------------------------------


class Turns:
    """A turn function answering from a script: each caller turn gets the next ``(action,
    prompt)`` or ``(action, prompt, end timeout)`` (default 600 ms), a turn delivered again the
    same answer; answers in the format of the event (Connect STRING_MAP or Lex response), the end
    timeout where the turn function puts it."""

    def __init__(self, *script: tuple[str, str] | tuple[str, str, int], queue: str = "FraudTeam") -> None:
        self.script = [(*entry, 600)[:3] for entry in script]
        self.calls: list[LambdaCall] = []
        self.queue = queue
        self._answered: dict[str, tuple[Any, ...]] = {}

    def __call__(self, call: LambdaCall) -> LambdaResult:
        self.calls.append(call)
        event = call.event
        if call.function != "turn":
            return LambdaResult({"status": "ok"})
        if "sessionState" not in event and event["Details"]["Parameters"].get("warmup") == "true":
            return LambdaResult({"action": "warm"})
        key = json.dumps(event.get("sessionState", {}).get("sessionAttributes") or event.get("Details", {}).get(
            "ContactData", {}).get("Attributes"), sort_keys=True)  # fmt: skip
        if key not in self._answered:
            self._answered[key] = self.script.pop(0) if self.script else ("speak", "<speak>Anything else?</speak>", 600)
        return LambdaResult(self.answer(event, *self._answered[key]))

    def answer(self, event: dict[str, Any], action: str, prompt: str, end_timeout_ms: int = 600) -> dict[str, Any]:
        if "sessionState" in event:
            attributes = dict(event["sessionState"]["sessionAttributes"])
            turn = int(attributes.get("turn", "1"))
            attributes.update({"action": action, "turn": str(turn + 1), "intent": "x", "tier": "0",
                               f"{END_TIMEOUT_KEY}:*:*": str(end_timeout_ms)})  # fmt: skip
            if action == "handover":
                attributes["queue"] = self.queue
            kind = "ElicitIntent" if action == "speak" else "Close"
            state: dict[str, Any] = {"sessionAttributes": attributes, "dialogAction": {"type": kind}}
            if kind == "Close":
                state["intent"] = {"name": "FallbackIntent", "state": "Fulfilled"}
            return {"sessionState": state, "messages": [{"contentType": "SSML", "content": prompt}]}
        turn = int(event["Details"]["ContactData"]["Attributes"].get("turn", "1"))
        answer = {"action": action, "prompt": prompt, "turn": str(turn + 1), "intent": "x", "tier": "0",
                  "end_timeout_ms": str(end_timeout_ms)}  # fmt: skip
        if action == "handover":
            answer["queue"] = self.queue
        return answer

    def turn_calls(self) -> list[LambdaCall]:
        return [c for c in self.calls if c.utterance is not None]


class Says:
    """A caller saying ``words`` in order, then hanging up; keeps what it was asked."""

    def __init__(self, *words: str | Utterance) -> None:
        self.words = [w if isinstance(w, Utterance) else Utterance(w) for w in words]
        self.asked: list[Listen] = []

    def speak(self, listen: Listen) -> Utterance | None:
        self.asked.append(listen)
        return self.words.pop(0) if self.words else None


def play(
    connect: SimulatedConnect,
    caller: Says,
    invoke: Callable[[LambdaCall], LambdaResult],
    *,
    path: str = "InvokeLambda",
    flow: dict[str, Any] | None = None,
    contact: Contact | None = None,
    **options: Any,
) -> ContactReport:
    parsed = connect.parse(flow) if flow is not None else None
    return connect.play(contact or Contact("c-flow-1"), caller, path, invoke, flow=parsed, **options)  # type: ignore[arg-type]


def edited(change: Callable[[dict[str, dict[str, Any]]], None]) -> dict[str, Any]:
    """A copy of the checked-in flow, ``change`` applied to its actions by identifier."""
    flow = copy.deepcopy(CHECKED_IN)
    change({a["Identifier"]: a for a in flow["Actions"]})
    return flow


# --- static checks ----------------------------------------------------------------------------------


def test_the_checked_in_flow_loads_with_its_placeholders_and_filled(connect: SimulatedConnect) -> None:
    ContactFlow.parse(CHECKED_IN, filled=False)
    assert "${" not in json.dumps(connect.flow.source)
    assert connect.flow.attributes_set == {"turn", "queue"}


def test_a_flow_still_holding_placeholders_is_refused_where_a_filled_one_is_needed() -> None:
    with pytest.raises(fl.FlowPlaceholderUnfilledError, match="TurnFunctionArn"):
        ContactFlow.parse(CHECKED_IN)


def _set(identifier: str, key: str, value: Any) -> Callable[[dict[str, dict[str, Any]]], None]:
    def change(actions: dict[str, dict[str, Any]]) -> None:
        target: dict[str, Any] = actions[identifier]
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value

    return change


REDACTION = "Parameters.VoiceBehavior.VoiceAnalyticsBehavior.ConversationalAnalyticsRedactionConfiguration"
BROKEN = {
    "unknown block": (_set("greet", "Type", "GetCustomerInputV9"), fl.FlowBlockUnknownError),
    "dangling transition": (_set("take-turn", "Transitions.NextAction", "nowhere"), fl.FlowTransitionDanglingError),
    "identifier with a colon": (_set("disconnect", "Identifier", "bye:now"), fl.FlowIdentifierInvalidError),
    "identifier too long": (_set("disconnect", "Identifier", "d" * 51), fl.FlowIdentifierInvalidError),
    "identifier with __proto__": (_set("disconnect", "Identifier", "x__proto__"), fl.FlowIdentifierInvalidError),
    "attribute never set": (_set("route-queue", "Parameters.ComparisonValue", "$.Attributes.team"),
                            fl.FlowReferenceUnsetError),
    "a namespace the language lacks": (_set("route-queue", "Parameters.ComparisonValue", "$.Session.queue"),
                                       fl.FlowReferenceInvalidError),
    "a JSONPath in a static parameter": (_set("take-turn", "Parameters.InvocationTimeLimitSeconds", "$.External.t"),
                                         fl.FlowParameterInvalidError),
    "text around a single-JSONPath parameter": (_set("branch-on-action", "Parameters.ComparisonValue",
                                                     "action $.External.action"), fl.FlowParameterInvalidError),
    "a static comparison value": (_set("branch-on-action", "Parameters.ComparisonValue", "speak"),
                                  fl.FlowParameterInvalidError),
    "a synchronous limit above 8 s": (_set("take-turn", "Parameters.InvocationTimeLimitSeconds", "9"),
                                      fl.FlowParameterInvalidError),
    "an unknown parameter": (_set("take-turn", "Parameters.Retries", "3"), fl.FlowParameterInvalidError),
    "attribute key with a space": (_set("keep-turn", "Parameters.Attributes", {"the turn": "$.External.turn"}),
                                   fl.FlowParameterInvalidError),
    "analytics without ChannelMismatch": (_set("analytics-on", "Transitions.Errors",
                                               [{"NextAction": "stream-on", "ErrorType": "NoMatchingError"}]),
                                          fl.FlowErrorBranchMissingError),
    "an error type the block cannot raise": (_set("keep-turn", "Transitions.Errors",
                                                  [{"NextAction": "disconnect", "ErrorType": "QueueAtCapacity"}]),
                                             fl.FlowErrorTypeUnknownError),
    "conditions on a block without them": (_set("keep-queue", "Transitions.Conditions", [
        {"NextAction": "disconnect", "Condition": {"Operator": "Equals", "Operands": ["x"]}}]),
        fl.FlowConditionInvalidError),
    "no NextAction": (_set("speak", "Transitions.NextAction", None), fl.FlowTransitionMissingError),
    "a Contact Lens redaction result the block lacks": (_set("analytics-on", f"{REDACTION}.RedactionResults",
                                                             "Original"), fl.FlowParameterInvalidError),
    "a Contact Lens mask mode the block lacks": (_set("analytics-on", f"{REDACTION}.RedactionMaskMode", "Stars"),
                                                 fl.FlowParameterInvalidError),
    "Contact Lens redaction of no entities": (_set("analytics-on", f"{REDACTION}.RedactionEntities", []),
                                              fl.FlowParameterInvalidError),
    "Contact Lens redaction neither on nor off": (_set("analytics-on", f"{REDACTION}.Enabled", "Yes"),
                                                  fl.FlowParameterInvalidError),
    "a voice Polly lacks": (_set("voice-es-US", "Parameters.TextToSpeechVoice", "Lupita"),
                            fl.FlowParameterInvalidError),
    "an engine the voice lacks": (_set("voice-es-US", "Parameters.TextToSpeechEngine", "LongForm"),
                                  fl.FlowParameterInvalidError),
    "a speaking style the block lacks": (_set("voice-en-US", "Parameters.TextToSpeechStyle", "Whisper"),
                                         fl.FlowParameterInvalidError),
    "Set voice without NoMatchingError": (_set("turn-voice", "Transitions.Errors", []), fl.FlowErrorBranchMissingError),
    "a language code not xx-XX": (_set("language-es-US", "Parameters.LanguageCode", "Spanish"),
                                  fl.FlowParameterInvalidError),
    "contact data the interpreter does not set": (_set("language-es-US", "Parameters.Name", "Ana"),
                                                  fl.FlowParameterInvalidError),
    "text around the answer's language": (_set("turn-language", "Parameters.LanguageCode", "es $.External.language"),
                                          fl.FlowParameterInvalidError),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_rule_is_a_named_error_when_the_flow_is_loaded(case: str) -> None:
    change, error = BROKEN[case]
    with pytest.raises(error):
        ContactFlow.parse(edited(change), filled=False)


def test_more_than_250_actions_is_too_large() -> None:
    flow = copy.deepcopy(CHECKED_IN)
    filler = {"Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    flow["Actions"] += [{**filler, "Identifier": f"extra-{n}"} for n in range(251 - len(flow["Actions"]))]
    with pytest.raises(fl.FlowTooLargeError):
        ContactFlow.parse(flow, filled=False)


def test_a_repeated_identifier_and_a_missing_start_are_named() -> None:
    flow = copy.deepcopy(CHECKED_IN)
    flow["Actions"].append(copy.deepcopy(flow["Actions"][0]))
    with pytest.raises(fl.FlowIdentifierInvalidError, match="twice"):
        ContactFlow.parse(flow, filled=False)
    with pytest.raises(fl.FlowTransitionDanglingError, match="StartAction"):
        ContactFlow.parse({**CHECKED_IN, "StartAction": "hello"}, filled=False)
    with pytest.raises(fl.FlowVersionUnsupportedError):
        ContactFlow.parse({**CHECKED_IN, "Version": "2024-01-01"}, filled=False)


def test_functions_and_bots_the_deployment_lacks_are_named(connect: SimulatedConnect) -> None:
    filled = connect.fill(CHECKED_IN)
    with pytest.raises(fl.FlowFunctionUnknownError, match="switchboard-dev-turn"):
        ContactFlow.parse(filled, functions={"switchboard-dev-transcriber": "transcriber"})
    with pytest.raises(fl.FlowBotUnknownError):
        ContactFlow.parse(filled, bots=frozenset({"arn:aws:lex:us-east-1:123456789012:bot-alias/OTHER/TSTALIASID"}))


def test_references_take_the_forms_the_flow_language_allows() -> None:
    assert fl.parse_reference("$.Attributes.turn").keys == ("Attributes", "turn")
    assert fl.parse_reference("$['Attributes']['turn']").keys == ("Attributes", "turn")
    assert fl.parse_reference("$.Attributes.['a b']").keys == ("Attributes", "a b")
    assert fl.parse_reference("$.MediaStreams.Customer.Audio.StreamARN").namespace == "MediaStreams"
    assert [r.text for r in fl.references_in("Hi $.Attributes.name, you owe $1000.")] == ["$.Attributes.name"]
    assert fl.single_reference("$.External.action") is not None
    assert fl.single_reference("say $.External.action") is None


# --- running: Invoke Lambda ---------------------------------------------------------------------------


def test_the_turn_event_is_connects_with_the_blocks_parameters_and_the_stored_turn(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Sure.</speak>"), ("end", "<speak>Bye.</speak>"))
    report = play(connect, Says("hello", "bye"), turns)
    first, second = (c.event for c in turns.turn_calls())
    assert first["Name"] == "ContactFlowEvent"
    data = first["Details"]["ContactData"]
    assert (data["ContactId"], data["Channel"], data["LanguageCode"]) == ("c-flow-1", "VOICE", "en-US")
    assert data["CustomerEndpoint"] == {"Address": "+15555550100", "Type": "TELEPHONE_NUMBER"}
    assert data["InstanceARN"] == connect.instance.arn
    assert data["MediaStreams"]["Customer"]["Audio"]["StreamARN"] is None  # no streaming in this run
    assert first["Details"]["Parameters"] == {"utterance": "hello"}  # $.Lex.InputTranscript
    assert data["Attributes"] == {}
    assert second["Details"]["ContactData"]["Attributes"] == {"turn": "2"}  # keep-turn: $.External.turn
    assert turns.calls[0].event["Details"]["Parameters"] == {"warmup": "true"}  # the warm-up first
    assert report.outcome == "completed" and report.ended_by == "disconnect"
    assert [p.content for p in report.prompts][-2:] == ["<speak>Sure.</speak>", "<speak>Bye.</speak>"]


def test_an_answer_slower_than_the_time_limit_takes_the_error_branch(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Late.</speak>"))

    def slow(call: LambdaCall) -> LambdaResult:
        result = turns(call)
        return LambdaResult(result.answer, None, 8001.0 if call.utterance else 1.0)

    report = play(connect, Says("hello"), slow)
    assert ("take-turn", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.path[-3:] == ["safe-transfer-prompt", "set-default-queue", "transfer"]
    assert report.transferred and report.queue is not None and report.queue[1] == "GeneralSupport"
    assert report.turns[0].error.startswith("no answer within 8000 ms")


def test_a_failing_function_is_retried_by_connect_then_takes_the_error_branch(connect: SimulatedConnect) -> None:
    turns = Turns(("end", "<speak>Bye.</speak>"))
    failures = {"left": 2}

    def flaky(call: LambdaCall) -> LambdaResult:
        if call.utterance is not None and failures["left"]:
            failures["left"] -= 1
            return LambdaResult(None, "ProvisionedThroughputExceededException", 5.0)
        return turns(call)

    report = play(connect, Says("bye"), flaky)
    assert [c.attempt for c in turns.turn_calls()] == [2]
    assert len(report.turns[0].deliveries) == 3 and report.outcome == "completed"

    def broken(call: LambdaCall) -> LambdaResult:
        return LambdaResult(None, "RuntimeError", 1.0) if call.utterance else turns(call)

    report = play(connect, Says("bye"), broken)
    assert len(report.turns[0].deliveries) == 1 + cf.LAMBDA_RETRIES
    assert report.transferred and ("take-turn", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]


def test_lost_answers_are_invoked_again_and_the_last_answer_is_used(connect: SimulatedConnect) -> None:
    turns = Turns(("end", "<speak>Bye.</speak>"))
    report = play(connect, Says(Utterance("bye", lost_answers=2)), turns)
    turn = report.turns[0]
    assert [d.lost for d in turn.deliveries] == [True, True, False]
    assert len(turns.turn_calls()) == 3 and report.outcome == "completed"


def test_a_nested_or_non_string_answer_fails_string_map_validation(connect: SimulatedConnect) -> None:
    def nested(call: LambdaCall) -> LambdaResult:
        if call.utterance is None:
            return LambdaResult({"action": "warm"})
        return LambdaResult({"action": "speak", "prompt": {"ssml": "<speak>x</speak>"}, "turn": 2})

    report = play(connect, Says("hello"), nested)
    assert report.turns[0].error.startswith("STRING_MAP")
    assert report.transferred


def test_external_is_the_last_lambda_result_and_a_missing_key_is_a_named_error(connect: SimulatedConnect) -> None:
    def no_action(call: LambdaCall) -> LambdaResult:
        if call.utterance is None:
            return LambdaResult({"action": "warm"})
        return LambdaResult({"prompt": "<speak>x</speak>", "turn": "2"})

    with pytest.raises(fl.FlowReferenceMissingError, match=r"\$\.External\.action"):
        play(connect, Says("hello"), no_action)


def test_the_transcriber_is_started_asynchronously_once_media_streams(connect: SimulatedConnect) -> None:
    started: list[LambdaCall] = []
    media = MediaSource("arn:aws:kinesisvideo:us-east-1:123456789012:stream/sb-c-flow-1/1", "9134", 1_700_000_000_000)
    turns = Turns(("end", "<speak>Bye.</speak>"))
    report = play(connect, Says("bye"), turns, invoke_async=started.append, media=media)
    (call,) = started
    assert (call.function, call.synchronous) == ("transcriber", False)
    assert call.event["Details"]["Parameters"] == {
        "streamARN": media.stream_arn, "startFragmentNum": "9134", "connectContactId": "c-flow-1",
        "languageCode": "en-US", "transcriptionEnabled": "true", "streamAudioFromCustomer": "true",
        "streamAudioToCustomer": "true",
    }  # fmt: skip
    assert call.event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"]["StreamARN"] == media.stream_arn
    later = turns.turn_calls()[0].event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"]
    assert later["StartFragmentNumber"] == "9134"  # every later Lambda event carries the stream
    assert report.media_streaming and report.path.index("start-transcriber") < report.path.index("greet")


def test_without_media_streaming_takes_its_error_branch_and_no_transcriber_runs(connect: SimulatedConnect) -> None:
    started: list[LambdaCall] = []
    report = play(connect, Says("bye"), Turns(("end", "<speak>Bye.</speak>")), invoke_async=started.append)
    assert not started and not report.media_streaming
    assert ("stream-on", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.path[:8] == ["warm-up", *ENGLISH_START, "analytics-on", "stream-on", "greet-language", "greet"]


def test_real_time_analytics_is_on_before_the_greeting_and_a_chat_contact_mismatches(
    connect: SimulatedConnect,
) -> None:
    report = play(connect, Says(), Turns())
    assert report.real_time_analytics and report.analytics is not None
    assert set(report.analytics["modes"]) == {"RealTime", "AutomatedInteraction"}
    chat = play(connect, Says(), Turns(), contact=Contact("c-chat", channel="CHAT"))
    assert ("analytics-on", "ChannelMismatch") in [(b, k) for b, k, _ in chat.errors]
    assert not chat.real_time_analytics


def test_a_caller_who_hangs_up_abandons_the_contact(connect: SimulatedConnect) -> None:
    report = play(connect, Says("hello"), Turns(("speak", "<speak>Go on.</speak>")))
    assert (report.outcome, report.ended_by) == ("abandoned", "caller")


# --- running: queues ------------------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["FraudTeam", "Bereavement", "AccountServices", "Complaints", "GeneralSupport"])
def test_a_handover_reaches_the_queue_its_name_routes_to_by_arn(connect: SimulatedConnect, queue: str) -> None:
    report = play(connect, Says("agent"), Turns(("handover", "<speak>One moment.</speak>"), queue=queue))
    assert report.transferred and report.queue is not None
    arn, name = report.queue
    assert name == queue and arn.startswith(connect.instance.arn + "/queue/")
    assert report.attributes["queue"] == queue


def test_a_queue_name_no_branch_knows_goes_to_the_default_queue(connect: SimulatedConnect) -> None:
    report = play(connect, Says("agent"), Turns(("handover", "<speak>One moment.</speak>"), queue="Nowhere"))
    assert report.queue is not None and report.queue[1] == "GeneralSupport"
    assert ("route-queue", "NoMatchingCondition") in [(b, k) for b, k, _ in report.errors]


def test_set_working_queue_refuses_a_name_and_takes_an_id(connect: SimulatedConnect) -> None:
    turns = Turns(("handover", "<speak>One moment.</speak>"))
    by_name = edited(_set("queue-FraudTeam", "Parameters.QueueId", "FraudTeam"))
    report = play(connect, Says("agent"), turns, flow=by_name)
    assert ("queue-FraudTeam", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.queue is not None and report.queue[1] == "GeneralSupport"  # its error branch: the default
    fraud_arn = next(a for a, n in connect.instance.queues.items() if n == "FraudTeam")
    by_id = edited(_set("queue-FraudTeam", "Parameters.QueueId", fraud_arn.rsplit("/", 1)[-1]))
    report = play(connect, Says("agent"), Turns(("handover", "<speak>One moment.</speak>")), flow=by_id)
    assert report.queue == (fraud_arn, "FraudTeam")


def test_a_full_queue_plays_the_callback_message_and_hangs_up(connect: SimulatedConnect) -> None:
    full = SimulatedConnect(connect.flow, type(connect.instance)(connect.instance.arn, connect.instance.phone_number,
                            connect.instance.queues, frozenset({"FraudTeam"})), connect.functions, connect.bots,
                            connect.outputs, connect.stage)  # fmt: skip
    report = play(full, Says("agent"), Turns(("handover", "<speak>One moment.</speak>")))
    assert ("transfer", "QueueAtCapacity") in [(b, k) for b, k, _ in report.errors]
    assert not report.transferred and report.disconnected and "busy" in report.prompts[-1].content


# --- running: the other blocks -------------------------------------------------------------------------


def test_set_contact_attributes_sets_all_or_nothing(connect: SimulatedConnect) -> None:
    flow = edited(_set("keep-turn", "Parameters.Attributes", {"turn": "$.External.turn",
                                                             "queue": "$.Lex.SessionAttributes.queue"}))  # fmt: skip
    report = play(connect, Says("hello", "again"), Turns(), flow=flow)
    assert ("keep-turn", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert "turn" not in report.attributes  # the one with a value was not set either


def test_compare_takes_the_first_condition_that_holds(connect: SimulatedConnect) -> None:
    def first(actions: dict[str, dict[str, Any]]) -> None:
        conditions = actions["branch-on-action"]["Transitions"]["Conditions"]
        conditions.insert(0, {"NextAction": "end-prompt", "Condition": {"Operator": "TextStartsWith",
                                                                        "Operands": ["sp"]}})  # fmt: skip

    report = play(connect, Says("hello"), Turns(("speak", "<speak>Bye.</speak>")), flow=edited(first))
    assert report.outcome == "completed" and "speak" not in report.path


def test_an_unknown_action_takes_no_matching_condition_to_the_safe_transfer(connect: SimulatedConnect) -> None:
    report = play(connect, Says("hello"), Turns(("dance", "<speak>?</speak>")))
    assert ("branch-on-action", "NoMatchingCondition") in [(b, k) for b, k, _ in report.errors]
    assert report.transferred and "trouble" in report.prompts[-1].content


def test_a_prompt_that_is_not_one_speak_document_takes_the_error_branch(connect: SimulatedConnect) -> None:
    report = play(connect, Says("bye"), Turns(("end", "Bye <b>now")))
    assert ("end-prompt", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.disconnected


def test_a_flow_that_loops_without_the_caller_is_stopped() -> None:
    flow = edited(_set("lex-outcome", "Transitions.Errors", [{"NextAction": "lex-outcome",
                                                              "ErrorType": "NoMatchingCondition"}]))  # fmt: skip
    connect = connect_for(OUTPUTS, PARAMETERS, ["turn", "transcriber"])
    with pytest.raises(fl.FlowRunawayError):
        play(connect, Says("hello"), Turns(), flow=flow)


# --- Lex -----------------------------------------------------------------------------------------------


def test_the_bot_is_the_templates_for_the_turn_path(connect: SimulatedConnect) -> None:
    hooked, plain = connect.bots["LexCodeHook"], connect.bots["InvokeLambda"]
    assert hooked.code_hook_on and not plain.code_hook_on
    assert (hooked.locale_id, hooked.bot_name, hooked.alias_name) == ("en_US", "switchboard-dev", "dev")
    assert hooked.code_hook_function == "switchboard-dev-turn" and hooked.idle_session_ttl_s == 300
    assert hooked.alias_arn == OUTPUTS["LexBotAliasArn"] and hooked.fallback.name == "FallbackIntent"


def test_with_the_code_hook_on_lex_takes_every_turn_and_the_flow_acts_on_its_close(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Go on.</speak>"), ("handover", "<speak>One moment.</speak>"))
    report = play(connect, Says("hello", "agent"), turns, path="LexCodeHook")
    assert [c.via for c in turns.turn_calls()] == ["lex", "lex"]
    assert "take-turn" not in report.path  # the flow's Invoke Lambda never ran a turn
    assert report.path.count("greet") == 1  # ElicitIntent kept listening inside the block
    event = turns.turn_calls()[0].event
    assert event["invocationSource"] == "FulfillmentCodeHook" and event["inputTranscript"] == "hello"
    assert event["sessionState"]["sessionAttributes"]["contact_id"] == "c-flow-1"  # the block's attributes
    second = turns.turn_calls()[1].event["sessionState"]["sessionAttributes"]
    assert second["turn"] == "2"  # Lex kept the session attributes of the last answer
    assert report.queue is not None and report.queue[1] == "FraudTeam" and report.transferred
    assert [p.content for p in report.prompts].count("<speak>One moment.</speak>") == 1  # Lex played it, once
    assert "handover-prompt" not in report.path


def test_with_the_code_hook_on_an_end_disconnects_without_playing_the_prompt_again(connect: SimulatedConnect) -> None:
    report = play(connect, Says("bye"), Turns(("end", "<speak>Bye.</speak>")), path="LexCodeHook")
    assert report.disconnected and "end-prompt" not in report.path
    assert [p.by for p in report.prompts if p.content == "<speak>Bye.</speak>"] == ["lex"]


def test_with_the_code_hook_off_lex_only_transcribes(connect: SimulatedConnect) -> None:
    turns = Turns(("end", "<speak>Bye.</speak>"))
    report = play(connect, Says("that is all"), turns, path="InvokeLambda")
    (turn_call,) = turns.turn_calls()
    assert turn_call.via == "flow" and turn_call.event["Details"]["Parameters"]["utterance"] == "that is all"
    assert report.path.index("lex-outcome") < report.path.index("take-turn")


def test_a_code_hook_answer_lex_refuses_takes_the_blocks_error_branch(connect: SimulatedConnect) -> None:
    def bad(call: LambdaCall) -> LambdaResult:
        return LambdaResult({"sessionState": {"dialogAction": {"type": "ElicitIntent"}}}) if call.utterance else (
            LambdaResult({"action": "warm"}))  # fmt: skip

    report = play(connect, Says("hello"), bad, path="LexCodeHook")
    assert ("greet", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert "ElicitIntent needs messages" in (report.turns[0].error or "")
    assert report.transferred


def test_the_end_timeout_lex_waits_for_comes_from_the_flows_session_attribute(connect: SimulatedConnect) -> None:
    caller = Says("hello")
    play(connect, caller, Turns())
    assert caller.asked[0].end_timeout_ms == 600
    key = f"{END_TIMEOUT_KEY}:*:*"
    slower = edited(_set("greet", f"Parameters.LexSessionAttributes.{key}", "900"))
    caller = Says("hello")
    play(connect, caller, Turns(), flow=slower)
    assert caller.asked[0].end_timeout_ms == 900

    def unset(actions: dict[str, dict[str, Any]]) -> None:
        del actions["greet"]["Parameters"]["LexSessionAttributes"][key]

    caller = Says("hello")
    play(connect, caller, Turns(), flow=edited(unset))
    assert caller.asked[0].end_timeout_ms == DEFAULT_END_TIMEOUT_MS


@pytest.mark.parametrize("path", ["LexCodeHook", "InvokeLambda"])
def test_each_listen_waits_the_end_timeout_the_last_answer_set(connect: SimulatedConnect, path: str) -> None:
    # LexCodeHook: every turn is in the greet block (ElicitIntent keeps Lex listening), so what
    # the code hook returned prevails over the block's 600 from its second utterance on.
    # InvokeLambda: each turn enters the speak block again, which passes $.External.end_timeout_ms.
    turns = Turns(("speak", "<speak>Your account number?</speak>", 1400), ("speak", "<speak>Right?</speak>", 400),
                  ("end", "<speak>Bye.</speak>", 600))  # fmt: skip
    caller = Says("hi", "four four eight one two nine", "yes")
    report = play(connect, caller, turns, path=path)
    assert [listen.end_timeout_ms for listen in caller.asked] == [600, 1400, 400]
    assert [turn.end_timeout_ms for turn in report.turns] == [600, 1400, 400]
    assert [turn.block for turn in report.turns] == (
        ["greet"] * 3 if path == "LexCodeHook" else ["greet", "speak", "speak"]
    )
    assert report.outcome == "completed"


def test_a_code_hooks_attributes_replace_the_sessions(connect: SimulatedConnect) -> None:
    key = f"{END_TIMEOUT_KEY}:*:*"

    def hook_keeping(keep: bool) -> Callable[[LambdaCall], LambdaResult]:
        def answer(call: LambdaCall) -> LambdaResult:
            result = Turns(("speak", "<speak>Go on.</speak>"))(call)
            if call.utterance is not None:  # echo the attribute it was sent, or drop it
                attributes = result.answer["sessionState"]["sessionAttributes"]
                del attributes[key]
                if keep:
                    attributes[key] = call.event["sessionState"]["sessionAttributes"][key]
            return result

        return answer

    slower = edited(_set("greet", f"Parameters.LexSessionAttributes.{key}", "900"))
    caller = Says("hi", "more")
    play(connect, caller, hook_keeping(True), path="LexCodeHook", flow=slower)
    assert [listen.end_timeout_ms for listen in caller.asked] == [900, 900, 900]  # the block's, echoed
    caller = Says("hi", "more")
    play(connect, caller, hook_keeping(False), path="LexCodeHook", flow=slower)
    assert [listen.end_timeout_ms for listen in caller.asked] == [900, DEFAULT_END_TIMEOUT_MS, DEFAULT_END_TIMEOUT_MS]


def test_the_block_passes_its_attributes_only_when_it_starts_the_conversation(connect: SimulatedConnect) -> None:
    bot = connect.bots["LexCodeHook"]
    runtime = LexRuntime([bot])
    key = f"{END_TIMEOUT_KEY}:*:*"
    block = {key: "600", "contact_id": "c-1"}

    def hook(function: str, event: dict[str, Any]) -> CodeHookAnswer:
        attributes = {**event["sessionState"]["sessionAttributes"], key: "1400"}
        state = {"sessionAttributes": attributes, "dialogAction": {"type": "ElicitIntent"}}
        messages = [{"contentType": "SSML", "content": "<speak>Go on.</speak>"}]
        return CodeHookAnswer({"sessionState": state, "messages": messages})

    assert runtime.end_timeout_ms(bot.alias_arn, "c-1", block, 0.0) == 600  # the block starts it
    runtime.recognize(bot.alias_arn, "c-1", "hi", block, 0.0, hook)
    assert runtime.end_timeout_ms(bot.alias_arn, "c-1", {}, 10.0) == 1400  # then the hook's prevails
    second = runtime.recognize(bot.alias_arn, "c-1", "four four eight", {}, 10.0, hook)
    assert second.session_attributes[key] == "1400" and second.session_attributes["contact_id"] == "c-1"
    assert runtime.end_timeout_ms(bot.alias_arn, "c-1", block, 20.0) == 600  # a new entry of the block


def test_an_answer_without_its_end_timeout_is_a_named_error_in_the_speak_block(connect: SimulatedConnect) -> None:
    def no_timeout(call: LambdaCall) -> LambdaResult:
        result = Turns(("speak", "<speak>Go on.</speak>"))(call)
        if call.utterance is not None:
            del result.answer["end_timeout_ms"]
        return result

    with pytest.raises(fl.FlowReferenceMissingError, match=r"\$\.External\.end_timeout_ms"):
        play(connect, Says("hello", "more"), no_timeout, path="InvokeLambda")


def test_a_lex_session_idle_past_its_ttl_starts_again(connect: SimulatedConnect) -> None:
    bot = connect.bots["LexCodeHook"]
    runtime = LexRuntime([bot])
    runtime.recognize(bot.alias_arn, "s-1", "hi", {"k": "v"}, 0.0, lambda f, e: CodeHookAnswer(error="x"))
    assert runtime.session_attributes(bot.alias_arn, "s-1", 1000.0) == {"k": "v"}
    assert runtime.session_attributes(bot.alias_arn, "s-1", 301_001.0) == {}


# --- recorded calls as the caller's script -----------------------------------------------------------


def test_a_recorded_call_says_its_turns_with_connects_lost_answers_then_hangs_up() -> None:
    turns = [CallTurn(at_ms=0, caller="hi"), CallTurn(at_ms=900, caller="bye", connect_retries=2)]
    call = RecordedCall(call="c", description="d", contact_id="c-1", turns=turns)
    caller = RecordedCaller(call)
    listen = Listen("greet", 600, (), None)
    first, second = caller.speak(listen), caller.speak(listen)
    assert first is not None and second is not None
    assert (first.text, second.text, second.lost_answers, second.at_ms) == ("hi", "bye", 2, 900)
    assert caller.speak(listen) is None
    assert RecordedCaller(call, retries=False).speak(listen) == Utterance("hi", 0, 0, call.turns[0])


def test_caller_turns_report_consistency_over_their_deliveries() -> None:
    turn = CallerTurn(Utterance("x"), "greet", 600)
    turn.deliveries = [cf.Delivery("b", "turn", {}, LambdaResult({"a": "1"})),
                       cf.Delivery("b", "turn", {}, LambdaResult({"a": "2"}))]  # fmt: skip
    assert not turn.consistent


def test_a_lex_block_leaves_by_the_first_intent_condition_that_matches(connect: SimulatedConnect) -> None:
    by_intent = [
        {"NextAction": "disconnect", "Condition": {"Operator": "Equals", "Operands": ["Placeholder"]}},
        {"NextAction": "cannot-transfer", "Condition": {"Operator": "Equals", "Operands": ["FallbackIntent"]}},
    ]
    flow = edited(_set("greet", "Transitions.Conditions", by_intent))
    report = play(connect, Says("hello"), Turns(), flow=flow)
    assert report.path[report.path.index("greet") + 1] == "cannot-transfer"  # the fallback intent closed
    report = play(connect, Says("placeholder utterance never spoken"), Turns(), flow=flow)
    assert report.path[-2:] == ["greet", "disconnect"]  # the placeholder intent's sample utterance, said


def test_a_transfer_without_a_working_queue_takes_its_error_branch(connect: SimulatedConnect) -> None:
    flow = edited(_set("safe-transfer-prompt", "Transitions.NextAction", "transfer"))
    report = play(connect, Says("hello"), Turns(("dance", "<speak>?</speak>")), flow=flow)
    assert ("transfer", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert not report.transferred and report.disconnected


def test_analytics_without_a_mode_takes_its_error_branch(connect: SimulatedConnect) -> None:
    flow = edited(_set("analytics-on", "Parameters.VoiceBehavior.VoiceAnalyticsBehavior.AnalyticsModes", []))
    report = play(connect, Says(), Turns(), flow=flow)
    assert ("analytics-on", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.path[:6] == ["warm-up", *ENGLISH_START, "analytics-on", "stream-on"]
    assert not report.real_time_analytics


def test_contact_lens_redacts_its_analytics_and_keeps_no_original(connect: SimulatedConnect) -> None:
    report = play(connect, Says(), Turns())
    assert report.real_time_analytics
    assert report.contact_lens_redaction == {"enabled": True, "results": "RedactedOnly", "mask": "EntityType",
                                             "entities": ("ALL",)}  # fmt: skip


def test_contact_lens_redaction_of_chosen_entities_is_accepted_and_reported(connect: SimulatedConnect) -> None:
    flow = edited(_set("analytics-on", f"{REDACTION}.RedactionEntities", ["CREDIT_DEBIT_NUMBER", "SSN"]))
    report = play(connect, Says(), Turns(), flow=flow)
    assert report.contact_lens_redaction is not None
    assert report.contact_lens_redaction["entities"] == ("CREDIT_DEBIT_NUMBER", "SSN")


# --- the contact's language ------------------------------------------------------------------------

SPANISH_CONTACT = Contact("c-flow-es", language="es-US")


def with_language(
    turns: Turns, language: str, voice: str, *, from_turn: int = 1
) -> Callable[[LambdaCall], LambdaResult]:
    """The scripted turn function, its answers naming ``language`` and ``voice`` from the caller's
    ``from_turn``-th turn on (what the turn function's answer carries, ``$.External``)."""
    answered: list[str] = []

    def invoke(call: LambdaCall) -> LambdaResult:
        result = turns(call)
        if call.utterance is not None and isinstance(result.answer, dict) and "sessionState" not in result.answer:
            if call.utterance.text not in answered:
                answered.append(call.utterance.text)
            if answered.index(call.utterance.text) + 1 >= from_turn:
                result = LambdaResult({**result.answer, "language": language, "voice": voice})
        return result

    return invoke


def test_an_english_contact_is_spoken_to_in_joanna_and_listened_to_in_en_us(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Go on.</speak>"), ("end", "<speak>Bye.</speak>"))
    report = play(connect, Says("hello", "bye"), turns)
    assert report.path[1:4] == ENGLISH_START and (report.language, report.voice) == ("en-US", ("Joanna", "neural"))
    assert "greet" in report.path and "greet-es-US" not in report.path
    assert {p.voice for p in report.prompts} == {"Joanna"}
    assert {c.event["Details"]["ContactData"]["LanguageCode"] for c in turns.turn_calls()} == {"en-US"}


@pytest.mark.parametrize("path", ["InvokeLambda", "LexCodeHook"])
def test_a_spanish_contact_gets_the_spanish_voice_greeting_and_bot_locale(connect: SimulatedConnect, path: str) -> None:
    turns = Turns(("speak", "<speak>Claro.</speak>"), ("end", "<speak>Adiós.</speak>"))
    report = play(connect, Says("hola", "adiós"), turns, path=path, contact=SPANISH_CONTACT)
    assert report.path[1:4] == ["contact-language", "voice-es-US", "language-es-US"]
    assert (report.language, report.voice) == ("es-US", ("Lupe", "neural"))
    assert "greet-es-US" in report.path and "greet" not in report.path
    greeting = report.prompts[0]
    assert (greeting.block, greeting.voice) == ("greet-es-US", "Lupe") and "gracias por llamar" in greeting.content
    assert {p.voice for p in report.prompts} == {"Lupe"}  # Lex's messages too: Connect speaks them
    events = [c.event for c in turns.turn_calls()]
    if path == "LexCodeHook":
        assert {e["bot"]["localeId"] for e in events} == {"es_US"}  # Lex talks to the es_US locale
    else:
        assert {e["Details"]["ContactData"]["LanguageCode"] for e in events} == {"es-US"}
    assert report.outcome == "completed"
    assert {b for b, k, _ in report.errors if k == "NoMatchingError"} <= {"stream-on", "turn-voice", "turn-language"}


def test_a_language_the_bot_has_no_locale_for_is_greeted_in_english(connect: SimulatedConnect) -> None:
    report = play(connect, Says("bonjour"), Turns(("end", "<speak>Bye.</speak>")),
                  contact=Contact("c-flow-fr", language="fr-CA"))  # fmt: skip
    assert report.path[1:4] == ENGLISH_START and report.language == "en-US"
    assert report.outcome == "completed"


def test_a_lex_block_in_a_language_the_bot_lacks_takes_its_error_branch(connect: SimulatedConnect) -> None:
    flow = edited(_set("language-en-US", "Parameters.LanguageCode", "fr-CA"))
    report = play(connect, Says("bonjour"), Turns(), flow=flow)
    assert ("greet", "NoMatchingError") in [(b, k) for b, k, _ in report.errors]
    assert report.transferred


def test_the_turn_answers_language_and_voice_switch_the_next_prompt_and_listening(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Claro, en español.</speak>"), ("end", "<speak>Adiós.</speak>"))
    report = play(connect, Says("español por favor", "adiós"), with_language(turns, "es-US", "Lupe"))
    assert (report.language, report.voice) == ("es-US", ("Lupe", "neural"))
    first, second = report.turns
    assert first.prompts[0].voice == "Lupe" and first.prompts[0].block == "speak"  # the speak block, in Spanish
    assert second.event["Details"]["ContactData"]["LanguageCode"] == "es-US"  # Lex's es_US locale took it
    assert not [e for e in report.errors if e[0] in ("turn-voice", "turn-language")]


def test_an_answer_naming_no_language_keeps_the_contacts(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Claro.</speak>"), ("end", "<speak>Adiós.</speak>"))
    report = play(connect, Says("hola", "adiós"), turns, contact=SPANISH_CONTACT)
    assert (report.language, report.voice) == ("es-US", ("Lupe", "neural"))
    missing = [(b, k) for b, k, _ in report.errors if b in ("turn-voice", "turn-language")]
    assert missing == [("turn-voice", "NoMatchingError"), ("turn-language", "NoMatchingError")] * 2


def test_an_answer_naming_a_voice_polly_lacks_keeps_the_voice(connect: SimulatedConnect) -> None:
    turns = Turns(("end", "<speak>Adiós.</speak>"))
    report = play(connect, Says("hola"), with_language(turns, "es-US", "Lupita"), contact=SPANISH_CONTACT)
    assert report.voice == ("Lupe", "neural")
    assert next(w for b, _, w in report.errors if b == "turn-voice").startswith("TextToSpeechVoice 'Lupita'")


def test_the_transcriber_starts_in_the_contacts_language(connect: SimulatedConnect) -> None:
    started: list[LambdaCall] = []
    media = MediaSource("arn:aws:kinesisvideo:us-east-1:123456789012:stream/sb-c-flow-es/1", "9134", 1_700_000_000_000)
    play(connect, Says("adiós"), Turns(("end", "<speak>Adiós.</speak>")), invoke_async=started.append, media=media,
         contact=SPANISH_CONTACT)  # fmt: skip
    (call,) = started
    assert call.event["Details"]["Parameters"]["languageCode"] == "es-US"


def test_a_spanish_handover_goes_to_the_spanish_queue(connect: SimulatedConnect) -> None:
    turns = Turns(("handover", "<speak>Le comunico con el equipo de fraude.</speak>"), queue="FraudTeamSpanish")
    report = play(connect, Says("me robaron la identidad"), turns, contact=SPANISH_CONTACT)
    assert report.transferred and report.queue is not None and report.queue[1] == "FraudTeamSpanish"


def test_a_spanish_contacts_safe_line_is_spanish_and_goes_to_the_spanish_default_queue(
    connect: SimulatedConnect,
) -> None:
    def failing(call: LambdaCall) -> LambdaResult:
        return LambdaResult({"action": "warm"}) if call.utterance is None else LambdaResult(None, "Boom")

    report = play(connect, Says("hola"), failing, contact=SPANISH_CONTACT)
    assert report.path[-4:] == ["safe-transfer-prompt-language", "safe-transfer-prompt-es-US",
                                "set-default-queue-es-US", "transfer"]  # fmt: skip
    assert report.prompts[-1].content.startswith("Lo siento") and report.prompts[-1].voice == "Lupe"
    assert report.queue is not None and report.queue[1] == "GeneralSupportSpanish"


def test_contact_lens_analyses_a_spanish_contact_in_spanish(connect: SimulatedConnect) -> None:
    spanish = play(connect, Says(), Turns(), contact=SPANISH_CONTACT)
    english = play(connect, Says(), Turns())
    assert spanish.real_time_analytics and spanish.analytics is not None and english.analytics is not None
    assert (spanish.analytics["language"], english.analytics["language"]) == ("es-US", "en-US")
    assert spanish.contact_lens_redaction == english.contact_lens_redaction  # redacted the same way


def test_an_answer_naming_a_language_the_bot_lacks_is_set_back_to_english(connect: SimulatedConnect) -> None:
    turns = Turns(("speak", "<speak>Bien sûr.</speak>"), ("end", "<speak>Bye.</speak>"))
    report = play(connect, Says("en français", "bye"), with_language(turns, "fr-CA", "Gabrielle"))
    assert (report.language, report.voice) == ("en-US", ("Joanna", "neural"))
    assert "turn-language-default" in report.path and "speak" in report.path
    assert ("speak", "NoMatchingError") not in [(b, k) for b, k, _ in report.errors]  # the Lex block found its locale
