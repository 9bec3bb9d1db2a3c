"""infra/handover.asl.json and infra/contact-flow.json: valid JSON, every transition lands on a
state or action that exists, they name only functions (and outputs, queues) that exist, and the
flow turns on what the backend depends on."""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.adapters.data_files import load_end_of_turn
from chalicelib.domain.end_of_turn import Listening
from tests.conftest import ROOT
from tests.infra.cfn import Resolver, load_template

ASL = json.loads((ROOT / "infra" / "handover.asl.json").read_text())
FLOW = json.loads((ROOT / "infra" / "contact-flow.json").read_text())
CHALICE = json.loads((ROOT / ".chalice" / "config.json").read_text())
FLOW_ACTION_TYPES = {
    "InvokeLambdaFunction", "ConnectParticipantWithLexBot", "UpdateContactAttributes", "Compare",
    "MessageParticipant", "UpdateContactTargetQueue", "TransferContactToQueue", "DisconnectParticipant",
    "UpdateContactRecordingAndAnalyticsBehavior", "UpdateContactMediaStreamingBehavior",
    "UpdateContactTextToSpeechVoice", "UpdateContactData",
}  # fmt: skip
HANDOVER = json.loads((ROOT / "chalicelib" / "data" / "handover.json").read_text())
SIM_HANDOVER = json.loads((ROOT / "sim" / "handover.sim.json").read_text())
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)(?::([^{}$]+))?\}")


def app_functions() -> set[str]:
    import app as app_module

    return set(app_module.app.handler_map)


def test_the_state_machine_transitions_land_on_states_that_exist() -> None:
    states = ASL["States"]
    assert ASL["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
        assert state["Type"] in ("Task", "Choice", "Succeed", "Fail")
        if state["Type"] == "Task":
            assert "Next" in state or state.get("End") is True


def test_the_state_machine_names_only_the_apps_handover_functions() -> None:
    text = json.dumps(ASL)
    names = set(re.findall(r"\$\{([^}]+)\}", text))
    machine = load_template()["Resources"]["HandoverStateMachine"]["Properties"]
    assert names == set(machine["DefinitionSubstitutions"])
    resolver = Resolver(load_template(), "dev")
    prefix = f"arn:aws:lambda:us-east-1:000000000000:function:{CHALICE['app_name']}-dev-"
    functions = {resolver.resolve(v).removeprefix(prefix) for v in machine["DefinitionSubstitutions"].values()}
    assert functions == {"handover_prepare", "handover_wait", "handover_callback"}
    assert functions <= app_functions() and functions <= set(CHALICE["stages"]["dev"]["lambda_functions"])
    assert "handover_agent_connected" in app_functions()


def test_the_wait_is_a_callback_task_with_timeouts_from_the_input() -> None:
    wait = ASL["States"]["WaitForAgent"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert (wait["TimeoutSecondsPath"], wait["HeartbeatSecondsPath"]) == ("$.wait_seconds", "$.heartbeat_seconds")
    assert any("States.Timeout" in c["ErrorEquals"] and c["Next"] == "OfferCallback" for c in wait["Catch"])


def flow_actions() -> dict[str, dict[str, Any]]:
    return {a["Identifier"]: a for a in FLOW["Actions"]}


def test_the_contact_flow_is_flow_language_whose_transitions_exist() -> None:
    from sim.flow_language import ContactFlow

    ContactFlow.parse(FLOW, filled=False)  # the interpreter's static checks: every rule of the language
    actions = flow_actions()
    assert FLOW["Version"] == "2019-10-30" and FLOW["StartAction"] in actions
    assert len(actions) == len(FLOW["Actions"])
    for identifier, action in actions.items():
        assert action["Type"] in FLOW_ACTION_TYPES, identifier
        transitions = action["Transitions"]
        targets = [transitions.get("NextAction")] + [e["NextAction"] for e in transitions.get("Errors", [])]
        targets += [c["NextAction"] for c in transitions.get("Conditions", [])]
        for target in filter(None, targets):
            assert target in actions, f"{identifier} -> {target}"
        if action["Type"] != "DisconnectParticipant":
            assert transitions.get("Errors"), f"{identifier} has no error branch"


def test_the_flows_placeholders_are_stack_outputs_and_queues() -> None:
    found = {(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(json.dumps(FLOW))}
    outputs = {name for name, qualifier in found if qualifier is None}
    assert outputs == {"TurnFunctionArn", "TranscriberFunctionArn", "LexBotAliasArn"}
    assert outputs <= set(load_template()["Outputs"])
    assert {kind for kind, qualifier in found if qualifier is not None} == {"Queue"}
    assert "arn:" not in json.dumps(FLOW)  # no made-up ARN left to replace by hand


def test_the_flow_invokes_the_turn_and_the_transcriber_and_warms_the_turn_up_first() -> None:
    outputs = Resolver(load_template(), "dev").outputs()
    invokes = [a for a in FLOW["Actions"] if a["Type"] == "InvokeLambdaFunction"]
    assert {a["Parameters"]["LambdaFunctionARN"] for a in invokes} == {
        "${TurnFunctionArn}",
        "${TranscriberFunctionArn}",
    }
    for key in ("TurnFunctionArn", "TranscriberFunctionArn"):
        assert outputs[key].rsplit("-", 1)[-1] in app_functions()
    first = flow_actions()[FLOW["StartAction"]]
    assert first["Type"] == "InvokeLambdaFunction" and first["Parameters"]["LambdaInvocationAttributes"] == {
        "warmup": "true"
    }
    for action in invokes:
        synchronous = action["Parameters"]["InvocationType"] == "SYNCHRONOUS"
        assert synchronous == (action["Parameters"]["LambdaFunctionARN"] == "${TurnFunctionArn}")
        if synchronous:
            assert action["Parameters"]["ResponseValidation"] == {"ResponseType": "STRING_MAP"}
        assert 0 < int(action["Parameters"]["InvocationTimeLimitSeconds"]) <= (8 if synchronous else 60)


def test_the_flow_follows_the_turn_contract() -> None:
    actions = flow_actions()
    turn = next(a for a in actions.values() if a["Parameters"].get("LambdaInvocationAttributes", {}).get("utterance"))
    assert turn["Parameters"]["LambdaInvocationAttributes"] == {"utterance": "$.Lex.InputTranscript"}
    keep = actions[turn["Transitions"]["NextAction"]]
    assert keep["Type"] == "UpdateContactAttributes" and keep["Parameters"]["Attributes"] == {"turn": "$.External.turn"}
    # the voice and the language the answer names, each going on whether it names one or not
    voice = actions[keep["Transitions"]["NextAction"]]
    assert voice["Type"] == "UpdateContactTextToSpeechVoice"
    assert voice["Parameters"]["TextToSpeechVoice"] == "$.External.voice"
    language = actions[voice["Transitions"]["NextAction"]]
    assert language["Type"] == "UpdateContactData" and language["Parameters"]["LanguageCode"] == "$.External.language"
    for block in (voice, language):
        assert block["Transitions"]["Errors"] == [
            {"NextAction": block["Transitions"]["NextAction"], "ErrorType": "NoMatchingError"}
        ]
    # a language the bot has no locale for is set back to English (the Lex blocks would fail)
    locale = actions[language["Transitions"]["NextAction"]]
    assert locale["Type"] == "Compare" and locale["Parameters"]["ComparisonValue"] == "$.LanguageCode"
    assert {c["Condition"]["Operands"][0] for c in locale["Transitions"]["Conditions"]} == {"en-US", "es-US"}
    fallback_voice = actions[locale["Transitions"]["NextAction"]]
    fallback_language = actions[fallback_voice["Transitions"]["NextAction"]]
    assert fallback_voice["Parameters"]["TextToSpeechVoice"] == "Joanna"
    assert fallback_language["Parameters"]["LanguageCode"] == "en-US"
    assert {c["NextAction"] for c in locale["Transitions"]["Conditions"]} == {
        fallback_language["Transitions"]["NextAction"]
    }
    branch = actions[fallback_language["Transitions"]["NextAction"]]
    assert branch["Parameters"]["ComparisonValue"] == "$.External.action"
    by_value = {c["Condition"]["Operands"][0]: c["NextAction"] for c in branch["Transitions"]["Conditions"]}
    assert set(by_value) == {"speak", "handover", "end"}
    speak = actions[by_value["speak"]]
    assert speak["Type"] == "ConnectParticipantWithLexBot" and speak["Parameters"]["SSML"] == "$.External.prompt"
    lex_outcome = actions[speak["Transitions"]["NextAction"]]
    assert lex_outcome["Transitions"]["NextAction"] == turn["Identifier"]  # the loop, when Lex only transcribed
    keep_queue = actions[actions[by_value["handover"]]["Transitions"]["NextAction"]]
    assert keep_queue["Parameters"]["Attributes"] == {"queue": "$.External.queue"}
    route = actions[keep_queue["Transitions"]["NextAction"]]
    assert route["Type"] == "Compare" and route["Parameters"]["ComparisonValue"] == "$.Attributes.queue"
    transfer = actions["transfer"]
    assert {e["ErrorType"] for e in transfer["Transitions"]["Errors"]} == {"QueueAtCapacity", "NoMatchingError"}
    assert actions[actions[by_value["end"]]["Transitions"]["NextAction"]]["Type"] == "DisconnectParticipant"
    safe = actions[turn["Transitions"]["Errors"][0]["NextAction"]]  # a Lambda error or timeout
    assert safe["Type"] == "Compare" and safe["Parameters"]["ComparisonValue"] == "$.LanguageCode"
    for target in (safe["Transitions"]["NextAction"], safe["Transitions"]["Conditions"][0]["NextAction"]):
        line = actions[target]  # the English line, the Spanish line
        assert line["Type"] == "MessageParticipant"
        assert actions[line["Transitions"]["NextAction"]]["Type"] == "UpdateContactTargetQueue"


def test_after_a_lex_block_the_code_hooks_close_goes_on_without_the_prompt_again() -> None:
    actions = flow_actions()
    lex_blocks = [a for a in actions.values() if a["Type"] == "ConnectParticipantWithLexBot"]
    assert {a["Identifier"] for a in lex_blocks} == {"greet", "greet-es-US", "speak"}
    # The greeting (in either language) listens for anything (the open end timeout); every later
    # prompt for what the turn function's answer says (its end_timeout_ms).
    greeting = str(load_end_of_turn().timeouts_ms[Listening.OPEN])
    end_timeouts = {"greet": greeting, "greet-es-US": greeting, "speak": "$.External.end_timeout_ms"}
    for block in lex_blocks:
        assert block["Parameters"]["LexV2Bot"] == {"AliasArn": "${LexBotAliasArn}"}
        end_timeout = end_timeouts[block["Identifier"]]
        assert block["Parameters"]["LexSessionAttributes"] == {
            "contact_id": "$.ContactId", "x-amz-lex:audio:end-timeout-ms:*:*": end_timeout}  # fmt: skip
        assert block["Transitions"]["NextAction"] == "lex-outcome"
    outcome = actions["lex-outcome"]
    assert outcome["Parameters"]["ComparisonValue"] == "$.Lex.SessionAttributes.action"
    by_value = {c["Condition"]["Operands"][0]: c["NextAction"] for c in outcome["Transitions"]["Conditions"]}
    assert by_value["end"] == "disconnect"  # Lex already played the Close message
    lex_queue = actions[by_value["handover"]]
    assert lex_queue["Parameters"]["Attributes"] == {"queue": "$.Lex.SessionAttributes.queue"}
    assert lex_queue["Transitions"]["NextAction"] == "route-queue"


def _queue_names(handover: dict[str, Any]) -> set[str]:
    by_language = handover.get("language_queues", {})
    return {*handover["queues"].values(), handover["default_queue"],
            *(name for queues in by_language.values() for name in queues.values())}  # fmt: skip


def test_every_queue_handover_json_can_answer_has_its_branch_to_its_queue_arn() -> None:
    actions = flow_actions()
    route = actions["route-queue"]
    branches = {c["Condition"]["Operands"][0]: c["NextAction"] for c in route["Transitions"]["Conditions"]}
    for name in _queue_names(HANDOVER) | _queue_names(SIM_HANDOVER):
        assert name in branches, name
        target = actions[branches[name]]
        assert target["Type"] == "UpdateContactTargetQueue"
        assert target["Parameters"]["QueueId"] == "${Queue:" + name + "}"
        assert target["Transitions"]["NextAction"] == "transfer"
    # any other name: the default queue in the contact's language (es-US: its Spanish variant)
    by_language = actions[route["Transitions"]["NextAction"]]
    assert by_language["Type"] == "Compare" and by_language["Parameters"]["ComparisonValue"] == "$.LanguageCode"
    assert all(e["NextAction"] == by_language["Identifier"] for e in route["Transitions"]["Errors"])
    default = actions[by_language["Transitions"]["NextAction"]]
    assert default["Parameters"]["QueueId"] == "${Queue:" + HANDOVER["default_queue"] + "}"
    (spanish,) = by_language["Transitions"]["Conditions"]
    assert spanish["Condition"]["Operands"] == ["es-US"]
    spanish_default = HANDOVER["language_queues"]["es-US"][HANDOVER["default_queue"]]
    assert actions[spanish["NextAction"]]["Parameters"]["QueueId"] == "${Queue:" + spanish_default + "}"
    assert actions[spanish["NextAction"]]["Transitions"]["Errors"][0]["NextAction"] == default["Identifier"]


def test_the_simulated_instance_has_every_queue_the_flow_names() -> None:
    from sim.connect_instance import SIM_QUEUE_NAMES

    named = {m.group(2) for m in PLACEHOLDER.finditer(json.dumps(FLOW)) if m.group(1) == "Queue"}
    assert named <= set(SIM_QUEUE_NAMES)


def test_real_time_analytics_and_media_streaming_come_before_the_greeting() -> None:
    actions = flow_actions()
    path, current = [], FLOW["StartAction"]
    while current != "greet":
        path.append(current)
        current = actions[current]["Transitions"]["NextAction"]
    assert [actions[p]["Type"] for p in path] == [
        "InvokeLambdaFunction", "Compare", "UpdateContactTextToSpeechVoice", "UpdateContactData",
        "UpdateContactRecordingAndAnalyticsBehavior", "UpdateContactMediaStreamingBehavior", "InvokeLambdaFunction",
        "Compare"]  # fmt: skip
    path = [path[0], *path[4:7]]  # warm-up, analytics, streaming, the transcriber
    analytics = actions[path[1]]
    voice = analytics["Parameters"]["VoiceBehavior"]["VoiceAnalyticsBehavior"]
    assert voice["Enabled"] == "True" and set(voice["AnalyticsModes"]) == {"RealTime", "AutomatedInteraction"}
    assert {e["ErrorType"] for e in analytics["Transitions"]["Errors"]} == {"NoMatchingError", "ChannelMismatch"}
    streaming = actions[path[2]]
    assert streaming["Parameters"]["Participants"] == [
        {"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}
    ]
    assert streaming["Transitions"]["Errors"] == [{"NextAction": "greet-language", "ErrorType": "NoMatchingError"}]
    start = actions[path[3]]
    assert start["Transitions"]["Errors"] == [{"NextAction": "greet-language", "ErrorType": "NoMatchingError"}]


def test_the_contacts_language_sets_the_voice_and_the_language_before_anything_listens() -> None:
    actions = flow_actions()
    first = actions[actions[FLOW["StartAction"]]["Transitions"]["NextAction"]]
    assert first["Type"] == "Compare" and first["Parameters"]["ComparisonValue"] == "$.LanguageCode"
    branches = {"es-US": first["Transitions"]["Conditions"][0]["NextAction"]}
    branches["en-US"] = first["Transitions"]["NextAction"]  # any other language too
    assert first["Transitions"]["Conditions"][0]["Condition"]["Operands"] == ["es-US"]
    voices = {"en-US": "Joanna", "es-US": "Lupe"}  # the bot locales' voices (infra/template.json)
    for language, identifier in branches.items():
        voice = actions[identifier]
        assert voice["Type"] == "UpdateContactTextToSpeechVoice"
        assert voice["Parameters"] == {"TextToSpeechVoice": voices[language], "TextToSpeechEngine": "Neural",
                                       "TextToSpeechStyle": "None"}  # fmt: skip
        data = actions[voice["Transitions"]["NextAction"]]
        assert data["Type"] == "UpdateContactData"
        assert data["Parameters"] == {"LanguageCode": language, "TargetContact": "Current"}
        analytics = actions[data["Transitions"]["NextAction"]]  # Contact Lens in the contact's language
        assert analytics["Type"] == "UpdateContactRecordingAndAnalyticsBehavior"
        assert analytics["Parameters"]["VoiceBehavior"]["VoiceAnalyticsBehavior"]["AnalyticsLanguage"] == language
        assert analytics["Transitions"]["NextAction"] == "stream-on"
    locales = load_template()["Resources"]["LexBot"]["Properties"]["BotLocales"]
    assert {locale["LocaleId"].replace("_", "-"): locale["VoiceSettings"]["VoiceId"] for locale in locales} == voices


def test_the_transcriber_gets_the_attributes_its_invocation_reads() -> None:
    from chalicelib.adapters.transcriber_events import TranscriberInvocation

    start = flow_actions()["start-transcriber"]
    attributes = start["Parameters"]["LambdaInvocationAttributes"]
    aliases = {f.alias for f in TranscriberInvocation.model_fields.values() if f.alias}
    required = {f.alias for f in TranscriberInvocation.model_fields.values() if f.alias and f.is_required()}
    assert required <= set(attributes) <= aliases | {"streamAudioFromCustomer", "streamAudioToCustomer"}
    assert attributes["streamARN"] == "$.MediaStreams.Customer.Audio.StreamARN"
    assert attributes["startFragmentNum"] == "$.MediaStreams.Customer.Audio.StartFragmentNumber"
    assert attributes["connectContactId"] == "$.ContactId"


def test_every_language_the_flow_sets_statically_is_a_locale_of_the_bot() -> None:
    locales = {locale["LocaleId"] for locale in load_template()["Resources"]["LexBot"]["Properties"]["BotLocales"]}
    static = {a["Parameters"]["LanguageCode"] for a in FLOW["Actions"] if a["Type"] == "UpdateContactData"
              and not a["Parameters"]["LanguageCode"].startswith("$.")}  # fmt: skip
    assert {language.replace("-", "_") for language in static} == locales
    outputs = Resolver(load_template(), "dev").outputs()
    assert set(outputs["LexBotLocaleIds"].split(",")) == locales
