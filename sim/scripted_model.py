"""The scripted model endpoint: an OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1.

A fake, and labelled as one in every report (``"model_endpoint": "scripted"``). It answers from
the model responses recorded in ``events/calls/*.json`` (keyed by the caller's words, the last
user message, whether the model sees them as said or redacted: ``script_key``), streaming or
not, with each model's latency profile from ``tiers.json``: time to first token, tokens per
second, jitter. Faults can be injected at a rate per kind (seeded), or
scripted on a turn. A request with no script gets HTTP 404, as a live endpoint would answer an
unknown request with an error. Every request body it received is kept (``received_requests``):
what the model saw is one of the sinks ``sim leaks`` scans.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.domain.tiers import TierTable
from sim.seeded import SeededDraws

FAULT_KINDS = (
    "slow_first_token",  # the first token comes after the tier's first-token timeout
    "slow_stream",  # tokens trickle at a tenth of the usual speed
    "server_error",  # HTTP 500
    "timeout",  # headers, then nothing for a long time
    "malformed",  # a stream chunk that is not JSON
    "invalid_tool_call",  # a call to a tool nobody offered, with arguments that are not JSON
    "dropped",  # the connection closes mid-stream
)
HANG_SECONDS = 8.0


@dataclass(frozen=True)
class ScriptedResponse:
    text: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    fault: str | None = None
    # What the model said after each round of tool results (the first round, the second, ...).
    after_tools: tuple[ScriptedResponse, ...] = ()

    def for_round(self, tool_rounds: int) -> ScriptedResponse:
        if tool_rounds == 0 or not self.after_tools:
            return self
        return self.after_tools[min(tool_rounds, len(self.after_tools)) - 1]


@dataclass
class ModelScript:
    default: ScriptedResponse
    by_tier: dict[int, ScriptedResponse] = field(default_factory=dict)

    def for_tier(self, tier: int | None) -> ScriptedResponse:
        return self.by_tier.get(tier, self.default) if tier is not None else self.default


def response_from(data: dict[str, Any]) -> ScriptedResponse:
    calls = tuple(
        {
            **c,
            "arguments": c["arguments"] if isinstance(c.get("arguments"), str) else json.dumps(c.get("arguments", {})),
        }
        for c in data.get("tool_calls", ())
    )
    after = tuple(response_from(a) for a in data.get("after_tools", ()))
    return ScriptedResponse(text=data.get("text", ""), tool_calls=calls, fault=data.get("fault"), after_tools=after)


def script_from(data: dict[str, Any]) -> ModelScript:
    by_tier = {int(k): response_from(v) for k, v in data.get("by_tier", {}).items()}
    return ModelScript(response_from(data), by_tier)


@dataclass
class EndpointStats:
    requests: int = 0
    unscripted: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "unscripted": self.unscripted, "faults": dict(self.faults)}


class ScriptedModelEndpoint:
    """Serve ``scripts`` (caller's words -> script) with the latency of ``tiers``.

    Args:
        fault_rates: kind -> probability per request (kinds in ``FAULT_KINDS``).
        speed: divides every delay (2.0 = twice as fast); 1.0 is the tiers' priors.
        jitter: relative spread of the delays (0.15 = +-15 %).
        seed: the same seed gives the same jitter and faults for the same requests.
    """

    def __init__(
        self,
        scripts: dict[str, ModelScript],
        tiers: TierTable,
        *,
        fault_rates: dict[str, float] | None = None,
        speed: float = 1.0,
        jitter: float = 0.15,
        seed: int = 7,
    ) -> None:
        unknown = set(fault_rates or {}) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.scripts = keyed_scripts(scripts)
        self.tiers = tiers
        self.fault_rates = dict(fault_rates or {})
        self.speed = speed
        self.jitter = jitter
        self.stats = EndpointStats()
        self._draws = SeededDraws(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._requests: list[str] = []
        self.base_url = ""

    def record_request(self, body: bytes) -> None:
        with self._lock:
            self._requests.append(body.decode("utf-8", errors="replace"))

    def received_requests(self) -> list[str]:
        """Every request body received so far, as sent (a chat completion request's JSON)."""
        with self._lock:
            return list(self._requests)

    def start(self) -> ScriptedModelEndpoint:
        endpoint = self

        class Handler(_Handler):
            owner = endpoint

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="scripted-model", daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedModelEndpoint:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- decisions: the same seed gives the same faults and jitter to the same requests ---------------------------

    def plan(
        self, model: str, user_text: str, tool_rounds: int = 0
    ) -> tuple[ScriptedResponse | None, str | None, float, float]:
        """The response, the fault (if any), the first-token delay and the seconds per token."""
        tier = self.tiers.tier_of_model(model)
        spec = self.tiers.get(tier) if tier is not None else None
        prior = spec.latency_prior if spec is not None else None
        first_token_s = (prior.first_token_ms if prior else 400.0) / 1000
        per_token_s = 1.0 / (prior.tokens_per_second if prior else 80.0)
        script = self.scripts.get(script_key(user_text))
        with self._lock:
            self.stats.requests += 1
            response = script.for_tier(tier).for_round(tool_rounds) if script else None
            if response is None:
                self.stats.unscripted += 1
                return None, None, 0.0, 0.0
            # Drawn per request (model, words, tool round, occurrence): the same seed faults the
            # same requests however concurrent calls interleave.
            drawn, jitter_draw = self._draws.pick(f"{model}|{script_key(user_text)}|{tool_rounds}", self.fault_rates,
                                                  FAULT_KINDS)  # fmt: skip
            fault = response.fault or drawn
            if fault:
                self.stats.faults[fault] = self.stats.faults.get(fault, 0) + 1
            spread = 1 + self.jitter * (2 * jitter_draw - 1)
        if fault == "slow_first_token" and spec is not None:
            first_token_s = 2 * spec.first_token_timeout_ms / 1000
        if fault == "slow_stream":
            per_token_s *= 10
        return response, fault, first_token_s * spread / self.speed, per_token_s * spread / self.speed


# What the key leaves out: the words a redactor takes out of the caller's words (numbers read as
# digits or words, ordinals and months of dates) and the tokens it puts in (``[CARD_1]``, or a
# bare ``[CARD]`` when scrubbed), so the caller's words and the model's redacted copy of them
# ("my card is four one one one …" / "my card is [CARD_1]") have one key. A word is letters of any
# language (``sábado``, ``número``) with apostrophes; digits and underscores are not words.
_TOKEN = re.compile(r"\[[a-z][a-z_]*\]")
_WORD = re.compile(r"(?:[^\W\d_]|')+")
# Number, ordinal and month words, per language. The key is the same function for every call and
# request (the scripted endpoint does not know a request's language), so it drops the words of
# every language, except those that are ordinary words in another (``_KEPT``).
_UNKEYED_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset({
        "zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
        "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "double",
        "triple", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
        "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
        "nineteenth", "twentieth", "thirtieth", "january", "february", "march", "april", "june", "july", "august",
        "september", "october", "november", "december",
    }),
    # US Spanish as Transcribe writes it: with and without accents ("dieciséis", "dieciseis"),
    # digit by digit or in pairs ("cuarenta y cuatro": "y" stays, it is also "and"), "o" for zero.
    "es": frozenset({
        "cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once", "doce",
        "trece", "catorce", "quince", "dieciséis", "dieciseis", "diecisiete", "dieciocho", "diecinueve", "veinte",
        "veintiuno", "veintiún", "veintiun", "veintidós", "veintidos", "veintitrés", "veintitres", "veinticuatro",
        "veinticinco", "veintiséis", "veintiseis", "veintisiete", "veintiocho", "veintinueve", "treinta",
        "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa", "cien", "ciento", "cientos",
        "doscientos", "trescientos", "cuatrocientos", "quinientos", "seiscientos", "setecientos", "ochocientos",
        "novecientos", "mil", "doble", "triple", "primero", "primer", "segundo", "tercero", "tercer", "cuarto",
        "quinto", "sexto", "séptimo", "septimo", "octavo", "noveno", "décimo", "decimo", "enero", "febrero",
        "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "setiembre", "octubre", "noviembre",
        "diciembre",
    }),
}  # fmt: skip
# Number words of one language that are ordinary words of another, kept in every key: English
# "once" (Spanish eleven).
_KEPT = frozenset({"once"})
_UNKEYED = frozenset().union(*_UNKEYED_BY_LANGUAGE.values()) - _KEPT


def script_key(text: str) -> str:
    """The key of the caller's words: their words (letters of any language, NFC-normalised and
    case-folded), without numbers (digits, number words, ordinals, month names, in English and
    Spanish) and without redaction tokens.

    Example:
        >>> script_key("My card is four one one one, 4111 1111!") == script_key("my card is [CARD_1]")
        True
        >>> script_key("¿Abren el SÁBADO a las nueve?")
        'abren el sábado a las'
    """
    folded = unicodedata.normalize("NFC", text).casefold()
    words = _TOKEN.sub(" ", re.sub(r"_\d+\]", "]", folded))
    return " ".join(w for w in _WORD.findall(words) if w.strip("'") not in _UNKEYED)


def keyed_scripts(scripts: dict[str, ModelScript]) -> dict[str, ModelScript]:
    """``scripts`` by ``script_key`` of the words, and of the words scrubbed by the redactor (an
    e-mail address read out is words the key keeps; the model sees ``[EMAIL_1]``).

    Raises:
        ValueError: two different scripts with one key.
    """
    from chalicelib.adapters.redaction_policy import process_redactor  # noqa: PLC0415

    scrubber = process_redactor()
    keyed: dict[str, ModelScript] = {}
    said: dict[str, str] = {}
    for words, script in scripts.items():
        for key in dict.fromkeys((script_key(words), script_key(scrubber.scrub(words)))):
            if keyed.get(key, script) != script:
                raise ValueError(f"{words!r} and {said[key]!r} have one script key ({key!r}) and other answers")
            keyed[key], said[key] = script, words
    return keyed


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


def _estimate(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedModelEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:  # quiet: one line per request otherwise
        return

    def do_POST(self) -> None:
        if not self.path.endswith("/chat/completions"):
            self._error(404, "not_found", f"no route {self.path}")
            return
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        self.owner.record_request(raw)
        try:
            body = json.loads(raw or b"{}")
            model = str(body["model"])
            messages = body["messages"]
            users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
            user_text = str(messages[users[-1]]["content"]) if users else ""
            # Rounds of tool results since the caller spoke: which of the script's answers is due.
            tool_rounds = sum(1 for m in messages[(users[-1] if users else 0) :] if m.get("tool_calls"))
        except (ValueError, KeyError, TypeError):
            self._error(400, "invalid_request_error", "request is not a chat completion request")
            return
        response, fault, first_token_s, per_token_s = self.owner.plan(model, user_text, tool_rounds)
        if response is None:
            self._error(404, "unscripted", "no scripted response for this request (scripted model endpoint)")
            return
        if fault == "server_error":
            self._error(500, "server_error", "injected server error (scripted model endpoint)")
            return
        prompt_tokens = sum(_estimate(str(m.get("content", ""))) for m in body["messages"])
        tool_calls = list(response.tool_calls)
        if fault == "invalid_tool_call":
            tool_calls = [{"name": "transfer_all_funds", "arguments": "{not json"}]
        if body.get("stream"):
            self._stream(model, response.text, tool_calls, fault, first_token_s, per_token_s, prompt_tokens)
        else:
            time.sleep(first_token_s + per_token_s * len(_tokens(response.text)))
            self._complete(model, response.text, tool_calls, prompt_tokens)

    def _stream(
        self,
        model: str,
        text: str,
        tool_calls: list[dict[str, Any]],
        fault: str | None,
        first_token_s: float,
        per_token_s: float,
        prompt_tokens: int,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if fault == "timeout":
            time.sleep(HANG_SECONDS)
            return
        time.sleep(first_token_s)
        pieces = _tokens(text)
        try:
            for i, piece in enumerate(pieces):
                if fault == "dropped" and i == len(pieces) // 2:
                    return  # connection closes with the stream unfinished
                if fault == "malformed" and i == 1:
                    self.wfile.write(b"data: {this is not json\n\n")
                    self.wfile.flush()
                    return
                self._chunk(model, {"content": piece, **({"role": "assistant"} if i == 0 else {})}, None)
                time.sleep(per_token_s)
            for index, call in enumerate(tool_calls):
                function = {"name": call["name"], "arguments": call.get("arguments", "{}")}
                delta = {
                    "tool_calls": [{"index": index, "id": f"call_{index}", "type": "function", "function": function}]
                }
                self._chunk(model, delta, None)
            self._chunk(model, {}, "tool_calls" if tool_calls else "stop")
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces) + 8 * len(tool_calls),
                     "total_tokens": prompt_tokens + len(pieces) + 8 * len(tool_calls)}  # fmt: skip
            self._send({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": model,
                        "choices": [], "usage": usage})  # fmt: skip
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (its deadline): nothing to do

    def _chunk(self, model: str, delta: dict[str, Any], finish_reason: str | None) -> None:
        self._send({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})  # fmt: skip

    def _send(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _complete(self, model: str, text: str, tool_calls: list[dict[str, Any]], prompt_tokens: int) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                      "function": {"name": c["name"], "arguments": c.get("arguments", "{}")}}
                                     for i, c in enumerate(tool_calls)]  # fmt: skip
        completion = len(_tokens(text))
        payload = {
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                      "total_tokens": prompt_tokens + completion},
        }  # fmt: skip
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
