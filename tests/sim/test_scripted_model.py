"""The scripted model endpoint's keys: the caller's words and the model's redacted copy of them
find the same script; two scripts with one key are refused; every recorded call (and sim load's
variations of them) keys without a clash; every request is kept."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from chalicelib.adapters.data_files import load_tiers
from sim.calls import call_files, load_call, model_scripts
from sim.load_calls import load_calls, load_scripts
from sim.scripted_model import ScriptedModelEndpoint, keyed_scripts, script_from, script_key

CALLS = Path(__file__).resolve().parents[2] / "events" / "calls"
RECORDED = [load_call(p) for p in call_files([str(CALLS)])]


@pytest.mark.parametrize(
    ("said", "redacted"),
    [
        ("okay it's a visa, four one one one, one one one one, one one one one, one one one one",
         "okay it's a visa, [CARD_1]"),
        ("card 5105-1051-0510-5100 exp 11/29 cvv 314", "card [CARD_1] exp [EXPIRY_1] cvv [CVV_1]"),
        ("it expires oh nine twenty eight", "it expires [EXPIRY_1]"),
        ("I was born march third nineteen eighty", "I was born [DOB_1]"),
        ("yeah that's seven three seven", "yeah that's [CVV]"),
    ],
)  # fmt: skip
def test_the_words_and_their_redacted_copy_have_one_key(said: str, redacted: str) -> None:
    assert script_key(said) == script_key(redacted)


def test_a_spoken_email_address_finds_its_script_by_the_redacted_words() -> None:
    said = "hi can you send my last receipt to my email, it's sam dot lee at example dot com"
    keyed = keyed_scripts({said: script_from({"text": "sure"})})
    assert script_key("hi can you send my last receipt to my email, it's [EMAIL_1]") in keyed
    assert script_key(said) in keyed


def test_the_words_around_the_numbers_still_tell_scripts_apart() -> None:
    assert script_key("my social is [SSN_1]") != script_key("sure, my social security number is [SSN_1]")
    assert script_key("um a hundred and fifty on december first") == "um a and on"


def test_two_scripts_with_one_key_are_refused() -> None:
    scripts = {"my code is seven three seven": script_from({"text": "a"}), "my code is 48": script_from({"text": "b"})}
    with pytest.raises(ValueError, match="one script key"):
        keyed_scripts(scripts)


def test_the_recorded_calls_and_their_load_variations_key_without_a_clash() -> None:
    keyed = keyed_scripts({w: script_from(s) for w, s in model_scripts(RECORDED).items()})
    assert len(keyed) >= len(model_scripts(RECORDED))
    keyed_scripts({w: script_from(s) for w, s in load_scripts(load_calls(RECORDED, 120, 1)).items()})


def test_every_request_the_endpoint_receives_is_kept() -> None:
    with ScriptedModelEndpoint({"hello": script_from({"text": "hi"})}, load_tiers(), speed=50.0) as endpoint:
        body = {"model": "unknown", "messages": [{"role": "user", "content": "my card is [CARD_1]"}]}
        request = urllib.request.Request(  # noqa: S310 - http:// to our own loopback endpoint
            f"{endpoint.base_url}/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError):  # unscripted: 404
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback
        assert [json.loads(r) for r in endpoint.received_requests()] == [body]
