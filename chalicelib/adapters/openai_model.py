"""``ModelClient`` over the OpenAI SDK: any OpenAI-compatible chat completions endpoint.

The SDK is imported on first use, not at cold start: it costs 0.6-0.8 s of import time and
tier-0 turns never need it. Every call streams, with the turn's budget as a hard wall-clock
limit: the call runs on a worker thread and the caller stops waiting when the budget is spent,
whatever the socket does (a stalled stream, a slow first token). The SDK's own retries are off;
retrying is the domain's decision (``escalation.next_model_step``), made against the deadline.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

from chalicelib.domain.model import ChatMessage, ModelAnswer, ToolCall, ToolSpec, estimate_tokens
from chalicelib.domain.tiers import TierSpec
from chalicelib.errors import (
    ModelError,
    ModelOutputMalformedError,
    ModelRequestRejectedError,
    ModelTimeoutError,
    ModelUnavailableError,
    SecretUnavailableError,
)

_CONNECT_TIMEOUT_S = 0.5


class OpenAiModelClient:
    """Chat completions with streaming, tools, and a budget per call.

    Args:
        api_key: the endpoint's key, or a function returning it (read from Secrets Manager on the
            first call; a placeholder works for endpoints that ignore keys).
        base_url_override: one base URL for every tier (``SWITCHBOARD_MODEL_BASE_URL``);
            otherwise each tier's ``base_url``, otherwise OpenAI's.
        http_client: an ``httpx2.Client`` to use instead of the SDK's (tests).
    """

    def __init__(
        self, api_key: str | Callable[[], str], base_url_override: str | None = None, http_client: Any = None
    ) -> None:
        self._api_key = api_key
        self._base_url_override = base_url_override
        self._http_client = http_client
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="model-call")

    def complete(
        self,
        tier: TierSpec,
        messages: tuple[ChatMessage, ...],
        tools: tuple[ToolSpec, ...] = (),
        *,
        timeout_ms: float,
        first_token_timeout_ms: float,
    ) -> ModelAnswer:
        """One streamed completion, finished within ``timeout_ms`` or abandoned.

        Raises:
            ModelTimeoutError: no first token within ``first_token_timeout_ms``, or no end
                within ``timeout_ms``.
            ModelUnavailableError: connection failed or dropped, 5xx, 429.
            ModelRequestRejectedError: any other 4xx.
            ModelOutputMalformedError: the stream is not a chat completion.
        """
        if tier.model is None:
            raise ModelRequestRejectedError(f"tier {tier.tier} has no model")
        cancelled = threading.Event()
        future: Future[ModelAnswer] = self._pool.submit(
            self._stream, tier, messages, tools, timeout_ms, first_token_timeout_ms, cancelled
        )
        try:
            return future.result(timeout=timeout_ms / 1000)
        except FutureTimeoutError:
            cancelled.set()
            raise ModelTimeoutError(f"{tier.model}: no complete answer within {timeout_ms:.0f} ms") from None

    def warm(self, tiers: tuple[TierSpec, ...]) -> None:
        """Import the SDK and build the clients now (the call's warm-up invocation), so that the
        first model turn does not pay for it.

        Raises:
            SecretUnavailableError: the API key could not be read (the SDK is imported anyway).
        """
        import openai  # noqa: F401, PLC0415 - the import is the point

        for tier in tiers:
            self._client(self._base_url_override or tier.base_url)

    def _client(self, base_url: str | None) -> Any:
        with self._lock:
            if base_url not in self._clients:
                import openai  # noqa: PLC0415 - lazy: ~0.7 s of import, only for model turns

                key = self._api_key() if callable(self._api_key) else self._api_key
                self._clients[base_url] = openai.OpenAI(
                    api_key=key, base_url=base_url, max_retries=0, http_client=self._http_client
                )
            return self._clients[base_url]

    def _stream(
        self,
        tier: TierSpec,
        messages: tuple[ChatMessage, ...],
        tools: tuple[ToolSpec, ...],
        timeout_ms: float,
        first_token_timeout_ms: float,
        cancelled: threading.Event,
    ) -> ModelAnswer:
        import openai  # noqa: PLC0415

        try:
            client = self._client(self._base_url_override or tier.base_url)
        except SecretUnavailableError as exc:
            raise ModelUnavailableError(f"{tier.model}: no API key ({exc})") from exc
        started = time.perf_counter()
        timeout = openai.Timeout(
            timeout_ms / 1000, connect=min(_CONNECT_TIMEOUT_S, timeout_ms / 1000), read=first_token_timeout_ms / 1000
        )
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description,
                                                  "parameters": json.loads(t.parameters_json)}}
                for t in tools
            ]  # fmt: skip
        try:
            stream = client.chat.completions.create(
                model=tier.model,
                messages=[_message(m) for m in messages],
                max_completion_tokens=tier.max_output_tokens,
                temperature=tier.temperature,
                stream=True,
                stream_options={"include_usage": True},
                timeout=timeout,
                **extra,
            )
            answer = _collect(stream, tier, started, first_token_timeout_ms, cancelled)
            if answer.input_tokens == 0:  # the endpoint reported no usage: estimate it, never charge nothing
                prompt = "".join(m.content for m in messages)
                answer = _with_tokens(answer, estimate_tokens(prompt), estimate_tokens(answer.text))
            return answer
        except ModelError:
            raise
        except openai.APITimeoutError as exc:
            raise ModelTimeoutError(f"{tier.model}: timed out") from exc
        except openai.APIConnectionError as exc:
            raise ModelUnavailableError(f"{tier.model}: connection failed") from exc
        except openai.APIStatusError as exc:
            if exc.status_code == 429 or exc.status_code >= 500:
                raise ModelUnavailableError(f"{tier.model}: HTTP {exc.status_code}") from exc
            raise ModelRequestRejectedError(f"{tier.model}: HTTP {exc.status_code}") from exc
        except (openai.APIResponseValidationError, openai.APIError, ValueError, KeyError, TypeError) as exc:
            raise ModelOutputMalformedError(f"{tier.model}: {type(exc).__name__}") from exc


def _message(message: ChatMessage) -> dict[str, Any]:
    """A chat message in the OpenAI wire format (assistant tool calls, tool results)."""
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _collect(
    stream: Any, tier: TierSpec, started: float, first_token_timeout_ms: float, cancelled: threading.Event
) -> ModelAnswer:
    """Read the stream into one answer: text, tool calls, finish reason, usage, timings."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish_reason: str | None = None
    first_token_ms: float | None = None
    usage: Any = None
    try:
        for chunk in stream:
            if cancelled.is_set():
                raise ModelTimeoutError(f"{tier.model}: abandoned by the caller")
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                delta = choice.delta
                if delta is not None and (delta.content or delta.tool_calls) and first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                    if first_token_ms > first_token_timeout_ms:
                        raise ModelTimeoutError(f"{tier.model}: first token after {first_token_ms:.0f} ms")
                if delta is not None and delta.content:
                    text.append(delta.content)
                for call in (delta.tool_calls if delta is not None else None) or []:
                    slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.id or slot["id"]
                    if call.function is not None:
                        slot["name"] += call.function.name or ""
                        slot["arguments"] += call.function.arguments or ""
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
    finally:
        stream.close()
    if finish_reason is None:
        raise ModelOutputMalformedError(f"{tier.model}: the stream ended before the answer finished")
    content = "".join(text)
    return ModelAnswer(
        model=str(tier.model),
        text=content,
        tool_calls=tuple(ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())),
        finish_reason=finish_reason,
        input_tokens=int(usage.prompt_tokens) if usage is not None else 0,
        output_tokens=int(usage.completion_tokens) if usage is not None else 0,
        first_token_ms=first_token_ms,
        total_ms=(time.perf_counter() - started) * 1000,
    )


def _with_tokens(answer: ModelAnswer, input_tokens: int, output_tokens: int) -> ModelAnswer:
    from dataclasses import replace  # noqa: PLC0415

    return replace(answer, input_tokens=input_tokens, output_tokens=output_tokens)
