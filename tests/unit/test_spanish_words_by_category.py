"""The es-US words are written by category, not by sentence: each category takes phrasings that
are in neither labelled set (regional, Spanglish, words in between), and leaves alone the routine
look-alikes next to it (``data/languages/es-US/router.json`` and ``rules.json``)."""

from __future__ import annotations

import pytest

from chalicelib.domain.router import RouteContext, route
from chalicelib.domain.rules import Intent, classify
from tests.languages import ES

CONFIRM = RouteContext(pending="confirm_account")


@pytest.mark.parametrize(
    "utterance",
    [
        # retention and leaving
        "si me voy con at&t me dan el doble de velocidad, ¿qué pueden hacer por mí?",
        "estoy pensando en irme con t-mobile",
        "ya no quiero seguir con ustedes",
        "me dan de baja el cable pero me dejan el internet",
        # disputes: amounts in words, already returned, fees, without permission
        "me cobraron cuarenta dólares por un cable box que ya regresé a la tienda",
        "me están cobrando sesenta bucks por un servicio que nunca contraté",
        "me pusieron un recargo aunque pagué a tiempo",
        "quiero que me quiten el late fee",
        "me activaron un servicio sin preguntarme",
        "me subieron el precio sin avisar, this is not fair",
        "quiero un refund del mes pasado",
        # several requests
        "necesito pagar el bill, cambiar mi correo y que me pongan el autopay",
        "dos cosas, quiero agregar una línea y quitar el seguro del teléfono",
        # fraud, SIM swap, port-out
        "me hicieron un sim swap y ya no tengo servicio",
        "alguien entró a mi cuenta y cambió la contraseña",
        "creo que me clonaron la tarjeta con la que pago",
        # vulnerable callers, medical devices, hardship
        "mi abuelita usa una máquina de oxígeno, no le pueden cortar la luz",
        "mi papá está en diálisis en la casa",
        "me corrieron del trabajo y no me alcanza para pagar este mes",
        "ando bien corto de dinero, ¿me pueden dar chance hasta la quincena?",
        "perdí mi empleo y no voy a poder pagar",
        # troubleshooting already tried
        "ya probé con otro cable y nada",
        "el wifi se cae a cada rato, ya reseteé el router y nada",
        "ya chequé los cables y el internet sigue lentísimo",
        # safety, with words between
        "se siente un olor fuerte a gas en el sótano",
        "hay un cable caído enfrente de mi casa echando chispas",
        # complaints
        "llevo una hora esperando",
        "la operadora me colgó",
        "el técnico me dejó plantado dos veces",
        # charges disputed with words between, damages, scams
        "me descontaron dos veces de mi cuenta del banco",
        "me están cobrando la renta del módem y yo tengo el mío",
        "hay compras en mi cuenta que no son mías",
        "vinieron a instalar y me rompieron la pared",
        "me llamaron diciendo que eran de ustedes y les di mi número de cuenta",
        "no tengo los chavos para pagar ahora",
        "no me agarra el internet desde hace tres días y trabajo desde la casa",
    ],
)
def test_spanish_serious_phrasings_go_to_the_large_model(utterance: str) -> None:
    assert route(utterance, RouteContext(), ES).tier == 2


@pytest.mark.parametrize(
    "utterance",
    [
        "sí, pero ese correo ya no lo uso",
        "sí, aunque esa dirección ya no es la correcta",
        "no, ese número ya no es mío",
    ],
)
def test_spanish_corrections_of_what_is_on_file_go_to_the_large_model(utterance: str) -> None:
    assert route(utterance, CONFIRM, ES).tier == 2


@pytest.mark.parametrize(
    "utterance",
    [
        "¿cuánto tarda en reflejarse un reembolso?",  # refund status, no claim
        "¿cuánto es el recargo si pago tarde?",  # a fee question, no dispute
        "¿qué planes me ofrecen para dos líneas?",  # no retention
        "¿puedo traer mi número de otra compañía?",  # porting in
        "¿tienen promociones para clientes nuevos?",
        "¿dónde puedo pagar cuando la oficina está cerrada?",  # 'cuando' is no question
        "¿cuál es la fecha de corte de mi factura?",  # the billing cut-off date, no disconnection
        "¿puedo pagar con cheque en la oficina?",
        "necesito cambiar la cita de la instalación",
        "¿cómo le hago para pagar con la app?",
        "¿me pueden decir cuánto fue el último bill?",  # one question asked politely
        "¿hay algún cargo por cambiar de plan?",
    ],
)
def test_spanish_routine_look_alikes_stay_with_the_small_model(utterance: str) -> None:
    assert route(utterance, RouteContext(), ES).tier == 1


@pytest.mark.parametrize(
    ("utterance", "intent"),
    [
        ("¿aló? ¿me escuchas?", Intent.GREETING),
        ("¿hay alguien en la línea?", Intent.GREETING),
        ("¿con quién hablo?", Intent.GREETING),
        ("hola, buenas tardes, ¿cómo está?", Intent.GREETING),
        ("buen día", Intent.GREETING),
        ("wepa, buenas", Intent.GREETING),
        ("diga, ¿quién es?", Intent.GREETING),
        ("así mismo es", Intent.YES),
        ("ay, muchas gracias, mi reina", Intent.THANKS),
        ("pues sí, así es", Intent.YES),
        ("simón, ese mero", Intent.YES),
        ("claro que sí", Intent.YES),
        ("sí, cómo no", Intent.YES),
        ("de acuerdo", Intent.YES),
        ("no, para nada", Intent.NO),
        ("gracias, que dios le bendiga", Intent.THANKS),
        ("muchas gracias por su ayuda, señorita", Intent.THANKS),
        ("se lo agradezco mucho", Intent.THANKS),
        ("okey, thank you", Intent.THANKS),
        ("¿me lo puede decir otra vez?", Intent.REPEAT),
        ("disculpe, no le oí, ¿qué dijo?", Intent.REPEAT),
        ("¿me lo vuelve a decir más despacito?", Intent.REPEAT),
        ("¿otra vez?", Intent.REPEAT),
        ("comuníqueme con un asesor", Intent.AGENT),
        ("quiero hablar con un ser humano por favor", Intent.AGENT),
        ("¿me transfiere con una persona?", Intent.AGENT),
        ("chao, gracias", Intent.GOODBYE),
        ("ya con eso, gracias", Intent.GOODBYE),
    ],
)
def test_spanish_tier_zero_phrasings(utterance: str, intent: Intent) -> None:
    assert classify(utterance, ES.rules).intent is intent


@pytest.mark.parametrize(
    "utterance",
    [
        "el agente me dijo que me iban a dar un crédito",  # a past agent is no request for one
        "la representante me prometió un descuento",
        "no me puedo conectar con el wifi",  # 'conectar con' is no transfer
        "¿puedo pasar a la oficina a pagar?",
        "el internet va más despacio que antes",  # no repeat request
        "la app me dice otra vez error",
        "ya quedó instalado el módem pero no funciona",  # no goodbye
    ],
)
def test_spanish_look_alikes_of_tier_zero_are_no_rule(utterance: str) -> None:
    assert classify(utterance, ES.rules).intent is Intent.UNKNOWN
