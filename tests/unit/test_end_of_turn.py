"""The end of turn: what the bot's last question listens for, the end timeout it gets from
``end_of_turn.json``, the file's validation, and the timeout every rendered answer carries."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import data_files
from chalicelib.adapters.data_files import DATA, load_end_of_turn
from chalicelib.adapters.language_files import shipped_languages
from chalicelib.adapters.turn_events import read_turn_event, render_fallback_answer, render_turn_answer
from chalicelib.domain import phrases
from chalicelib.domain.conversation import Action, Reply, SpeechPart
from chalicelib.domain.end_of_turn import LEX_DEFAULT_END_TIMEOUT_MS, Listening, phrase, prompt_of
from chalicelib.errors import ConfigurationInvalidError, EventMalformedError
from chalicelib.usecases.handle_turn import TurnResult
from sim.calls import connect_event
from tests.conftest import load_json

POLICY = load_end_of_turn()
LEX_KEY = "x-amz-lex:audio:end-timeout-ms:*:*"


def speak(*parts: str | SpeechPart) -> Reply:
    speech = tuple(p if isinstance(p, SpeechPart) else SpeechPart(p) for p in parts)
    return Reply(Action.SPEAK, speech, "x")


def listening(text: str) -> Listening:
    return POLICY.listening_for(speak(text), "en-US")


# --- what the bot listens for ------------------------------------------------------------------------

YES_NO = [
    "I heard 448129. Is that right?",
    "So that's a payment of 150 dollars on December 1st. Shall I set that up for you?",
    "Thank you. So that's 150 dollars on the Visa card you just read. Shall I take the payment now?",
    "Is that correct?",
    "Your account number is 4 4 8 1 2 9, is that right?",
    "Did I get that right?",
    "Does that sound right to you?",
    "Okay, shall I go ahead and book that?",
    "Can you confirm the payment of 150 dollars?",
    "Are you still there?",
    "Is [PHONE_1] the best number to call you on?",  # a read-back: the token is the value
    "Is your account number 448129?",  # names a number, but reads one back
    "Do you want me to send a receipt by text?",
    "Have you received the text message we sent?",
    "Great, can I go ahead and take the payment?",
    "Should I cancel the old direct debit as well?",
]
DIGITS = [
    "Got it. And the three digit security code on the back of the card?",
    "And the four digit security code on the front of the card?",
    "Could you give me the last four digits of your card number?",  # digits win over the card number
    "Can you confirm the last 4 digits of your social?",
    "What's the ZIP code on the account?",
    "Please enter or say your PIN.",
    "What's your postal code?",
    "What is the verification code we just texted you?",
    "And which extension were you trying to reach?",
]
LONG_NUMBER = [
    "Please read me your account number, one digit at a time.",
    "Sorry about that. Please say your account number again, one digit at a time.",
    "What's the new card number?",
    "Okay, a payment of 150 dollars. What's the long number on the front of the card?",
    "What number should we call, and is morning, afternoon or evening best?",
    "I can set that up. First, to verify you, what's your Social Security number?",
    "Thank you, you're verified. What's the routing number of your bank?",
    "And the checking account number at that bank?",
    "Could I have your account number, please?",
    "Do you have your account number handy?",  # a yes may come with the number: the long wait is safe
    "What's the best phone number to reach you?",
    "Can you read me the 16 digit card number?",  # "16" describes the number, it reads nothing back
    "To find your order, what's the order number on your confirmation email?",
    "What's your member number? You'll find it on your card.",  # the question, not the sentence after it
]
OPEN = [
    phrases.GREETING,
    phrases.ANYTHING_ELSE,
    f"You're welcome. {phrases.ANYTHING_ELSE}",
    "Sure, what else can I help you with?",
    "Thanks, your e-mail address is updated. Anything else?",
    "Is that everything for today?",
    phrases.FALLBACK_SAY_AGAIN,  # "Could you say it again?" asks for anything, not a yes
    phrases.FALLBACK_MODEL,
    phrases.CANNOT_HELP_YET,  # no question at all
    phrases.HOLDING_LINE,
    "Thank you. And what's the expiry date on the card?",
    "Thanks. And your date of birth?",
    "What's the new e-mail address?",
    "How much would you like to pay by card today?",
    "Thanks, I have the card. Would you like to add a bank account for refunds too?",  # answered with the details
    "Are you calling about your bill or about your internet?",  # alternatives, not yes or no
    "Is it a billing question, a technical problem or something else?",
    "What can I do for you?",
    "Please tell me briefly what you're calling about.",
    "",
]


@pytest.mark.parametrize("text", YES_NO)
def test_a_confirmation_or_a_yes_no_question_listens_for_yes_or_no(text: str) -> None:
    assert listening(text) is Listening.YES_NO


@pytest.mark.parametrize("text", DIGITS)
def test_a_short_code_listens_for_digits(text: str) -> None:
    assert listening(text) is Listening.DIGITS


@pytest.mark.parametrize("text", LONG_NUMBER)
def test_asking_for_a_long_number_listens_for_one(text: str) -> None:
    assert listening(text) is Listening.LONG_NUMBER


@pytest.mark.parametrize("text", OPEN)
def test_anything_else_is_an_open_question(text: str) -> None:
    assert listening(text) is Listening.OPEN


def test_the_read_back_of_the_rules_is_a_yes_no_question_whatever_its_parts() -> None:
    reply = speak("I heard ", SpeechPart("4471", say_as="digits"), ". Is that right?")
    assert POLICY.end_timeout_ms(reply, "en-US") == POLICY.timeouts_ms[Listening.YES_NO]


@pytest.mark.parametrize("action", [Action.HANDOVER, Action.END])
def test_a_reply_lex_does_not_listen_after_is_open(action: Action) -> None:
    reply = Reply(action, (SpeechPart("Is that right?"),), "x")
    assert POLICY.listening_for(reply, "en-US") is Listening.OPEN


def test_lex_and_connect_locales_are_the_same_language_and_none_is_the_default() -> None:
    reply = speak("What's the new card number?")
    assert {POLICY.listening_for(reply, lang) for lang in ("en-US", "en_US", None)} == {Listening.LONG_NUMBER}


def test_a_language_without_cues_is_open() -> None:
    assert POLICY.listening_for(speak("Quel est le numéro de la carte ?"), "fr-CA") is Listening.OPEN


# --- Spanish (es-US) --------------------------------------------------------------------------------

SPANISH = {
    Listening.YES_NO: [
        "Tengo el número 448129. ¿Es correcto?",
        "Anoté 4471, ¿está bien?",
        "¿Desea pagar ahora?",
        "¿Quiere que le envíe un recibo por mensaje?",
        "Muy bien, ¿puedo tomar el pago ahora?",
        "¿Es 448129 su número de cuenta?",  # names a number, but reads one back
    ],
    Listening.DIGITS: [
        "¿Me dice los últimos cuatro dígitos de la tarjeta?",
        "¿Cuál es su código postal?",
        "¿Y el código de seguridad de tres dígitos?",
    ],
    Listening.LONG_NUMBER: [
        "¿Me puede dar su número de cuenta?",
        "¿Cuál es el número de tarjeta nueva?",
        "¿A qué número de teléfono le podemos llamar?",
    ],
    Listening.OPEN: [
        "¿En qué le puedo ayudar hoy?",
        "¿Le puedo ayudar en algo más?",  # an invitation: as often a new request as a no
        "¿Algo más?",
        "¿Quiere pagar con tarjeta o en efectivo?",  # offers alternatives
        "¿Qué día le viene mejor?",
    ],
}


@pytest.mark.parametrize(("text", "kind"), [(t, k) for k, texts in SPANISH.items() for t in texts])
def test_a_spanish_question_listens_for_what_it_asks_with_the_spanish_cues(text: str, kind: Listening) -> None:
    assert POLICY.listening_for(speak(text), "es-US") is kind
    assert POLICY.listening_for(speak(text), "es_US") is kind  # Lex's locale: the same language


def test_spanish_questions_are_not_read_with_the_english_cues() -> None:
    assert POLICY.listening_for(speak("¿Desea pagar ahora?"), "en-US") is Listening.OPEN
    assert POLICY.end_timeout_ms(speak("¿Desea pagar ahora?"), "es-US") == POLICY.timeouts_ms[Listening.YES_NO]


def test_the_end_timeout_after_a_spanish_reply_reads_the_spanish_cues() -> None:
    said = "¿Me puede dar su número de cuenta?"
    assert POLICY.end_timeout_after(said, "es-US") == POLICY.timeouts_ms[Listening.LONG_NUMBER]
    assert POLICY.end_timeout_after(said) == POLICY.timeouts_ms[Listening.OPEN]  # the default language: English


def test_the_prompt_is_the_last_question_or_else_the_last_sentence() -> None:
    assert prompt_of("What's your account number? You'll find it on your bill.") == "What's your account number?"
    assert prompt_of("Got it. Is that right? Is that really right?") == "Is that really right?"
    assert prompt_of("Thanks. Please say it again.") == "Please say it again."
    assert prompt_of("  ") == ""


def test_the_shipped_timeouts_are_short_for_yes_no_and_digits_and_long_for_a_long_number() -> None:
    t = POLICY.timeouts_ms
    assert t[Listening.OPEN] == LEX_DEFAULT_END_TIMEOUT_MS == 600  # Lex's default, and the greeting's in the flow
    assert t[Listening.YES_NO] <= t[Listening.DIGITS] < t[Listening.OPEN] < t[Listening.LONG_NUMBER]


def test_the_english_cue_words_live_in_the_data_file_not_in_the_code() -> None:
    tree = ast.parse((DATA.parent / "domain" / "end_of_turn.py").read_text())
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)]
    documented = {id(n.body[0].value) for n in scopes if n.body and isinstance(n.body[0], ast.Expr)}
    literals = [f" {phrase(n.value)} " for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in documented]  # fmt: skip
    cues = json.loads((DATA / "end_of_turn.json").read_text())["languages"]["en-US"]
    found = {p for kind in cues.values() for p in kind if any(f" {phrase(p)} " in text for text in literals)}
    assert found == set()


# --- the data file ------------------------------------------------------------------------------------


def shipped() -> dict[str, Any]:
    return copy.deepcopy(json.loads((DATA / "end_of_turn.json").read_text()))


def written(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "end_of_turn.json"
    path.write_text(json.dumps(data))
    return path


def test_the_shipped_file_loads_with_every_kind_timed_and_its_cues_normalised() -> None:
    assert set(POLICY.timeouts_ms) == set(Listening)
    cues = POLICY.cues["en-US"]
    assert "last four" in cues.digits and all(p == p.lower().strip() for p in cues.long_number)


@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        (lambda d: d["timeouts_ms"].pop("digits"), "timeouts_ms has no digits"),
        (lambda d: d["timeouts_ms"].update(yes_no=50), "outside 200 to 15000"),
        (lambda d: d["timeouts_ms"].update(long_number=20_000), "outside 200 to 15000"),
        (lambda d: d["timeouts_ms"].update(yes_no=900), "no longer than open"),
        (lambda d: d["timeouts_ms"].update(long_number=500), "long_number no less"),
        (lambda d: d["timeouts_ms"].update(maybe=500), "timeouts_ms"),
        (lambda d: d["timeouts_ms"].update(open="soon"), "timeouts_ms"),
        (lambda d: d.update(default_language="fr-FR"), "fr-FR has no cues"),
        (lambda d: d.update(default_language="english"), "default_language"),
        (lambda d: d["languages"]["en-US"].pop("digits"), "digits"),
        (lambda d: d["languages"]["en-US"].update(digits=[]), "digits"),
        (lambda d: d["languages"]["en-US"].update(digits=["pin", "?!"]), "en-US digits: a cue with no word"),
        (lambda d: d["languages"]["en-US"].update(lead_ins=["thank you"]), "lead_ins"),
        (lambda d: d["languages"]["en-US"].update(spelling=["a"]), "spelling"),
        (lambda d: d.update(languages={}), "languages"),
    ],
)
def test_a_broken_file_is_refused_with_a_named_error(tmp_path: Path, breakage: Any, match: str) -> None:
    data = shipped()
    breakage(data)
    with pytest.raises(ConfigurationInvalidError, match=match) as refused:
        load_end_of_turn(written(tmp_path, data))
    assert "end_of_turn.json" in str(refused.value)


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationInvalidError, match=r"end_of_turn\.json"):
        load_end_of_turn(tmp_path / "end_of_turn.json")
    (tmp_path / "end_of_turn.json").write_text("{not json")
    with pytest.raises(ConfigurationInvalidError, match=r"end_of_turn\.json"):
        load_end_of_turn(tmp_path / "end_of_turn.json")


# --- the rendered answers -----------------------------------------------------------------------------

LEX_EVENT = "lex/lex-v2-codehook-input.from-connect.json"


def answered(event: dict[str, Any], reply: Reply, language: str = "en-US") -> dict[str, Any]:
    """The answer to ``event`` of a turn answered with ``reply`` in ``language`` (the session's)."""
    result = TurnResult(reply, 1, duplicate=False, attempts=1, language=shipped_languages().get(language))
    return render_turn_answer(read_turn_event(event), result)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("I heard 448129. Is that right?", Listening.YES_NO), (phrases.ASK_ACCOUNT_AGAIN, Listening.LONG_NUMBER),
     ("What's the ZIP code?", Listening.DIGITS), (phrases.GREETING, Listening.OPEN)],
)  # fmt: skip
def test_the_invoke_lambda_answer_carries_its_end_timeout(text: str, kind: Listening) -> None:
    answer = answered(connect_event("c-eot", "hello", "1"), speak(text))
    assert answer["end_timeout_ms"] == str(POLICY.timeouts_ms[kind])
    assert all(isinstance(v, str) for v in answer.values())  # still a STRING_MAP


def test_the_invoke_lambda_answer_of_a_spanish_contact_carries_the_spanish_end_timeout() -> None:
    event = connect_event("c-eot-es", "hola", "1")
    event["Details"]["ContactData"]["LanguageCode"] = "es-US"  # what the flow's language block set
    answer = answered(event, speak("¿Me dice su código postal?"), "es-US")
    assert answer["end_timeout_ms"] == str(POLICY.timeouts_ms[Listening.DIGITS])


def test_the_lex_answer_sets_the_end_timeout_session_attribute_over_the_flows() -> None:
    event = copy.deepcopy(load_json(LEX_EVENT))
    event["sessionState"]["sessionAttributes"][LEX_KEY] = "600"  # what the flow's block passed
    answer = answered(event, speak(phrases.ASK_ACCOUNT_AGAIN))
    attributes = answer["sessionState"]["sessionAttributes"]
    assert attributes[LEX_KEY] == str(POLICY.timeouts_ms[Listening.LONG_NUMBER])
    assert answer["sessionState"]["dialogAction"] == {"type": "ElicitIntent"}


def test_a_handover_answer_carries_the_open_timeout_on_both_paths() -> None:
    reply = Reply(Action.HANDOVER, (SpeechPart(phrases.HANDOVER),), "agent", queue="GeneralSupport")
    open_ms = str(POLICY.timeouts_ms[Listening.OPEN])
    assert answered(connect_event("c-eot", "agent", "2"), reply)["end_timeout_ms"] == open_ms
    lex = answered(copy.deepcopy(load_json(LEX_EVENT)), reply)
    assert lex["sessionState"]["sessionAttributes"][LEX_KEY] == open_ms


def test_the_safe_answer_carries_its_end_timeout_on_both_paths() -> None:
    open_ms = str(POLICY.timeouts_ms[Listening.OPEN])  # "Could you say it again?" listens for anything
    connect = render_fallback_answer(read_turn_event(connect_event("c-eot", "hello", "2")), EventMalformedError("x"))
    assert connect["end_timeout_ms"] == open_ms
    unrecognised = render_fallback_answer(read_turn_event(42), EventMalformedError("x"))
    assert unrecognised["end_timeout_ms"] == open_ms
    lex = render_fallback_answer(read_turn_event(copy.deepcopy(load_json(LEX_EVENT))), EventMalformedError("x"))
    assert lex["sessionState"]["sessionAttributes"][LEX_KEY] == open_ms


def test_a_broken_shipped_file_still_answers_with_lexs_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ConfigurationInvalidError("end_of_turn.json: broken")

    monkeypatch.setattr("chalicelib.adapters.turn_events.shipped_end_of_turn", broken)
    answer = render_fallback_answer(read_turn_event(connect_event("c-eot", "hi", "2")), ConfigurationInvalidError("x"))
    assert answer["end_timeout_ms"] == str(LEX_DEFAULT_END_TIMEOUT_MS)
    assert data_files.shipped_end_of_turn() is data_files.shipped_end_of_turn()  # the real one: loaded once


def test_the_end_timeout_after_a_spoken_reply_is_the_one_its_answer_carried() -> None:
    policy = POLICY
    for said in ("I heard 4471. Is that right?", "Please read me your account number.", "How can I help you today?"):
        reply = Reply(Action.SPEAK, (SpeechPart(said),), "x")
        assert policy.end_timeout_after(said) == policy.end_timeout_ms(reply)
    assert policy.end_timeout_after("") == policy.timeouts_ms[Listening.OPEN]
