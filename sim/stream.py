"""``sim stream``: recorded calls through the streaming speech path, with and without speculation.

What it measures: per caller turn, *reply-ready*, the time from the end of the caller's speech
to the moment the turn handler has returned its answer; once with speculation off (the
baseline) and once with it on (``SWITCHBOARD_SPECULATION_ENABLED=true``), with the speculations
made, used and wasted, and the cost the streaming path adds per call minute.

How a call plays:

1. A first pass plays the call through the contact flow with no media (a contact id of its
   own: the flow's Start media streaming takes its error branch), for the replies the caller
   hears, how long each took, and the end-of-utterance silence each Lex input waits for (the
   session attribute ``x-amz-lex:audio:end-timeout-ms:*:*`` the flow's Lex blocks set).
2. The call's audio is laid out on the media timeline: the caller's words (``synthesize_turn``,
   espeak-ng with word timings) on ``AUDIO_FROM_CUSTOMER``, starting at the turn's ``at_ms`` or
   ``CALLER_GAP_MS`` after the previous reply ends, whichever is later (the first after
   ``LEAD_IN_MS``, the greeting); each reply on ``AUDIO_TO_CUSTOMER`` when it would play: the
   caller's end of speech + that Lex end-of-utterance delay + the first pass's handler time. A
   turn with ``barge_in_after_ms`` starts that far into the previous reply, which is cut there.
   ``call_media`` makes the two-track Matroska and its KVS fragments.
3. Each run (baseline and speculative, at the same time: the same load on both) has its own
   contact id (a UUID derived from the call's) and its own execution environments
   (``sim.environments``: processes, as Lambda runs each function; one pool per run, started
   with speculation off or on), so the transcriber and the speculations it starts never share an
   interpreter with the turn handler. Its media is registered on ``LocalKinesisVideoMedia``,
   paced at ``speed`` times real time, and ``StreamScript``s are queued on
   ``LocalTranscribeStreaming`` (the words at their media times; the fake recogniser does not
   listen); each stream picks its script when it first hears sound (``script_by_sound``: the
   audio it heard is found on the call's tracks, since the transcriber opens a track's stream at
   its first speech, not at the media's start). The call is played through the contact flow with that stream as its
   media (``MediaSource``: the stream ARN and first fragment the local GetMedia serves): the
   flow's Start media streaming succeeds and its asynchronous Invoke Lambda starts the real
   ``transcriber`` handler in the run's environment, with the flow's event, so partials and
   finals land on the session as the audio plays.
4. At each Lex input the caller's script waits until the turn's end of speech + the end timeout
   in force for that input (``Listen.end_timeout_ms``: what the flow's block or the code hook set,
   ``x-amz-lex:audio:end-timeout-ms:*:*``; ``--lex-delay-ms`` overrides it), paced like the
   media, then speaks; Lex or the flow delivers the turn to the real ``turn`` handler. When the
   caller hesitates inside the utterance (``…`` in the call file) for at least that end timeout,
   Lex ends the turn there: it gets the words before the pause, and the turn is counted as a
   **false cutoff**. Media time maps to the wall clock from the moment ``GetMedia`` began to send:
   ``wall = t0 + media_ms / 1000 / speed``.

The simulated clock. Every wait is paced by ``speed``: the media, Lex's end timeout, and the
scripted model endpoint (its latencies divided by ``speed``), so a speculation started in the
caller's pause has the same share of the pause at every speed. Times are reported on that clock:
the interval from the end of speech to the invocation times ``speed``, and the handler's time as
its compute (as measured) plus its waits on the paced models (its ``model`` and ``speculation``
components) times ``speed``: ``simulated_handler_ms``. A speculation's run is itself compute and
model waits: a wait on it is paced only in the share of its run that waited on its models
(``paced_share``), as its stored time is; scaling the whole wait charged the speculative run
``speed`` times its DynamoDB writes and code, which the baseline's handler is not. Exact at
``--speed 1``; above it, what a loaded machine adds inside the model waits is scaled too, for
both runs alike.

Speculation is counted from the store (``SPEC#`` items under the contact's partition, see
``speculation_counts``); cost from the stored turn usage and speculation usage priced by the
ledger, plus what the speech path adds: Transcribe as the transcriber streamed it (per stream,
15 s minimum; only the caller's track until a handover, ``sim.speech_costs``) and the
transcriber Lambda's GB-seconds. Each turn also carries the fixed-timeout baseline — today's
system: no speculation and Lex's 600 ms on every turn — as the baseline run's handler time plus
600 ms (without speculation nothing runs in the wait).
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.domain.ledger import PriceBook, cost_by_component, per_minute, total
from chalicelib.domain.transcription import pause_before_speculating
from chalicelib.domain.usage import Usage
from sim.calls import CallTurn, RecordedCall, RecordedCaller, recorded_contact
from sim.connect_flow import Invoker, LambdaCall, LambdaResult, Listen, MediaSource, Utterance
from sim.connect_instance import TURN_PATHS, harness_invoker, simulated_connect
from sim.costs import money
from sim.end_of_turn import false_cutoff
from sim.environments import EnvironmentPool, FunctionLimits, Invocation
from sim.harness import Harness
from sim.invariants import same_words
from sim.kvs_media_server import LocalKinesisVideoMedia
from sim.lex_bot import DEFAULT_END_TIMEOUT_MS
from sim.media import CallMedia, call_media, call_timeline
from sim.replay import answer_fields, shown_caller, spoken_text
from sim.speech_audio import BYTES_PER_MS, SpokenText, synthesize_turn
from sim.speech_costs import speech_added_usage, speech_cost_by_phase
from sim.stats import percentile
from sim.transcribe_endpoint import LocalTranscribeStreaming, ScriptBySound, StreamScript, Word

# Lex V2's default end-of-speech silence (``end-timeout-ms``): docs.aws.amazon.com/lexv2/latest/dg/
# session-attribs-speech.html. The flow sets it explicitly (``x-amz-lex:audio:end-timeout-ms:*:*``)
# and Lex waits what the flow set; this is only what a Lex block that sets nothing gets. Lex's own
# processing after it is not published: not added.
LEX_END_OF_UTTERANCE_MS = DEFAULT_END_TIMEOUT_MS
# Amazon Transcribe streaming, end of speech to final result, median: pipecat-ai/stt-benchmark
# README (2026-06; research note A.2). The fake recogniser's endpointing delay.
TRANSCRIBE_FINAL_DELAY_MS = 1136
DEFAULT_SPEED = 4.0
LEAD_IN_MS = 1000  # the greeting, before the caller first speaks
CALLER_GAP_MS = 400  # the caller answers this long after a reply ends (turn gaps: research A.1)
MEDIA_START_TIMEOUT_S = 30.0
RUNS = ("baseline", "speculative")
STREAM_ARN = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/switchboard-sim-{contact_id}/1700000000000"

# --- the call's layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTurn:
    """One caller turn on the media timeline, and the reply the caller then hears."""

    seq: int
    turn: CallTurn
    caller: SpokenText
    start_ms: int
    reply: SpokenText | None = None
    reply_start_ms: int = 0
    reply_heard_ms: int | None = None  # the reply was cut here (the next turn barged in)

    @property
    def end_of_speech_ms(self) -> int:
        return self.start_ms + (self.caller.words[-1][2] if self.caller.words else 0)


@dataclass(frozen=True)
class FirstPass:
    """What the first pass answered to one turn: the spoken reply, the handler's time, and the
    end-of-utterance silence Lex waited for before it (from the flow)."""

    reply: str
    handler_ms: float
    lex_delay_ms: int = LEX_END_OF_UTTERANCE_MS


def plan_call(
    call: RecordedCall,
    answers: list[FirstPass],
    *,
    speak: Callable[..., SpokenText] = synthesize_turn,
    lex_delay_ms: int | None = None,
) -> list[PlannedTurn]:
    """The turns the first pass answered, laid out on the media timeline (see the module doc);
    ``lex_delay_ms`` overrides each turn's end timeout from the flow."""
    planned: list[PlannedTurn] = []
    cursor = LEAD_IN_MS
    for seq, (turn, answer) in enumerate(zip(call.turns, answers, strict=False), start=1):
        previous = planned[-1] if planned else None
        start = max(turn.at_ms, cursor)
        if previous is not None and previous.reply is not None and turn.barge_in_after_ms is not None:
            cut = min(turn.barge_in_after_ms, int(previous.reply.duration_ms))
            start = previous.reply_start_ms + cut
            planned[-1] = PlannedTurn(**{**previous.__dict__, "reply_heard_ms": cut})
        caller = speak(turn.spoken, pause_ms=turn.pause_ms)  # with the caller's hesitations
        here = PlannedTurn(seq, turn, caller, start)
        if answer.reply.strip():
            reply = speak(answer.reply)
            delay = answer.lex_delay_ms if lex_delay_ms is None else lex_delay_ms
            reply_start = here.end_of_speech_ms + delay + round(answer.handler_ms)
            here = PlannedTurn(seq, turn, caller, start, reply, reply_start)
            cursor = reply_start + int(reply.duration_ms) + CALLER_GAP_MS
        else:
            cursor = here.end_of_speech_ms + CALLER_GAP_MS
        planned.append(here)
    return planned


def _reply_pcm(turn: PlannedTurn, reply: SpokenText) -> bytes:
    if turn.reply_heard_ms is None:
        return reply.pcm
    return reply.pcm[: turn.reply_heard_ms * 16]  # 8 kHz 16-bit: 16 bytes per ms


def _heard_words(turn: PlannedTurn, reply: SpokenText) -> tuple[Word, ...]:
    words = reply.words
    if turn.reply_heard_ms is not None:
        words = tuple(w for w in words if w[2] <= turn.reply_heard_ms)
    return tuple((w, turn.reply_start_ms + s, turn.reply_start_ms + e) for w, s, e in words)


def _placed(planned: list[PlannedTurn]) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """The call's speech at its media offsets: the caller's, and the replies as heard."""
    caller = [(t.start_ms, t.caller.pcm) for t in planned]
    replies = [(t.reply_start_ms, _reply_pcm(t, t.reply)) for t in planned if t.reply is not None]
    return caller, replies


def media_for(planned: list[PlannedTurn], contact_id: str) -> CallMedia:
    return call_media(*_placed(planned), contact_id=contact_id)


def scripts_for(planned: list[PlannedTurn]) -> tuple[StreamScript, StreamScript]:
    """What the recogniser hears on each track: the caller's words, then the replies heard."""
    caller = [tuple((w, t.start_ms + s, t.start_ms + e) for w, s, e in t.caller.words) for t in planned]
    replies = [_heard_words(t, t.reply) for t in planned if t.reply is not None]
    return StreamScript.of(*[u for u in caller if u]), StreamScript.of(*[u for u in replies if u])


def _by_first_sound(planned: list[PlannedTurn]) -> Callable[[float, bytes], StreamScript]:
    """Which track a stream is, and where on the media its audio starts, from its first sound:
    the audio it heard through that sound is found on the call's tracks (the transcriber opens a
    track's stream at its first speech, not at the media's start), and that track's script is
    given in the stream's own time."""
    caller, replies = scripts_for(planned)
    tracks = call_timeline(*_placed(planned))
    by_track = ((tracks["AUDIO_FROM_CUSTOMER"], caller), (tracks["AUDIO_TO_CUSTOMER"], replies))

    def pick(sound_ms: float, heard: bytes) -> StreamScript:
        for audio, script in by_track:
            start_ms = media_offset_ms(heard, sound_ms, audio)
            if start_ms is not None:
                return script.after(start_ms) if start_ms else script
        raise ValueError(f"a stream heard audio on neither track of the call (first sound at {sound_ms} ms)")

    return pick


def media_offset_ms(heard: bytes, sound_ms: float, audio: bytes) -> int | None:
    """Where on ``audio`` (a track, from media time 0) a stream that heard ``heard`` from its
    start began, in ms; None when ``heard`` is not on it. The search starts where the stream
    would be had it begun at media time 0: it cannot have begun before."""
    sound_at = int(sound_ms * BYTES_PER_MS) & ~1
    piece = heard[sound_at : sound_at + 1024]
    found = audio.find(piece, sound_at)
    while found >= 0:
        start = found - sound_at
        if audio[start : start + len(heard)] == heard:
            return start // BYTES_PER_MS
        found = audio.find(piece, found + 2)
    return None


def run_contact_id(contact_id: str, run: str) -> str:
    """A contact id of its own for each run of a call (a UUID, as Connect's are)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"switchboard-sim-stream/{contact_id}/{run}"))


# --- the speech fakes ------------------------------------------------------------------------------


class ClockedKinesisVideoMedia(LocalKinesisVideoMedia):
    """``LocalKinesisVideoMedia`` that notes when each stream's first ``GetMedia`` began to send:
    media time 0 on the wall clock (``time.monotonic``)."""

    def __init__(self, *, speed: float | None = None) -> None:
        # 1 KiB pieces (32 ms of the two tracks), as the transcriber reads them (kvs_read_bytes).
        super().__init__(speed=speed, piece_bytes=1024)
        self.started: dict[str, float] = {}
        self.started_epoch_ms: dict[str, float] = {}  # the same moment on the wall clock (time.time)
        self._started_event = threading.Condition()

    def _plan(self, body: dict[str, Any]) -> Any:
        planned = super()._plan(body)
        arn = str(body.get("StreamARN") or body.get("StreamName") or "")
        with self._started_event:
            if arn not in self.started:
                self.started[arn], self.started_epoch_ms[arn] = time.monotonic(), time.time() * 1000
            self._started_event.notify_all()
        return planned

    def wait_started(self, arn: str, timeout_s: float) -> float | None:
        with self._started_event:
            self._started_event.wait_for(lambda: arn in self.started, timeout_s)
            return self.started.get(arn)


@dataclass
class SpeechFakes:
    media: ClockedKinesisVideoMedia
    transcribe: LocalTranscribeStreaming


SPEECH_STAND_INS = (
    "SWITCHBOARD_KVS_ENDPOINT_URL",
    "SWITCHBOARD_TRANSCRIBE_ENDPOINT_URL",
    "SWITCHBOARD_TRANSCRIBE_CA_FILE",
)


@contextlib.contextmanager
def speech_fakes(
    harness: Harness, speed: float, endpointing_delay_ms: int, stable_tail_words: int
) -> Iterator[SpeechFakes]:
    """The local KVS ``GetMedia`` and Transcribe streaming, with the functions pointed at them
    (the harness's stand-in settings; speech itself is on or off as the stage configures it);
    all undone on exit."""
    media = ClockedKinesisVideoMedia(speed=speed)
    transcribe = LocalTranscribeStreaming(
        endpointing_delay_ms=endpointing_delay_ms, stable_tail_words=stable_tail_words
    )
    with media, transcribe:
        harness.use_stand_ins({
            "SWITCHBOARD_KVS_ENDPOINT_URL": media.endpoint_url,
            "SWITCHBOARD_TRANSCRIBE_ENDPOINT_URL": transcribe.url,
            "SWITCHBOARD_TRANSCRIBE_CA_FILE": transcribe.ca_file,
        })  # fmt: skip
        try:
            yield SpeechFakes(media, transcribe)
        finally:
            harness.use_stand_ins(dict.fromkeys((*SPEECH_STAND_INS, "SWITCHBOARD_SPECULATION_ENABLED")))


def set_speculation(harness: Harness, enabled: bool) -> None:
    """Turn speculation on or off for the next invocations (settings are read per container)."""
    harness.use_stand_ins({"SWITCHBOARD_SPECULATION_ENABLED": "true" if enabled else "false"})


# --- the execution environments -------------------------------------------------------------------

# Per run kind, per function, one execution environment: the transcriber's (busy for the call's
# length, with the speculations it starts) and the turn's (Connect waits for each turn before
# the next), each kept warm for its own function as Lambda keeps an environment per function.
FUNCTIONS_WITH_ENVIRONMENTS = ("turn", "transcriber")


class RunEnvironments:
    """One run kind's execution environments: a pool of one per function (``sim.environments``),
    so a turn never lands in the environment the transcriber just used, nor the reverse."""

    def __init__(self, pools: dict[str, EnvironmentPool]) -> None:
        self._pools = pools

    def submit(self, function: str, event: Any) -> Future[Invocation]:
        return self._pools[function].submit(function, event)

    def invoke(self, function: str, event: Any) -> Invocation:
        return self.submit(function, event).result()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()


@contextlib.contextmanager
def run_environments(harness: Harness, log_dir: Path) -> Iterator[dict[str, RunEnvironments]]:
    """Execution environments per run kind (processes, as Lambda runs each function in its
    own): the transcriber and its speculations never share an interpreter with the turn handler.
    Settings are read when an environment starts, so each kind has its own, started with the
    stage's settings (the harness's, speech fakes included) and speculation off or on."""
    runs: dict[str, RunEnvironments] = {}
    deployed = {name: harness.function(name) for name in FUNCTIONS_WITH_ENVIRONMENTS}
    limits = {name: FunctionLimits(f.memory_mb, f.timeout_s * 1000) for name, f in deployed.items()}
    try:
        for run in RUNS:
            set_speculation(harness, run == "speculative")
            pools = {name: EnvironmentPool(1, log_dir=log_dir, limits=limits) for name in FUNCTIONS_WITH_ENVIRONMENTS}
            runs[run] = RunEnvironments(pools)
            for pool in pools.values():
                pool.warm()
        yield runs
    finally:
        set_speculation(harness, False)
        for environments in runs.values():
            environments.close()


def pool_invoker(pool: RunEnvironments) -> Invoker:
    """The flow's synchronous invocations, each in its function's environment; as ``detail``
    the handler's timings and when it was invoked and returned (``time.monotonic``, this process)."""

    def invoke(call: LambdaCall) -> LambdaResult:
        invoked = time.monotonic()
        invocation = pool.invoke(call.function, call.event)
        returned = time.monotonic()
        detail = {"components": invocation.components, "invoked": invoked, "returned": returned}
        error = invocation.raised or ("SimulatedLambdaCrash" if invocation.crashed else None)
        return LambdaResult(None if error else invocation.answer, error, invocation.handler_ms, detail)

    return invoke


@contextlib.contextmanager
def paced_models(harness: Harness, speed: float) -> Iterator[None]:
    """The scripted model endpoint paced like the media (its latencies divided by ``speed``), so
    every wait of a turn runs on the one simulated clock; a live endpoint is not paced."""
    endpoint = harness.model_endpoint
    if endpoint is None:
        yield
        return
    before, endpoint.speed = endpoint.speed, speed
    try:
        yield
    finally:
        endpoint.speed = before


# --- the store: speculations and turn usage ---------------------------------------------------------


@dataclass(frozen=True)
class SpeculationCounts:
    made: int = 0  # started with work (a model call): the ones that can be used or wasted
    used: int = 0
    wasted: int = 0
    declined: int = 0  # recorded without any work: the words held caller data (``caller_data``)
    by_turn: tuple[tuple[int, str], ...] = ()  # (turn seq, "hit" | "miss")
    usage: tuple[Usage, ...] = ()
    made_for: tuple[dict[str, Any], ...] = ()  # each speculation: turn, words, state, used
    # per turn seq, the share of its speculation's run spent waiting on the paced models (the
    # one used, else the newest): ``paced_share``
    paced_by_turn: tuple[tuple[int, float], ...] = ()


def paced_share(speculation: Any) -> float:
    """The share of a finished speculation's run (start to stored, wall clock) spent waiting on
    the models, which are paced like the media; the rest is compute (DynamoDB, the handler's
    own code), which takes its wall time at every speed. 1.0 when it cannot be told (no run)."""
    run_ms = speculation.finished_at_ms - speculation.started_at_ms
    work = speculation.work
    if work is None or run_ms <= 0:
        return 1.0
    waited = sum(a.answer.total_ms for a in work.attempts if a.answer is not None)
    return min(1.0, max(0.0, waited / run_ms))


def speculation_counts(
    harness: Harness, contact_id: str, speech_ends_epoch_ms: dict[int, float] | None = None, speed: float = 1.0
) -> SpeculationCounts:
    """Speculations of a contact, from its ``SPEC#`` items (zeros when there are none): made,
    used (the stored turn answered from it: ``domain.speculation.used``), wasted with why
    (``domain.speculation.why_unused``), per turn ``hit`` (one was used) or ``miss`` (some were
    made, none used), and their usage."""
    from chalicelib.adapters.dynamodb_speculation import DynamoDbSpeculationStore  # noqa: PLC0415
    from chalicelib.domain.speculation import CALLER_DATA, why_unused_each  # noqa: PLC0415

    services = harness.services()
    now_ms = services.clock.now_ms()
    client = harness.aws.boto_session().client("dynamodb", endpoint_url=harness.aws.endpoint_url)
    store = DynamoDbSpeculationStore(client, services.settings.table_name, services.settings.session_ttl_seconds)
    made = tuple(sorted(store.load_all(contact_id, now_ms), key=lambda x: (x.seq, x.started_at_ms)))
    reasons = why_unused_each(made, services.session_store.load_turns(contact_id, now_ms))
    by_turn: dict[int, str] = {}
    for speculation, reason in zip(made, reasons, strict=True):
        by_turn[speculation.seq] = "hit" if not reason or by_turn.get(speculation.seq) == "hit" else "miss"
    usage = tuple(u for speculation in made for u in speculation.usage)
    ends = speech_ends_epoch_ms or {}

    def after_speech(x: Any, at_ms: int) -> float | None:  # simulated ms after the turn's end of speech
        return round((at_ms - ends[x.seq]) * speed, 1) if x.seq in ends and at_ms else None

    def stored_after_speech(x: Any) -> float | None:
        # Its start is paced (the media's pause triggers it); its run is compute at wall time
        # and model waits at ``speed`` times theirs.
        started = after_speech(x, x.started_at_ms)
        if started is None or not x.finished_at_ms:
            return None
        run_ms = x.finished_at_ms - x.started_at_ms
        return round(started + run_ms * (1 + (speed - 1) * paced_share(x)), 1)

    made_for = tuple(
        {"seq": x.seq, "transcript": x.transcript, "state": x.state.value, "tier": x.tier, "why": x.why,
         "used": not reason, "unused_because": reason, "started_after_speech_ms": after_speech(x, x.started_at_ms),
         "stored_after_speech_ms": stored_after_speech(x)}
        for x, reason in zip(made, reasons, strict=True)
    )  # fmt: skip
    paced: dict[int, float] = {}
    settled: set[int] = set()  # turns whose used speculation is found
    for x, reason in zip(made, reasons, strict=True):  # in start order: the newest, unless one was used
        if x.seq not in settled:
            paced[x.seq] = paced_share(x)
            if not reason:
                settled.add(x.seq)
    declined = sum(1 for reason in reasons if reason == CALLER_DATA)
    wasted = sum(1 for reason in reasons if reason and reason != CALLER_DATA)
    worked = len(made) - declined
    return SpeculationCounts(made=worked, used=worked - wasted, wasted=wasted, declined=declined,
                             by_turn=tuple(sorted(by_turn.items())), usage=usage, made_for=made_for,
                             paced_by_turn=tuple(sorted(paced.items())))  # fmt: skip


def turn_usage(harness: Harness, contact_id: str) -> tuple[Usage, ...]:
    """The usage every stored turn of the contact recorded."""
    services = harness.services()
    records = services.session_store.load_turns(contact_id, services.clock.now_ms())
    return tuple(u for record in records for u in record.usage)


# --- playing a call --------------------------------------------------------------------------------


def first_pass(harness: Harness, call: RecordedCall, speed: float = 1.0) -> list[FirstPass]:
    """The call through the contact flow with no media, until it ends or is handed over (in the
    harness's process: only its answers and their times are wanted, the times on the simulated
    clock of a run at ``speed``)."""
    contact = recorded_contact(call, run_contact_id(call.contact_id, "first-pass"))
    caller = RecordedCaller(call, retries=False)
    played = simulated_connect(harness).play(contact, caller, TURN_PATHS[call.format], harness_invoker(harness))
    answers = []
    for turn in played.turns:
        result = turn.deliveries[0].result if turn.deliveries else None
        fields = answer_fields(turn.answer) if isinstance(turn.answer, dict) else {}
        detail = (result.detail if result is not None else None) or {}
        handler_ms = simulated_handler_ms(result.duration_ms, detail.get("components", {}), speed) if result else 0.0
        answers.append(FirstPass(spoken_text(fields.get("prompt", "")), handler_ms, turn.end_timeout_ms))
    return answers


class _StreamCaller:
    """The caller of one run: each planned turn said when its speech ends on the media timeline
    and Lex's end timeout has passed (paced like the media), then hung up after the last."""

    def __init__(
        self, planned: list[PlannedTurn], fakes: SpeechFakes, arn: str, speed: float, transcriber: _TranscriberRun,
        lex_delay_ms: int | None,
    ) -> None:  # fmt: skip
        self._planned = iter(planned)
        self._fakes = fakes
        self._arn = arn
        self._speed = speed
        self._transcriber = transcriber
        self._lex_delay_ms = lex_delay_ms
        self.t0: float | None = None

    def speak(self, listen: Listen) -> Utterance | None:
        turn = next(self._planned, None)
        if turn is None:
            return None
        if self.t0 is None:
            self.t0 = self._fakes.media.wait_started(self._arn, MEDIA_START_TIMEOUT_S)
            if self.t0 is None:
                raise RuntimeError(f"the transcriber never asked for the media ({self._transcriber.answer})")
        delay = listen.end_timeout_ms if self._lex_delay_ms is None else self._lex_delay_ms
        heard = turn.caller.words
        cut = false_cutoff(heard, delay)
        if cut is not None:  # Lex ends the turn in the caller's own pause: it hears the words before
            heard = heard[:cut]
        end_of_speech = self.t0 + (turn.start_ms + (heard[-1][2] if heard else 0)) / 1000 / self._speed
        _sleep_until(end_of_speech + delay / 1000 / self._speed)
        words = " ".join(w for w, _, _ in heard) if cut is not None else turn.turn.caller
        return Utterance(words, tag=(turn, end_of_speech, cut is not None))


@dataclass(frozen=True)
class StreamOptions:
    speed: float = DEFAULT_SPEED
    lex_delay_ms: int | None = None  # overrides the end timeout the flow sets
    endpointing_delay_ms: int = TRANSCRIBE_FINAL_DELAY_MS
    stable_tail_words: int = 2  # the fake recogniser's default (stability "high")


def stream_run(
    harness: Harness,
    fakes: SpeechFakes,
    call: RecordedCall,
    planned: list[PlannedTurn],
    run: str,
    options: StreamOptions,
    pool: RunEnvironments,
) -> dict[str, Any]:
    """One run of a call through the speech path, its functions in ``pool``'s execution
    environments: the turns' reply-ready times (simulated clock) and what the store holds after."""
    contact_id = run_contact_id(call.contact_id, run)
    arn = STREAM_ARN.format(contact_id=contact_id)
    media = media_for(planned, contact_id)
    fakes.media.add_stream(arn, media)
    transcriber = _TranscriberRun(pool)
    caller = _StreamCaller(planned, fakes, arn, options.speed, transcriber, options.lex_delay_ms)
    source = MediaSource(arn, media.fragments[0].number, int(time.time() * 1000))
    contact = recorded_contact(call, contact_id)
    played = simulated_connect(harness).play(
        contact, caller, TURN_PATHS[call.format], pool_invoker(pool), invoke_async=transcriber.start, media=source,
    )  # fmt: skip
    if not transcriber.started:
        raise RuntimeError(f"{call.call}: the flow did not start the transcriber ({played.errors})")
    speed = options.speed
    transcriber.join()
    epoch0 = fakes.media.started_epoch_ms.get(arn)
    ends = {t.seq: epoch0 + t.end_of_speech_ms / speed for t in planned} if epoch0 is not None else {}
    speculation = speculation_counts(harness, contact_id, ends, speed)
    outcomes, paced = dict(speculation.by_turn), dict(speculation.paced_by_turn)
    turns = []
    for caller_turn in played.turns:
        planned_turn, end_of_speech, cut_off = caller_turn.utterance.tag
        result = caller_turn.deliveries[0].result if caller_turn.deliveries else None
        detail = (result.detail if result is not None else None) or {}
        invoked, returned = detail.get("invoked", end_of_speech), detail.get("returned", end_of_speech)
        fields = answer_fields(caller_turn.answer) if isinstance(caller_turn.answer, dict) else {}
        components = detail.get("components", {})
        handler_ms = simulated_handler_ms((returned - invoked) * 1000, components, speed,
                                          paced.get(planned_turn.seq, 1.0))  # fmt: skip
        answered = fields.get("turn", "")
        services = harness.services()
        record = (services.session_store.load_turn(contact_id, int(answered) - 1, services.clock.now_ms())
                  if answered.isdigit() else None)  # fmt: skip
        turns.append({
            "seq": planned_turn.seq,
            "caller": shown_caller(record, planned_turn.turn.caller),
            "end_of_speech_ms": planned_turn.end_of_speech_ms,
            "lex_end_timeout_ms": caller_turn.end_timeout_ms,
            "false_cutoff": cut_off,
            "lex_delay_ms": round((invoked - end_of_speech) * 1000 * speed, 1),
            "handler_ms": round(handler_ms, 1),
            "reply_ready_ms": round((invoked - end_of_speech) * 1000 * speed + handler_ms, 1),
            "wall_ms": round((returned - end_of_speech) * 1000, 1),
            "action": fields.get("action", ""),
            "latency_ms": {k: round(v, 1) for k, v in components.items()},
            "reply": spoken_text(fields.get("prompt", "")),
            "speculation": outcomes.get(planned_turn.seq, "none"),
        })  # fmt: skip
    return {
        "contact_id": contact_id,
        "duration_s": round(media.duration_ms / 1000, 3),
        "transcriber": transcriber.answer,
        "transcriber_started_by": next(d.block for d in played.deliveries if not d.synchronous),
        "caller_lines": _caller_lines(harness, contact_id),
        "turns": turns,
        "speculation": speculation,
        "turn_usage": turn_usage(harness, contact_id),
    }


# The handler's components that wait on something paced like the media (the scripted models, or a
# speculation whose models are): on the simulated clock they take ``speed`` times their wall time.
PACED_COMPONENTS = ("model", "speculation")


def simulated_handler_ms(
    wall_ms: float, components: dict[str, float], speed: float, speculation_paced: float = 1.0
) -> float:
    """A handler's time on the simulated clock: its compute as measured, its waits on the paced
    models (``PACED_COMPONENTS``) times ``speed``. A wait on a speculation is paced only in the
    share of the speculation's run that waited on its models (``speculation_paced``,
    ``paced_share``): the rest of that run was compute, at wall time on every clock. Exact at
    speed 1; above it, what the machine adds inside the model waits is scaled too (both runs
    alike)."""
    paced = components.get("model", 0.0) + speculation_paced * components.get("speculation", 0.0)
    return wall_ms + (speed - 1) * min(paced, wall_ms)


class _TranscriberRun:
    """The ``transcriber`` function of one run, started by the flow's asynchronous Invoke Lambda
    block with the event the flow built (``start`` is the run's asynchronous invoker), in an
    execution environment of its own: the run's pool keeps it busy for the call's length while
    the turns run in another."""

    def __init__(self, pool: RunEnvironments) -> None:
        self._pool = pool
        self.event: Any = None
        self.answer: dict[str, Any] = {}
        self._future: Future[Invocation] | None = None

    @property
    def started(self) -> bool:
        return self.event is not None

    def start(self, call: LambdaCall) -> None:
        if call.function != "transcriber" or self.started:
            raise ValueError(f"sim stream starts the transcriber once, not {call.function}")
        self.event = call.event
        self._future = self._pool.submit("transcriber", call.event)

    def join(self) -> None:
        if self._future is None:
            return
        invocation = self._future.result()
        if invocation.raised or invocation.crashed:
            self.answer = {"status": "raised", "error": invocation.raised or "SimulatedLambdaCrash",
                           "message": invocation.error_message[:500]}  # fmt: skip
        else:
            self.answer = dict(invocation.answer or {})


def _as_spoken(stored: list[str], spoken: list[str]) -> bool:
    """The stored transcript is the words spoken, line for line (caller data redacted)."""
    return len(stored) == len(spoken) and all(same_words(s, w) for s, w in zip(stored, spoken, strict=True))


def _caller_lines(harness: Harness, contact_id: str) -> list[str]:
    services = harness.services()
    live, _ = services.transcript_store.load(contact_id, services.clock.now_ms())
    return [line.text for line in live.lines if line.track == "AUDIO_FROM_CUSTOMER"]


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# --- the report --------------------------------------------------------------------------------


def stream_call(
    harness: Harness, fakes: SpeechFakes, call: RecordedCall, options: StreamOptions,
    pools: dict[str, RunEnvironments],
) -> tuple[dict[str, Any], dict[str, Decimal]]:  # fmt: skip
    """Both runs of a call; its report and its added cost by component."""
    answers = first_pass(harness, call, options.speed)
    planned = plan_call(call, answers, lex_delay_ms=options.lex_delay_ms)
    # Both runs at once, under the same load: each stream takes a script when it first hears
    # sound; the runs' audio and scripts are the same. Per run the caller's stream, and the
    # to-customer one if the call is handed over (a choice no stream took is dropped after).
    fakes.transcribe.script_by_sound(*[ScriptBySound(_by_first_sound(planned))] * (2 * len(RUNS)))
    with ThreadPoolExecutor(len(RUNS), thread_name_prefix="stream-run") as runners:
        started = {run: runners.submit(stream_run, harness, fakes, call, planned, run, options, pools[run])
                   for run in RUNS}  # fmt: skip
        runs = {run: future.result() for run, future in started.items()}
    fakes.transcribe.clear_scripts()
    base, spec = runs["baseline"], runs["speculative"]
    services = harness.services()
    pause_ms = services.settings.speculation_pause_ms  # the stage's, as the transcriber is packaged
    prices: PriceBook = services.prices
    duration_s = Decimal(str(spec["duration_s"]))
    transcribed = [spec["transcriber"]]  # the deployed system's: speculation on
    memory_mb = harness.function("transcriber").memory_mb
    added = cost_by_component(speech_added_usage(transcribed, duration_s, memory_mb), prices)
    phases = speech_cost_by_phase(transcribed, prices)
    for component, cost in cost_by_component(spec["speculation"].usage, prices).items():
        added[f"speculation_{component}"] = added.get(f"speculation_{component}", Decimal(0)) + cost
    turns_delta = total(cost_by_component(spec["turn_usage"], prices)) - total(
        cost_by_component(base["turn_usage"], prices)
    )
    added["turns_difference"] = turns_delta
    rows = [
        {
            "call": call.call,
            "seq": b["seq"],
            "caller": b["caller"],
            "end_of_speech_ms": b["end_of_speech_ms"],
            "reply_ready_ms_baseline": b["reply_ready_ms"],
            "reply_ready_ms_speculative": s["reply_ready_ms"],
            "handler_ms_baseline": b["handler_ms"],
            "handler_ms_speculative": s["handler_ms"],
            "latency_ms_baseline": b["latency_ms"],
            "latency_ms_speculative": s["latency_ms"],
            "lex_end_timeout_ms": s["lex_end_timeout_ms"],
            "false_cutoff_baseline": b["false_cutoff"],
            "false_cutoff_speculative": s["false_cutoff"],
            # Today's system: no speculation, Lex's 600 ms on every turn. Without speculation
            # nothing runs in the wait, so the handler's time is the baseline's own.
            "reply_ready_ms_fixed_timeout": round(
                DEFAULT_END_TIMEOUT_MS + b["lex_delay_ms"] - b["lex_end_timeout_ms"] + b["handler_ms"], 1
            ),
            "lex_delay_ms_baseline": b["lex_delay_ms"],
            "lex_delay_ms_speculative": s["lex_delay_ms"],
            "reply_ready_ms_ceiling": ceiling_reply_ready_ms(b, pause_ms),
            "speculation": s["speculation"],
            "same_reply": b["reply"] == s["reply"],
        }
        for b, s in _paired(base["turns"], spec["turns"])
    ]
    counts: SpeculationCounts = spec["speculation"]
    expected_lines = [" ".join(w for w, _, _ in u) for u in scripts_for(planned)[0].utterances]
    report = {
        "call": call.call,
        "format": call.format,
        "contact_ids": {"baseline": base["contact_id"], "speculative": spec["contact_id"]},
        "duration_s": float(duration_s),
        "turns": rows,
        "turns_played": {run: [row["seq"] for row in runs[run]["turns"]] for run in RUNS},
        "p50_reply_ready_ms_baseline": _median([r["reply_ready_ms_baseline"] for r in rows]),
        "p50_reply_ready_ms_speculative": _median([r["reply_ready_ms_speculative"] for r in rows]),
        "speculations": {
            "made": counts.made,
            "used": counts.used,
            "wasted": counts.wasted,
            "declined": counts.declined,
        },
        "speculations_made": list(counts.made_for),
        "transcriber": {run: runs[run]["transcriber"].get("status") for run in RUNS},
        "transcriber_errors": {
            run: runs[run]["transcriber"]["message"] for run in RUNS if "message" in runs[run]["transcriber"]
        },
        "transcriber_started_by": {run: runs[run]["transcriber_started_by"] for run in RUNS},
        "caller_transcript_as_spoken": {run: _as_spoken(runs[run]["caller_lines"], expected_lines) for run in RUNS},
        # What the store holds (redacted), never the words as spoken.
        "caller_transcript": {
            run: runs[run]["caller_lines"] for run in RUNS if not _as_spoken(runs[run]["caller_lines"], expected_lines)
        },
        "added_cost_usd": money(total(added)),
        "added_cost_per_minute_usd": money(per_minute(total(added), duration_s)),
        "transcribe_by_phase": {
            phase: {
                "media_s": float(c.media_s),
                "billed_s": float(c.transcribe_s),
                "cost_usd": money(c.cost_usd),
                "per_minute_usd": money(c.per_minute_usd),
            }
            for phase, c in phases.items()
        },
    }
    return report, added


def ceiling_reply_ready_ms(baseline: dict[str, Any], pause_ms: float) -> float:
    """The best reply-ready a speculation started in the caller's pause could give this turn:
    for a turn that reaches a model, the speculation starts the moment the pause trigger can
    fire (``pause_before_speculating`` after the end of speech: nothing lost to the media's
    pieces or the partials' lag), always hits, and does the baseline handler's work with nothing
    added (no store, no poll); the reply is ready when that work is done, and not before Lex
    hands the turn over. A rules turn keeps its baseline: its work is the session's read and
    conditional write, which cannot commit before the turn is final. A bound, not a forecast:
    no speculation on the finished utterance beats it."""
    if "model" not in (baseline.get("latency_ms") or {}):
        return float(baseline["reply_ready_ms"])
    pause = pause_before_speculating(pause_ms, baseline["lex_end_timeout_ms"])
    speculated = max(baseline["lex_delay_ms"], pause + baseline["handler_ms"])
    return round(min(baseline["reply_ready_ms"], speculated), 1)


def _model_turn_medians(rows: list[dict[str, Any]]) -> dict[str, Any]:
    model_rows = [r for r in rows if "model" in (r.get("latency_ms_baseline") or {})]
    base = _median([r["reply_ready_ms_baseline"] for r in model_rows])
    spec = _median([r["reply_ready_ms_speculative"] for r in model_rows])
    ceiling = _median([r["reply_ready_ms_ceiling"] for r in model_rows])
    every_base = _median([r["reply_ready_ms_baseline"] for r in rows])
    every_spec = _median([r["reply_ready_ms_speculative"] for r in rows])
    return {
        "model_turns": len(model_rows),
        "p50_reply_ready_ms_baseline_model_turns": base,
        "p50_reply_ready_ms_speculative_model_turns": spec,
        # What no speculation on the finished utterance beats (``ceiling_reply_ready_ms``).
        "p50_reply_ready_ms_ceiling_model_turns": ceiling,
        "p50_cut_model_turns": round(1 - spec / base, 4) if base and spec is not None else None,
        "p50_cut_all_turns": round(1 - every_spec / every_base, 4) if every_base and every_spec is not None else None,
    }


def stream(harness: Harness, calls: list[RecordedCall], options: StreamOptions) -> dict[str, Any]:
    """Every call, both runs; the report ``sim stream --json`` writes."""
    reports = []
    added: dict[str, Decimal] = {}
    seconds = Decimal(0)
    with contextlib.ExitStack() as stack:
        fakes = stack.enter_context(
            speech_fakes(harness, options.speed, options.endpointing_delay_ms, options.stable_tail_words)
        )
        stack.enter_context(paced_models(harness, options.speed))
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="switchboard-stream-")))
        pools = stack.enter_context(run_environments(harness, log_dir))
        for call in calls:
            report, call_added = stream_call(harness, fakes, call, options, pools)
            reports.append(report)
            seconds += Decimal(str(report["duration_s"]))
            for component, cost in call_added.items():
                added[component] = added.get(component, Decimal(0)) + cost
        endpoint_stats = fakes.transcribe.stats.as_dict()
    rows = [row for report in reports for row in report["turns"]]
    made = sum(r["speculations"]["made"] for r in reports)
    wasted = sum(r["speculations"]["wasted"] for r in reports)
    cutoffs = sum(1 for r in rows if r["false_cutoff_speculative"])
    totals = {
        "calls": len(reports),
        "turns": len(rows),
        "minutes": float(round(seconds / 60, 3)),
        "p50_reply_ready_ms_baseline": _median([r["reply_ready_ms_baseline"] for r in rows]),
        "p50_reply_ready_ms_speculative": _median([r["reply_ready_ms_speculative"] for r in rows]),
        "p50_reply_ready_ms_fixed_timeout": _median([r["reply_ready_ms_fixed_timeout"] for r in rows]),
        "p50_reply_ready_ms_ceiling": _median([r["reply_ready_ms_ceiling"] for r in rows]),
        "p95_reply_ready_ms_baseline": _p95([r["reply_ready_ms_baseline"] for r in rows]),
        "p95_reply_ready_ms_speculative": _p95([r["reply_ready_ms_speculative"] for r in rows]),
        # The turns a speculation can shorten: those that reach a model. A rules turn answers in
        # milliseconds once Lex hands it over; its end-of-speech-to-reply is Lex's end timeout.
        **_model_turn_medians(rows),
        "speculations_made": made,
        "speculations_used": sum(r["speculations"]["used"] for r in reports),
        "speculations_wasted": wasted,
        # Recorded with no work: the words held caller data (the turn does that one itself).
        "speculations_declined": sum(r["speculations"]["declined"] for r in reports),
        "wasted_share": round(wasted / made, 4) if made else 0.0,
        "wasted_by_reason": _wasted_by_reason(reports),
        "turns_answered_from_speculation": sum(1 for r in rows if r["speculation"] == "hit"),
        # Lex ended a turn inside a pause of the caller's own utterance (the end timeout in force).
        "false_cutoffs": cutoffs,
        "false_cutoff_share": round(cutoffs / len(rows), 4) if rows else 0.0,
        "false_cutoffs_baseline": sum(1 for r in rows if r["false_cutoff_baseline"]),
        **_transcribe_by_phase(reports),
        "added_cost_per_minute_usd": money(per_minute(total(added), seconds)),
        "added_cost_per_minute_by_component_usd": {k: money(per_minute(v, seconds)) for k, v in sorted(added.items())},
    }
    return {
        "model_endpoint": harness.model_endpoint_label,
        "speech": "local fakes: KVS GetMedia (espeak-ng audio) and a scripted Transcribe streaming recogniser",
        "assumptions": {
            "speed": options.speed,
            "lex_end_of_utterance_ms": options.lex_delay_ms
            if options.lex_delay_ms is not None
            else sorted({r["lex_end_timeout_ms"] for r in rows}),
            "lex_end_of_utterance_from": "--lex-delay-ms"
            if options.lex_delay_ms is not None
            else "the flow's Lex session attribute x-amz-lex:audio:end-timeout-ms:*:*",
            "transcribe_final_delay_ms": options.endpointing_delay_ms,
            "stable_tail_words": options.stable_tail_words,
            "reply_ready": "(answer returned - end of speech) x speed: the simulated clock, on which the media, "
            "Lex's end timeout and the scripted models are paced (compute too: conservative above speed 1)",
            "environments": "the transcriber (and its speculations) and the turns in separate processes",
        },
        "calls": reports,
        "totals": totals,
        "transcribe_endpoint_stats": endpoint_stats,
    }


def _paired(base: list[dict[str, Any]], spec: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The two runs' rows of the same planned turn (a run the flow ended early has fewer)."""
    by_seq = {row["seq"]: row for row in spec}
    return [(row, by_seq[row["seq"]]) for row in base if row["seq"] in by_seq]


def _wasted_by_reason(reports: list[dict[str, Any]]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for report in reports:
        for made in report["speculations_made"]:
            if made["unused_because"] and made["unused_because"] != "caller_data":  # declined: no work
                reasons[made["unused_because"]] = reasons.get(made["unused_because"], 0) + 1
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def _transcribe_by_phase(reports: list[dict[str, Any]]) -> dict[str, float]:
    """Transcribe's cost per media minute before and after a handover, over every call."""
    out: dict[str, float] = {}
    for phase in ("before_handover", "after_handover"):
        cost = sum((Decimal(str(r["transcribe_by_phase"][phase]["cost_usd"])) for r in reports), Decimal(0))
        seconds = sum((Decimal(str(r["transcribe_by_phase"][phase]["media_s"])) for r in reports), Decimal(0))
        out[f"transcribe_per_minute_{phase}_usd"] = money(per_minute(cost, seconds)) if seconds else 0.0
        out[f"media_minutes_{phase}"] = float(round(seconds / 60, 3))
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p95(values: list[float]) -> float | None:
    return round(percentile(values, 0.95), 1) if values else None


def format_stream(report: dict[str, Any]) -> str:
    """The per-turn table and the totals, for people."""
    lines = [
        f"model endpoint: {report['model_endpoint']}; speech: {report['speech']}",
        "assumptions: " + ", ".join(f"{k} {v}" for k, v in report["assumptions"].items()),
        "",
        f"{'call':<28}  {'turn':>4}  {'caller':<44}  {'baseline ms':>11}  {'speculative ms':>14}  speculation",
    ]
    for call in report["calls"]:
        for row in call["turns"]:
            lines.append(
                f"{_cut(call['call'], 28):<28}  {row['seq']:>4}  {_cut(row['caller'], 44):<44}  "
                f"{row['reply_ready_ms_baseline']:>11.0f}  {row['reply_ready_ms_speculative']:>14.0f}  "
                f"{row['speculation']}"
            )
        warnings = [run for run, ok in call["caller_transcript_as_spoken"].items() if not ok]
        if warnings:
            lines.append(
                f"  ! {call['call']}: the live caller transcript differs from the script ({', '.join(warnings)})"
            )
    t = report["totals"]
    lines += [
        "",
        f"totals: {t['calls']} calls, {t['turns']} turns, {t['minutes']} min",
        f"fixed-timeout baseline (no speculation, 600 ms end timeout): p50 {t['p50_reply_ready_ms_fixed_timeout']} ms; "
        f"false cutoffs {t['false_cutoffs']} of {t['turns']} turns ({t['false_cutoffs_baseline']} without speculation)",
        f"reply ready (end of speech -> answer): p50 {t['p50_reply_ready_ms_baseline']} ms baseline, "
        f"{t['p50_reply_ready_ms_speculative']} ms speculative; p95 {t['p95_reply_ready_ms_baseline']} / "
        f"{t['p95_reply_ready_ms_speculative']} ms; cut {t['p50_cut_all_turns']}",
        f"turns that reach a model ({t['model_turns']}): p50 {t['p50_reply_ready_ms_baseline_model_turns']} ms "
        f"baseline, {t['p50_reply_ready_ms_speculative_model_turns']} ms speculative; cut {t['p50_cut_model_turns']}",
        f"speculations: {t['speculations_made']} made, {t['speculations_used']} used, "
        f"{t['speculations_wasted']} wasted (share {t['wasted_share']}), {t['speculations_declined']} declined "
        "(caller data); "
        f"{t['turns_answered_from_speculation']} turns answered from one; wasted because "
        + (", ".join(f"{k} {v}" for k, v in t["wasted_by_reason"].items()) or "-"),
        f"Transcribe per minute: ${t['transcribe_per_minute_before_handover_usd']:.5f} before a handover "
        f"({t['media_minutes_before_handover']} min), ${t['transcribe_per_minute_after_handover_usd']:.5f} after "
        f"({t['media_minutes_after_handover']} min)",
        f"added cost per minute: ${t['added_cost_per_minute_usd']:.5f} ("
        + ", ".join(f"{k} ${v:.6f}" for k, v in t["added_cost_per_minute_by_component_usd"].items())
        + ")",
    ]
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
