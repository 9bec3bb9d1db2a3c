"""The router: explainable features, context, and its figures on the labelled set."""

from __future__ import annotations

import pytest

from chalicelib.domain.router import MODEL_QUESTION, RouteContext, route
from sim.router_eval import evaluate, labelled_file, load_labelled
from tests.languages import EN, ES


@pytest.mark.parametrize(
    ("utterance", "tier"),
    [
        ("agent!", 0),
        ("my account number is 4 4 7 1 9", 0),
        ("what are your hours on saturday", 1),
        ("can I pay my bill with a card over the phone", 1),
        ("I want to cancel my account", 2),
        ("my card was stolen", 2),
        ("why is my bill two hundred dollars when it's usually eighty", 2),
        ("I need a new card and I also want to increase my limit", 2),
        ("no not the card ending four four, the other one", 2),
    ],
)
def test_tiers_for_typical_utterances(utterance: str, tier: int) -> None:
    assert route(utterance, RouteContext(), EN).tier == tier


def test_reasons_name_the_features_that_fired() -> None:
    chosen = route("this is ridiculous, I was charged twice for the same order", RouteContext(), EN)
    assert chosen.tier == 2
    assert {"high_stakes_topic", "negative_words"} <= set(chosen.reasons)
    assert chosen.score >= 6


def test_a_routine_request_says_so() -> None:
    assert route("where is my order", RouteContext(), EN).reasons == ("routine_request",)


@pytest.mark.parametrize(
    "context",
    [RouteContext(negative_sentiment=True), RouteContext(misunderstandings=2), RouteContext(previous_failed=True)],
)
def test_session_context_sends_a_routine_request_to_the_large_model(context: RouteContext) -> None:
    assert route("what's my balance", RouteContext(), EN).tier == 1
    assert route("what's my balance", context, EN).tier == 2


def test_digits_inside_a_complaint_are_not_left_to_the_rules() -> None:
    assert route("account 4 4 7 1 2 9, you cut off my gas with no notice", RouteContext(), EN).tier == 2


def test_yes_to_a_model_question_goes_to_a_model() -> None:
    assert route("yes", RouteContext(), EN).tier == 0
    chosen = route("yes please", RouteContext(pending=MODEL_QUESTION), EN)
    assert (chosen.tier, chosen.reasons) == (1, ("answers_model_question",))


def test_labelled_set_meets_the_targets() -> None:
    """A regression guard on the shipped set (``python -m sim router-eval`` shows the misses)."""
    result = evaluate(load_labelled(), EN)
    assert result["utterances"] >= 300
    assert result["under_routing_rate"] <= 0.03
    assert result["accuracy"] >= 0.9


@pytest.mark.parametrize(
    ("utterance", "context", "tier"),
    [
        ("¿habla español?", RouteContext(), 0),
        ("quiero cancelar mi servicio", RouteContext(), 2),
        ("cancelar la cita del técnico, ya no la necesito", RouteContext(), 1),  # no service cancellation
        ("¿cuánto tiempo tarda un reembolso?", RouteContext(), 1),  # a refund's status
        ("quiero un reembolso", RouteContext(), 2),  # a refund claim
        ("¿puedo pagar con tarjeta de crédito por teléfono?", RouteContext(), 1),
        ("el señor que me atendió ayer me prometió un crédito y no aparece en mi bill", RouteContext(), 2),
        ("yo no sé cuánto debo este mes porque no me llegó el papel", RouteContext(), 1),  # "porque" is "because"
        ("porque me cobraron de más este mes", RouteContext(), 2),
        ("no, no es", RouteContext(pending="confirm_account"), 0),
        ("no, esa es la cuenta vieja, la cerré el año pasado", RouteContext(pending="confirm_account"), 2),
        ("¿por qué me cobraron doscientos doce dólares si siempre pago como ochenta?", RouteContext(), 2),
    ],
)
def test_spanish_tiers(utterance: str, context: RouteContext, tier: int) -> None:
    assert route(utterance, context, ES).tier == tier


def test_a_language_request_is_a_rules_turn_with_its_reason() -> None:
    assert route("um can we do this in spanish?", RouteContext(), EN).reasons == ("rules:language_request",)


def test_spanish_labelled_set_meets_the_targets() -> None:
    """The Spanish set (``python -m sim router-eval --language es-US`` shows the misses)."""
    result = evaluate(load_labelled(labelled_file("es-US")), ES)
    assert result["utterances"] >= 240
    assert result["under_routing_rate"] <= 0.03
    assert result["over_routing_rate"] <= 0.10


def test_words_that_normalize_to_nothing_contradict_no_confirmation() -> None:
    assert route("um?", RouteContext(pending="confirm_account"), EN).tier == 1
