"""``sim leaks``: the scanner finds a raw value in every form a leak takes and nothing else; the
recorded calls hold exactly the values they list; one call end to end: every sink collected,
the JSON's shape, and no raw value anywhere while the payment tool got the card once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calls import call_files, load_call
from sim.leak_scan import LeakScanner, Watched
from sim.leaks import SINKS, payment_tool, watched_values

CALLS = Path(__file__).resolve().parents[2] / "events" / "calls"
RECORDED = [load_call(p) for p in call_files([str(CALLS)])]
CARD = Watched("card", "4111111111111111")
DIGIT_WORDS = {"0": ("zero", "oh"), "1": ("one",), "2": ("two",), "3": ("three",), "4": ("four",), "5": ("five",),
               "6": ("six",), "7": ("seven",), "8": ("eight",), "9": ("nine",)}  # fmt: skip


def _found(watched: Watched, text: str) -> list[str]:
    return [text[h.start : h.end] for h in LeakScanner([watched]).find(text) if h.watched == watched]


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("card", "4111111111111111", "card 4111111111111111 ok"),
        ("card", "4111111111111111", "4111 1111 1111 1111"),
        ("card", "4111111111111111", "4111-1111-1111-1111"),
        ("card", "4111111111111111", "4111.1111.1111.1111"),
        ("card", "4111111111111111", "it's 4111, 1111, 1111, 1111."),
        ("card", "4111111111111111", "Four One One One, one one one one, one one one one, one one one one"),
        ("card", "4111111111111111", "four-one-one-one one one one one one one one one one one one one"),
        ("card", "4111111111111111", "forty one eleven eleven eleven eleven eleven eleven eleven"),
        ("card", "4111111111111111", "four triple one, double one double one, one one one one, one one one one"),
        (
            "card",
            "5555555555554444",
            "triple five five, 5555, double five double five, four four three, no sorry, four four four four",
        ),
        ("card", "378282246310005", '{"caller": "the card number is 3782 822463 10005"}'),
        ("security_code", "737", "yeah that's seven three seven"),
        ("security_code", "737", "the code is 7 3 7."),
        ("security_code", "737", "cvv=737"),
        ("security_code", "4821", "sure it's four eight two one"),
        ("security_code", "737", '{"role": "caller", "text": "737"}'),
        ("security_code", "737", '{"record": {"S": "{\\"caller\\":\\"737\\"}"}}'),
        ("expiry", "09/28", "exp 09/28"),
        ("expiry", "09/28", "it expires oh nine twenty eight"),
        ("expiry", "09/28", "valid thru 9/28"),
        ("expiry", "09/28", "expires September 2028"),
        ("expiry", "09/28", "exp sept. twenty eight"),
        ("expiry", "01/30", "expiry oh one thirty"),
        ("ssn", "078051120", "my social is oh seven eight, oh five, one one two oh"),
        ("ssn", "078051120", "ssn 078-05-1120"),
        ("ssn", "219099999", "two one nine zero nine nine nine nine nine"),
        ("routing", "021000021", "routing zero two one, zero zero zero, zero two one"),
        ("bank_account", "0044772019", "account 0044-7720-19"),
        ("phone", "+15555550164", "call me on (555) 555-0164"),
        ("phone", "+15555550164", "+1 555 555 0164"),
        ("phone", "+15555550164", "five five five, five five five, oh one six four"),
        ("dob", "1980-03-03", "I was born march third nineteen eighty"),
        ("dob", "1980-03-03", "the 3rd of March, 1980"),
        ("dob", "1980-03-03", "dob 03/03/1980"),
        ("dob", "1980-03-03", "born 1980-03-03"),
        ("email", "jane.doe@example.com", "my new email is Jane.Doe@Example.com"),
        ("email", "jane.doe@example.com", "jane dot doe at example dot com"),
        ("email", "jane.doe@example.com", "j a n e dot doe at example dot com"),
        ("email", "jane.doe@example.com", "jane.doe%40example.com"),
    ],
)
def test_each_form_of_a_value_is_found(kind: str, value: str, text: str) -> None:
    assert len(_found(Watched(kind, value), text)) == 1


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        ("card", "4111111111111111", "my card is [CARD_1] and again [CARD_1], scrubbed [CARD]"),
        ("card", "4111111111111111", "a longer run 41111111111111112 or 4111111111111111111"),
        ("card", "4111111111111111", "an id card-4111111111111111x"),
        ("security_code", "737", "yeah that's [CVV_1]"),
        ("security_code", "737", '{"input_tokens": 737, "latency_ms": [737], "total": 737.4}'),
        ("security_code", "737", "0.737 s, id a737f-9e, 17370, 7 3 7 0, seven three seven eight"),
        ("security_code", "737", "execution 782ed676-737-479f"),
        ("security_code", "737", '{"stream": "segments", "sequence": "737", "seq": {"N": "737"}, "ids": ["737"]}'),
        ("security_code", "737", '{"record": {"S": "{\\"sequence\\":\\"737\\"}"}}'),
        ("expiry", "09/28", "2028-09-28T12:00:00, 13.0, 9/28/2026, 19/28, 09/281"),
        ("expiry", "01/30", '"StreamRecords.processed":[13.0]'),
        ("phone", "+15555550164", "the caller +15555550116 and 555-0164"),
        ("email", "jane.doe@example.com", "[EMAIL_1], jane at example dot com, doe@example.com, xjane.doe@example.com"),
        ("dob", "1980-03-03", "march 1980, the third, 03/04/1980"),
    ],
)
def test_tokens_ids_decimals_and_other_numbers_are_not_flagged(kind: str, value: str, text: str) -> None:
    assert _found(Watched(kind, value), text) == []


SEPARATORS = (" ", "-", ", ", ".", " - ", "/")


@st.composite
def spoken_or_written(draw: st.DrawFn, digits: str, separators: tuple[str, ...] = SEPARATORS) -> str:
    """``digits`` as a caller or a transcript would give them: numerals in groups with
    separators, or digit words ("oh", "zero", "double", "triple"), any case."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=5)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    if draw(st.booleans()):
        between = st.sampled_from(separators)
        return "".join(g + (draw(between) if i < len(groups) - 1 else "") for i, g in enumerate(groups))
    words = []
    for group in groups:
        i, said = 0, []
        while i < len(group):
            run = len(re.match(r"(.)\1*", group[i:]).group())  # type: ignore[union-attr]
            if run >= 2 and draw(st.booleans()):
                take = 3 if run >= 3 and draw(st.booleans()) else 2
                said.append(f"{'triple' if take == 3 else 'double'} {DIGIT_WORDS[group[i]][0]}")
                i += take
                continue
            said.append(draw(st.sampled_from(DIGIT_WORDS[group[i]])))
            i += 1
        words.append(" ".join(said))
    text = draw(st.sampled_from([", ", " ", ". "])).join(words)
    return text.upper() if draw(st.booleans()) else text


WORDS = ["my", "card", "is", "um", "the", "thanks", "and", "it's", "please", "[CARD_1]", "acc-550911", "dollars",
         "\"", ":", "{", "okay"]  # fmt: skip
AROUND = st.lists(st.sampled_from([*WORDS, "150"]), max_size=6)


@settings(max_examples=300, deadline=None, database=None)
@given(digits=st.text("0123456789", min_size=13, max_size=19), data=st.data())
def test_a_long_number_in_any_form_is_found(digits: str, data: st.DataObject) -> None:
    said = data.draw(spoken_or_written(digits))
    text = " ".join([*data.draw(AROUND), said, *data.draw(AROUND)])
    assert len(_found(Watched("card", digits), text)) >= 1, text


@settings(max_examples=200, deadline=None, database=None)
@given(digits=st.text("0123456789", min_size=3, max_size=4), data=st.data())
def test_a_security_code_in_any_form_is_found(digits: str, data: st.DataObject) -> None:
    # Not "." (a decimal) and no number right after it (a longer number): see the module's rules.
    said = data.draw(spoken_or_written(digits, (" ", "-", ", ", "/")))
    text = " ".join(["the", "code", "is", said, *data.draw(st.lists(st.sampled_from(WORDS), max_size=6))])
    assert len(_found(Watched("security_code", digits), text)) == 1, text


@settings(max_examples=300, deadline=None, database=None)
@given(
    card=st.text("0123456789", min_size=15, max_size=16),
    code=st.text("0123456789", min_size=3, max_size=4),
    noise=st.lists(st.one_of(st.sampled_from(["[CARD_1]", "[CVV_1]", "[EXPIRY_2]", "[PHONE_1]", "the", "code", ","]),
                             st.integers(0, 10**20).map(str), st.floats(0, 1e6).map(lambda f: f"{f:.2f}")),
                   max_size=12),
)  # fmt: skip
def test_tokens_and_other_numbers_are_never_a_value(card: str, code: str, noise: list[str]) -> None:
    text = json.dumps({"turn": noise, "tokens": int(code), "ms": float(code) + 0.5})
    digits = re.sub(r"\D", "", text)
    scanner = LeakScanner([Watched("card", card), Watched("security_code", code)])
    hits = scanner.find(text)
    # A value may only be found where its digits really are, on their own.
    for hit in hits:
        assert re.sub(r"\D", "", text[hit.start : hit.end]) == hit.watched.value, (text, hit)
    if card not in digits:
        assert not [h for h in hits if h.watched.kind == "card"]
    assert all(h.watched.kind != "security_code" or code in noise for h in hits), text


def test_each_recorded_call_holds_exactly_the_values_it_lists() -> None:
    scanner = LeakScanner(watched_values(RECORDED))
    listed = [c for c in RECORDED if c.sensitive]
    assert len(listed) >= 6
    assert {c.format for c in listed} == {"connect", "lex"}
    for call in RECORDED:
        said = "\n".join(t.caller for t in call.turns)
        found = {(h.watched.kind, h.watched.value) for h in scanner.find(said)}
        assert found == {(s.kind, s.value) for s in call.sensitive}, call.call
    kinds = {s.kind for c in listed for s in c.sensitive}
    assert kinds == {"card", "security_code", "expiry", "ssn", "routing", "bank_account", "dob", "phone", "email"}


def test_the_payment_tool_must_get_each_paying_calls_card_exactly_once() -> None:
    paying = [c for c in RECORDED if c.call == "card-payment-visa"]
    assert payment_tool(["4111111111111111"], paying)["exactly_once"]
    twice = payment_tool(["4111111111111111", "4111111111111111"], paying)
    assert (twice["received_real_value"], twice["exactly_once"]) == (2, False)
    assert not payment_tool([], paying)["exactly_once"]
    assert not payment_tool(["5555555555554444"], paying)["exactly_once"]


# --- one call end to end -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, Any], Path]]:
    from sim.__main__ import main

    out = tmp_path_factory.mktemp("leaks")
    status = main(["leaks", str(CALLS / "16-card-payment-visa.json"), "--json", str(out / "leaks.json"),
                   "--dump", str(out / "dump"), "--model-speed", "4"])  # fmt: skip
    yield status, json.loads((out / "leaks.json").read_text()), out / "dump"


@pytest.mark.embedded_aws
def test_the_report_counts_every_sink_and_the_payment_tool(run: tuple[int, dict[str, Any], Path]) -> None:
    _, report, _ = run
    assert isinstance(report["raw_found"], int)
    assert list(report["sinks"]) == list(SINKS)
    for sink in report["sinks"].values():
        assert isinstance(sink["items"], int) and isinstance(sink["raw_found"], int)
    assert report["raw_found"] == sum(s["raw_found"] for s in report["sinks"].values())
    assert isinstance(report["payment_tool"]["received_real_value"], int)
    for name in ("dynamodb", "model_requests", "logs", "emf", "contact_attributes", "replay_json", "html_report"):
        assert report["sinks"][name]["items"] > 0, name


@pytest.mark.embedded_aws
def test_the_dump_holds_each_sink_and_an_outside_scan_agrees(run: tuple[int, dict[str, Any], Path]) -> None:
    _, report, dump = run
    assert sorted(p.stem for p in dump.glob("*.txt")) == sorted(SINKS)
    scanner = LeakScanner([Watched(s.kind, s.value) for s in load_call(CALLS / "16-card-payment-visa.json").sensitive])
    for name in ("dynamodb", "model_requests", "stepfunctions", "contact_attributes", "replay_json"):
        text = (dump / f"{name}.txt").read_text()
        assert len(text.splitlines()) >= report["sinks"][name]["items"]
        assert scanner.count(text) == report["sinks"][name]["raw_found"], name


@pytest.mark.embedded_aws
def test_no_raw_value_reaches_any_sink_and_the_payment_tool_gets_the_card_once(
    run: tuple[int, dict[str, Any], Path],
) -> None:
    status, report, _ = run
    assert {n: s["raw_found"] for n, s in report["sinks"].items() if s["raw_found"]} == {}, report["found"]
    assert report["degraded_turns"] == []  # a degraded turn calls no tool: the next line would fail
    assert report["payment_tool"]["received_real_value"] == 1
    assert report["payment_tool"]["exactly_once"]
    assert status == 0
