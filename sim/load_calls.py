"""The calls ``sim load`` plays: the recorded ones, then variations of them made from a seed.

A variation keeps a recorded call's shape and changes what a real caller would: the wording
(fillers before the words the model answers, a long-winded preamble), the length (hanging up
early), barge-ins (speaking into the previous reply), and asking for a person part-way through.
Every call gets its own contact id and phone number, and its side effects their own arguments
(a payment of another amount), so a side effect performed twice is visible at the back office
as the same request executed twice — not confused with two callers asking the same thing.

The scripted model answers by the caller's words, so each variation registers its own words
with the recorded answer (``load_scripts``). The same seed gives the same calls.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from typing import Any

from sim.calls import CallTurn, ModelResponse, RecordedCall

FILLERS = ("um", "okay so", "right", "yeah so", "hi again", "sorry", "so basically", "well", "ok um", "alright")
TAILS = ("", "please", "thanks", "if that's okay", "I think", "for me", "right now", "today")
PREAMBLE = (
    "so I have been meaning to call about this for a while now and I tried the website and the app "
    "and my neighbour said to just ring you because it is quicker and honestly I am not sure what "
    "the right department is but here goes"
)
HANDOVER_ASK = "can I speak to a real person please"
MAX_AMOUNT = 5000


def load_calls(recorded: list[RecordedCall], count: int, seed: int) -> list[RecordedCall]:
    """``count`` calls: the recorded ones first (own ids and numbers), then variations."""
    rng = random.Random(seed)
    calls: list[RecordedCall] = []
    for index in range(count):
        base = recorded[index % len(recorded)]
        identity = {
            "contact_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "caller_number": f"+1555{index:07d}",
            "call": f"{index:04d}-{base.call}",
        }
        if index < len(recorded):
            calls.append(_with_own_effects(base.model_copy(update=identity), index, wording=None))
        else:
            wording = (FILLERS[(index // len(recorded)) % len(FILLERS)],
                       TAILS[(index // (len(recorded) * len(FILLERS))) % len(TAILS)])  # fmt: skip
            calls.append(_vary(base.model_copy(update=identity), index, wording, rng))
    return calls


def load_scripts(calls: list[RecordedCall]) -> dict[str, dict[str, Any]]:
    """Caller's words -> the model's answer, over every call (the first script of a text wins:
    two calls may share a text only where their answers agree, which ``_with_own_effects``
    keeps true by giving each call's side effects their own words)."""
    scripts: dict[str, dict[str, Any]] = {}
    for call in calls:
        for turn in call.turns:
            if turn.model is not None:
                scripts.setdefault(" ".join(turn.caller.lower().split()), turn.model.model_dump(exclude_defaults=True))
    return scripts


def _vary(call: RecordedCall, index: int, wording: tuple[str, str], rng: random.Random) -> RecordedCall:
    call = _with_own_effects(call, index, wording)
    turns = list(call.turns)
    expect = call.expect_outcome
    roll = rng.random()
    if roll < 0.15 and len(turns) > 2:  # the caller hangs up early
        turns = turns[: rng.randrange(1, len(turns) - 1)]
        expect = "abandoned"
    elif roll < 0.30 and len(turns) > 1:  # the caller asks for a person part-way
        at = rng.randrange(1, len(turns))
        previous = turns[at - 1]
        turns = [*turns[:at], CallTurn(at_ms=previous.at_ms + 6000, caller=HANDOVER_ASK)]
        expect = "handover"
    if rng.random() < 0.3:  # a long-winded turn (the model still answers it)
        scripted = [i for i, t in enumerate(turns) if t.model is not None]
        if scripted:
            i = rng.choice(scripted)
            turns[i] = turns[i].model_copy(update={"caller": f"{PREAMBLE} {turns[i].caller}"})
    if len(turns) > 1 and rng.random() < 0.35:  # a barge-in into the previous reply
        i = rng.randrange(1, len(turns))
        turns[i] = turns[i].model_copy(update={"barge_in_after_ms": rng.randrange(300, 1500)})
    return call.model_copy(
        update={"turns": turns, "expect_outcome": expect, "description": f"variation of {call.call}"}
    )


def _with_own_effects(call: RecordedCall, index: int, wording: tuple[str, str] | None) -> RecordedCall:
    """The call with its own words for model-answered turns (when ``wording``) and its own
    side-effect arguments (a payment amount, the caller's own number for a callback)."""
    turns = []
    for turn in call.turns:
        if turn.model is None:
            turns.append(turn)
            continue
        model = _own_effects(turn.model, call.caller_number, index)
        caller = turn.caller
        if wording is not None or model != turn.model:
            filler, tail = wording or ("", "")
            # Words unique to this call where the answer is its own (a side effect's arguments).
            marker = f"ref {_letters(index)}" if model != turn.model else ""
            caller = " ".join(p for p in (filler, turn.caller, tail, marker) if p)
        turns.append(turn.model_copy(update={"caller": caller, "model": model}))
    return call.model_copy(update={"turns": turns})


def _own_effects(model: ModelResponse, phone: str, index: int) -> ModelResponse:
    data = model.model_dump(exclude_defaults=True)
    changed = _rewrite(copy.deepcopy(data), phone, index)
    return model if changed == data else ModelResponse.model_validate(changed)


def _rewrite(data: Any, phone: str, index: int) -> Any:
    """Side-effect arguments made this call's own, wherever they sit in the script."""
    if isinstance(data, dict):
        if data.get("name") in ("create_payment_arrangement", "take_card_payment"):
            arguments = _arguments(data)
            arguments["amount"] = 1 + (float(arguments.get("amount", 100)) + index) % (MAX_AMOUNT - 1)
            data["arguments"] = arguments
        elif data.get("name") == "book_callback":
            arguments = _arguments(data)
            arguments["phone"] = phone
            data["arguments"] = arguments
        return {k: _rewrite(v, phone, index) for k, v in data.items()}
    if isinstance(data, list):
        return [_rewrite(v, phone, index) for v in data]
    return data


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    return dict(json.loads(arguments) if isinstance(arguments, str) else arguments)


def _letters(index: int) -> str:
    """``index`` as letters (no digits: the rules read digits as account numbers)."""
    word = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        word = chr(ord("a") + rest) + word
    return word
