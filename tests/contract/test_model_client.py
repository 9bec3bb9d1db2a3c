"""The OpenAI adapter against the scripted model endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from chalicelib.adapters.data_files import load_tiers
from chalicelib.adapters.openai_model import OpenAiModelClient
from chalicelib.domain.model import AnswerProblem, ChatMessage, answer_problem
from chalicelib.errors import (
    ModelOutputMalformedError,
    ModelRequestRejectedError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from sim.scripted_model import HANG_SECONDS, ScriptedModelEndpoint, script_from

TIERS = load_tiers()
SMALL = TIERS.get(1)
ANSWER = "We close at six on Saturdays. Is there anything else I can help you with?"
SCRIPTS = {
    "when do you close": {"text": ANSWER},
    "break please": {"text": ANSWER, "fault": "server_error"},
    "hang please": {"text": ANSWER, "fault": "timeout"},
    "slow start please": {"text": ANSWER, "fault": "slow_first_token"},
    "slow stream please": {"text": ANSWER, "fault": "slow_stream"},
    "garble please": {"text": ANSWER, "fault": "malformed"},
    "drop please": {"text": ANSWER, "fault": "dropped"},
    "bad tool please": {"text": "", "fault": "invalid_tool_call"},
    "tiered": {"text": "from the large model", "by_tier": {"1": {"text": "from the small model"}}},
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[ScriptedModelEndpoint]:
    scripts = {k: script_from(v) for k, v in SCRIPTS.items()}
    with ScriptedModelEndpoint(scripts, TIERS, speed=5.0, jitter=0.0) as running:
        yield running


@pytest.fixture(scope="module")
def client(endpoint: ScriptedModelEndpoint) -> OpenAiModelClient:
    made = OpenAiModelClient(api_key="test", base_url_override=endpoint.base_url)
    # Warm, as the call's warm-up invocation makes it in a deployment: the SDK's import (~0.7 s,
    # more on a loaded machine) is not the first answer's budget.
    made.warm((TIERS.get(1), TIERS.get(2)))
    return made


def ask(client: OpenAiModelClient, words: str, timeout_ms: float = 1500, first_token_ms: float = 900, tier: int = 1):  # type: ignore[no-untyped-def]
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", words))
    return client.complete(TIERS.get(tier), messages, timeout_ms=timeout_ms, first_token_timeout_ms=first_token_ms)


def test_streamed_answer_with_usage_and_timings(client: OpenAiModelClient) -> None:
    answer = ask(client, "when do you close")
    assert answer.text == ANSWER and answer.finish_reason == "stop" and answer.model == SMALL.model
    assert answer.input_tokens > 0 and answer.output_tokens == len(ANSWER.split())
    assert answer.first_token_ms is not None and 0 < answer.first_token_ms <= answer.total_ms
    assert answer_problem(answer) is None


def test_each_tier_gets_its_own_scripted_answer(client: OpenAiModelClient) -> None:
    assert ask(client, "tiered", tier=1).text == "from the small model"
    assert ask(client, "tiered", tier=2, timeout_ms=1900, first_token_ms=1100).text == "from the large model"


def test_server_error_is_unavailable(client: OpenAiModelClient) -> None:
    with pytest.raises(ModelUnavailableError):
        ask(client, "break please")


def test_a_hanging_endpoint_is_abandoned_at_the_budget(client: OpenAiModelClient) -> None:
    started = time.perf_counter()
    with pytest.raises(ModelTimeoutError):
        ask(client, "hang please", timeout_ms=400, first_token_ms=300)
    assert time.perf_counter() - started < HANG_SECONDS / 2  # it did not wait for the endpoint


def test_slow_first_token_is_a_timeout(client: OpenAiModelClient) -> None:
    with pytest.raises(ModelTimeoutError):
        ask(client, "slow start please", timeout_ms=1500, first_token_ms=200)


def test_slow_stream_is_cut_at_the_budget(client: OpenAiModelClient) -> None:
    with pytest.raises(ModelTimeoutError):
        ask(client, "slow stream please", timeout_ms=300, first_token_ms=250)


@pytest.mark.parametrize("words", ["garble please", "drop please"])
def test_malformed_or_unfinished_stream_is_malformed_output(client: OpenAiModelClient, words: str) -> None:
    with pytest.raises(ModelOutputMalformedError):
        ask(client, words)


def test_tool_call_with_arguments_that_are_not_json_is_an_unusable_answer(client: OpenAiModelClient) -> None:
    answer = ask(client, "bad tool please")
    assert answer.tool_calls and answer.tool_calls[0].name == "transfer_all_funds"
    assert answer_problem(answer) is AnswerProblem.BAD_TOOL_CALL


def test_unscripted_request_is_rejected(client: OpenAiModelClient, endpoint: ScriptedModelEndpoint) -> None:
    before = endpoint.stats.unscripted
    with pytest.raises(ModelRequestRejectedError):
        ask(client, "something nobody scripted")
    assert endpoint.stats.unscripted == before + 1


def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = OpenAiModelClient(api_key="test", base_url_override=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelUnavailableError):
        ask(closed, "when do you close")


def test_endpoint_also_answers_without_streaming(endpoint: ScriptedModelEndpoint) -> None:
    body = {"model": SMALL.model, "messages": [{"role": "user", "content": "when do you close"}]}
    request = urllib.request.Request(  # noqa: S310 - the loopback test server
        endpoint.base_url + "/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test server
        completion = json.loads(response.read())
    assert completion["choices"][0]["message"]["content"] == ANSWER
    assert completion["usage"]["completion_tokens"] > 0
