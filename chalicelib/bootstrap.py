"""Composition root: builds the adapters and use cases once per container, lazily.

Nothing is built at import time: a cold start pays only for what the invoked handler uses.
Tests and ``sim/`` call ``reset()`` to rebuild after changing the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.data_files import (
    DATA,
    check_prices_cover,
    load_envelope,
    load_prices,
    load_prompt,
    load_tiers,
    load_tools,
)
from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
from chalicelib.adapters.usage_meter import InvocationMeter, invocation_cost, lambda_usage
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.ledger import PriceBook
from chalicelib.domain.ports import ModelClient, SpeculationStore, TranscriptStore
from chalicelib.domain.tiers import TierTable
from chalicelib.errors import AppError, SettingMissingError
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:  # built only by the handlers that need them: kept off the turn's cold start
    from chalicelib.adapters.lambda_continuation import LambdaContinuation
    from chalicelib.domain.handover import ContactAttributes, HandoverPolicy, HandoverWorkflow
    from chalicelib.domain.speech import AudioSource, SpeechToText
    from chalicelib.usecases.handover import AgentConnected, OfferCallback, PrepareHandover, WaitForAgent
    from chalicelib.usecases.speculate import Speculate
    from chalicelib.usecases.stream_consumers import CloseContact, IngestSegments
    from chalicelib.usecases.transcribe_call import TranscribeCall
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.run_tools import RunTools

# Kept back from Lambda's own remaining time so the answer is rendered and returned before
# Lambda would kill the invocation.
_LAMBDA_SAFETY_MS = 200


class Container:
    """The adapters and use cases of one Lambda container."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.meter = InvocationMeter(tracer=self.tracer)
        # The usage and cost of the newest invocation (read by sim/ for its reports).
        self.last_invocation: dict[str, Any] = {}

    def _aws_client(
        self, service: str, connect_ms: float, read_ms: float, attempts: int, endpoint_url: str | None = None
    ) -> Any:
        """A boto3 client with explicit timeouts (a slice of the envelope) and bounded retries;
        ``endpoint_url`` overrides the configured endpoint (KVS's data endpoint for GetMedia)."""
        import boto3  # noqa: PLC0415 - lazy: ~250 ms of cold start, only for handlers that need it
        from botocore.config import Config  # noqa: PLC0415

        s = self.settings
        config = Config(
            region_name=s.aws_region,
            connect_timeout=connect_ms / 1000,
            read_timeout=read_ms / 1000,
            retries={"mode": "standard", "total_max_attempts": attempts},
            tcp_keepalive=True,
        )
        return boto3.session.Session().client(service, endpoint_url=endpoint_url or s.aws_endpoint_url, config=config)

    @cached_property
    def dynamodb_client(self) -> Any:
        from chalicelib.adapters.aws_retries import short_backoff  # noqa: PLC0415 - with boto3

        s = self.settings
        client = self._aws_client("dynamodb", s.ddb_connect_timeout_ms, s.ddb_read_timeout_ms, s.ddb_max_attempts)
        short_backoff(client, s.ddb_max_attempts, cap_ms=s.ddb_retry_backoff_cap_ms)
        return client

    @cached_property
    def session_store(self) -> DynamoDbSessionStore:
        return DynamoDbSessionStore(
            self.dynamodb_client, self.settings.table_name, self.settings.session_ttl_seconds, usage=self.meter
        )

    @cached_property
    def envelope(self) -> Envelope:
        """The latency envelope of this stage, checked: a container whose parts do not fit its
        deadline refuses to start (``EnvelopeInvalidError`` names the part)."""
        return load_envelope(DATA / self.settings.envelope_file, self.settings.stage)

    @cached_property
    def tracer(self) -> Any:
        """Powertools Tracer (X-Ray), only when enabled: its import costs about half a second."""
        if not self.settings.tracing_enabled:
            return None
        from aws_lambda_powertools import Tracer  # noqa: PLC0415 - lazy, opt-in

        return Tracer(service="switchboard")

    @cached_property
    def tiers(self) -> TierTable:
        return load_tiers(DATA / self.settings.tiers_file)

    @cached_property
    def prices(self) -> PriceBook:
        prices = load_prices(DATA / self.settings.prices_file, self.settings.lambda_architecture)
        check_prices_cover(self.tiers, prices)
        return prices

    @cached_property
    def model_client(self) -> ModelClient | None:
        """The model client, or None when no model endpoint is configured (tier 0 only)."""
        s = self.settings
        if not s.models_configured:
            return None
        from chalicelib.adapters.openai_model import OpenAiModelClient  # noqa: PLC0415 - model turns only

        key: str | Callable[[], str]
        if s.openai_api_key is not None:
            key = s.openai_api_key.get_secret_value()
        elif s.model_base_url is None and s.model_secret_arn is not None:
            from chalicelib.adapters.secrets import SecretsManagerSecret  # noqa: PLC0415

            key = SecretsManagerSecret(self._secretsmanager_client, s.model_secret_arn).value
        else:
            key = "no-key-needed"  # an OpenAI-compatible endpoint that takes none (sim/)
        return OpenAiModelClient(api_key=key, base_url_override=s.model_base_url)

    def _secretsmanager_client(self) -> Any:
        s = self.settings
        return self._aws_client("secretsmanager", s.ddb_connect_timeout_ms, s.ddb_read_timeout_ms, 2)

    @cached_property
    def tool_runner(self) -> RunTools | None:
        """The tool runner, or None when no tool endpoint is configured (no tool is offered)."""
        built = self._tool_runner(self.meter)
        return built[0] if built else None

    def _tool_runner(self, meter: InvocationMeter) -> tuple[RunTools, list[Any]] | None:
        """A tool runner recording into ``meter``, and its transports; None without endpoints."""
        s = self.settings
        if s.tools_mcp_url is None and s.tools_http_url is None:
            return None
        from chalicelib.adapters.tools.gateway import TransportGateway, TransportToolGateway  # noqa: PLC0415

        graph, routes = load_tools(DATA / s.tools_file)
        transports: dict[str, TransportGateway] = {}
        if s.tools_mcp_url:
            from chalicelib.adapters.tools.mcp_gateway import McpToolGateway  # noqa: PLC0415 - heavy SDK

            transports["mcp"] = McpToolGateway(s.tools_mcp_url)
        if s.tools_http_url:
            from chalicelib.adapters.tools.http_gateway import HttpToolGateway  # noqa: PLC0415

            transports["http"] = HttpToolGateway(s.tools_http_url, routes)
        from chalicelib.adapters.dynamodb_journal import DynamoDbToolJournal  # noqa: PLC0415

        journal = DynamoDbToolJournal(self.dynamodb_client, s.table_name, s.session_ttl_seconds, usage=meter)
        runner = RunTools(graph, TransportToolGateway(transports), journal, self.clock, self.envelope, meter)
        return runner, list(transports.values())

    @cached_property
    def dialogue_policy(self) -> DialoguePolicy:
        s = self.settings
        return DialoguePolicy(
            history_limit=s.history_limit,
            misunderstandings_before_handover=s.misunderstandings_before_handover,
            default_queue=s.default_queue,
            system_prompt=load_prompt("system"),
            max_history_messages=self.tiers.max_history_messages,
            max_message_chars=self.tiers.max_message_chars,
            handover=self.handover_policy,
        )

    @cached_property
    def handle_turn(self) -> HandleTurn:
        s = self.settings
        self.prices  # noqa: B018 - fail at start-up, not mid-call, if a configured model has no price
        return HandleTurn(
            self.session_store,
            self.clock,
            self.dialogue_policy,
            self.envelope,
            models=self.model_client,
            tiers=self.tiers,
            tools=self.tool_runner,
            commit_attempts=s.commit_attempts,
            meter=self.meter,
            handover=self.handover_workflow,
            speculations=self.speculation_store,
        )

    @cached_property
    def ingest_segments(self) -> IngestSegments:
        from chalicelib.usecases.stream_consumers import IngestSegments  # noqa: PLC0415

        return IngestSegments(self.session_store, self.clock)

    @cached_property
    def close_contact(self) -> CloseContact:
        from chalicelib.usecases.stream_consumers import CloseContact  # noqa: PLC0415

        resume = self.agent_connected if self.handover_workflow is not None else None
        return CloseContact(self.session_store, self.clock, self.prices, resume_handover=resume,
                            speculations=self.speculation_store,
                            transcripts=self.transcript_store if self.settings.speech_enabled else None)  # fmt: skip

    def warm_up(self) -> dict[str, str]:
        """Build everything a turn needs while the greeting plays: the contact flow invokes the
        handler once at the start of the call (``Parameters.warmup = "true"``)."""
        self.handle_turn  # noqa: B018 - builds the store, its client, policy, tiers, prices
        self.dynamodb_client.meta.endpoint_url  # noqa: B018 - the client itself is built lazily by boto3
        if self.tool_runner is not None:
            self.tool_runner.warm()
        warm = getattr(self.model_client, "warm", None)
        if callable(warm):
            try:
                warm(self.tiers.model_tiers)
            except AppError as exc:  # the turn that needs a model will degrade; warming goes on
                logger.warning("model client not warmed", extra={"error": type(exc).__name__})
        return {"action": "warm"}

    @contextmanager
    def metered_invocation(self, context: Any) -> Iterator[InvocationMeter]:
        """Meter one invocation: Lambda time and everything recorded during it, priced by the
        ledger, logged and emitted as a metric, and kept as ``last_invocation``."""
        self.meter.drain()  # nothing from an earlier, interrupted invocation is charged here
        started = time.perf_counter()
        try:
            yield self.meter
        finally:
            handler_ms = (time.perf_counter() - started) * 1000
            memory_mb = int(getattr(context, "memory_limit_in_mb", 0) or 1024)
            for item in lambda_usage(memory_mb, handler_ms):
                self.meter.record(item)
            usage, timings = self.meter.drain()
            self.last_invocation = {"usage": usage, "latency_ms": {**timings, "handler": handler_ms}}
            self._report(handler_ms, timings, usage)

    def _report(self, handler_ms: float, timings: dict[str, float], usage: tuple[Any, ...]) -> None:
        """Metrics (EMF) for the invocation: latency per component, deadline misses, cost."""
        try:
            for component, ms in timings.items():
                metrics.add_metric(name=f"Latency.{component}", unit=MetricUnit.Milliseconds, value=ms)
            metrics.add_metric(name="Latency.handler", unit=MetricUnit.Milliseconds, value=handler_ms)
            missed = handler_ms > self.envelope.hard_deadline_ms
            metrics.add_metric(name="DeadlineMisses", unit=MetricUnit.Count, value=int(missed))
            self.last_invocation["deadline_met"] = not missed
            self.last_invocation.update(invocation_cost(usage, self.prices))
            cost = self.last_invocation["cost_usd"]
            metrics.add_metric(name="TurnCostMicroUsd", unit=MetricUnit.Count, value=float(cost * 1_000_000))
        except Exception:  # noqa: BLE001 - accounting must never break the answer
            logger.exception("invocation not reported", extra={"usage_items": len(usage)})

    def turn_deadline(self, context: Any, started_at_ms: float | None = None) -> Deadline:
        """The turn's deadlines from the envelope; the hard one shorter if Lambda has less
        time left."""
        envelope = self.envelope
        hard_ms = envelope.hard_deadline_ms
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            hard_ms = min(hard_ms, float(remaining()) - _LAMBDA_SAFETY_MS)
        started = self.clock.monotonic_ms() if started_at_ms is None else started_at_ms
        return Deadline(started_at_ms=started, hard_ms=max(hard_ms, 0.0), soft_ms=envelope.soft_deadline_ms)

    # --- human handover (the workflow and its task handlers) -----------------------------------

    @cached_property
    def handover_policy(self) -> HandoverPolicy:
        from chalicelib.adapters.handover_config import load_handover_policy  # noqa: PLC0415

        return load_handover_policy(DATA / self.settings.handover_file)

    @cached_property
    def stepfunctions_client(self) -> Any:
        s = self.settings
        return self._aws_client("stepfunctions", s.sfn_connect_timeout_ms, s.sfn_read_timeout_ms, 2)

    @cached_property
    def handover_workflow(self) -> HandoverWorkflow | None:
        """The handover workflow, or None when no state machine is configured."""
        arn = self.settings.handover_state_machine_arn
        if not arn:
            return None
        from chalicelib.adapters.stepfunctions_handover import StepFunctionsHandoverWorkflow  # noqa: PLC0415

        return StepFunctionsHandoverWorkflow(self.stepfunctions_client, arn)

    @cached_property
    def handover_store(self) -> DynamoDbSessionStore:
        """The session store of the workflow's tasks: not metered into a turn's usage (in sim/
        they run beside the turns in the same process)."""
        return DynamoDbSessionStore(self.dynamodb_client, self.settings.table_name, self.settings.session_ttl_seconds)

    @cached_property
    def contact_attributes(self) -> ContactAttributes:
        """Amazon Connect's contact attributes on the stage's instance (the agent's summary)."""
        s = self.settings
        if not s.connect_instance_id:
            raise SettingMissingError("SWITCHBOARD_CONNECT_INSTANCE_ID is not set (the stack's ConnectInstanceId)")
        from chalicelib.adapters.connect_contact_attributes import ConnectContactAttributes  # noqa: PLC0415

        return ConnectContactAttributes(self._aws_client("connect", 1000, 3000, 2), s.connect_instance_id)

    @cached_property
    def handover_tools(self) -> RunTools | None:
        """A tool runner for the callback: its own meter, so no turn is charged for it."""
        built = self._tool_runner(InvocationMeter())
        if built is None:
            return None
        runner, self._handover_transports = built
        return runner

    def close_handover_tools(self) -> None:
        """Close the callback's tool connections (sim/ and tests; a Lambda container just ends)."""
        for transport in getattr(self, "_handover_transports", ()):
            close = getattr(transport, "close", None)
            if callable(close):
                close()

    @cached_property
    def prepare_handover(self) -> PrepareHandover:
        from chalicelib.usecases.handover import PrepareHandover  # noqa: PLC0415

        return PrepareHandover(self.handover_store, self.contact_attributes, self.clock, self.handover_policy)

    @cached_property
    def wait_for_agent(self) -> WaitForAgent:
        from chalicelib.usecases.handover import WaitForAgent  # noqa: PLC0415

        return WaitForAgent(self.handover_store, self.clock)

    @cached_property
    def offer_callback(self) -> OfferCallback:
        from chalicelib.usecases.handover import OfferCallback  # noqa: PLC0415

        return OfferCallback(self.handover_store, self.clock, self.handover_tools, self.handover_policy)

    @cached_property
    def agent_connected(self) -> AgentConnected:
        from chalicelib.usecases.handover import AgentConnected  # noqa: PLC0415

        workflow = self.handover_workflow
        if workflow is None:
            raise SettingMissingError("SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN is not set")
        return AgentConnected(self.handover_store, workflow, self.clock)

    # --- live transcription (the transcriber Lambda) --------------------------------------------

    @cached_property
    def audio_source(self) -> AudioSource:
        """The call's media from Kinesis Video Streams; GetMedia goes to the data endpoint that
        GetDataEndpoint names, with the KVS timeouts and one attempt (the use case resumes)."""
        from chalicelib.adapters.speech.kvs_audio_source import KinesisVideoAudioSource  # noqa: PLC0415

        s = self.settings
        timeouts = (s.kvs_connect_timeout_ms, s.kvs_read_timeout_ms)
        kinesisvideo = self._aws_client("kinesisvideo", *timeouts, 2, endpoint_url=s.kvs_endpoint_url)

        def media_client(data_endpoint: str) -> Any:
            return self._aws_client("kinesis-video-media", *timeouts, 1, endpoint_url=data_endpoint)

        return KinesisVideoAudioSource(kinesisvideo, media_client, read_bytes=s.kvs_read_bytes)

    @cached_property
    def speech_to_text(self) -> SpeechToText:
        """Amazon Transcribe streaming (its SDK and awscrt are imported on the first stream)."""
        from chalicelib.adapters.speech.transcribe_streaming import TranscribeStreamingSpeechToText  # noqa: PLC0415

        s = self.settings
        return TranscribeStreamingSpeechToText(
            s.aws_region, endpoint_url=s.transcribe_endpoint_url, ca_file=s.transcribe_ca_file
        )

    @cached_property
    def transcribe_call(self) -> TranscribeCall:
        from chalicelib.usecases.transcribe_call import TranscribeCall  # noqa: PLC0415

        s = self.settings
        return TranscribeCall(
            self.audio_source,
            self.speech_to_text,
            self.transcript_store,
            self.clock,
            sessions=self.handover_store,  # not metered into a turn's usage, like the workflow's tasks
            language=s.speech_language,
            stop_before_ms=s.transcriber_stop_before_ms,
            on_caller_pause=self.speculate,
            pause_ms=s.speculation_pause_ms,
        )

    @cached_property
    def transcript_store(self) -> TranscriptStore:
        from chalicelib.adapters.dynamodb_transcript import DynamoDbTranscriptStore  # noqa: PLC0415

        s = self.settings
        return DynamoDbTranscriptStore(self.dynamodb_client, s.table_name, s.session_ttl_seconds, usage=self.meter)

    @cached_property
    def speculation_store(self) -> SpeculationStore | None:
        """Where speculative turns are kept; None when the stage does not speculate."""
        s = self.settings
        if not s.speculation_enabled:
            return None
        from chalicelib.adapters.dynamodb_speculation import DynamoDbSpeculationStore  # noqa: PLC0415

        return DynamoDbSpeculationStore(self.dynamodb_client, s.table_name, s.speculation_ttl_seconds, usage=self.meter)

    @cached_property
    def speculate(self) -> Speculate | None:
        """The speculative turn the transcriber starts at a pause (None: off, or no models)."""
        store = self.speculation_store
        if store is None or self.model_client is None:
            return None
        from chalicelib.usecases.run_models import RunModels  # noqa: PLC0415
        from chalicelib.usecases.speculate import Speculate  # noqa: PLC0415

        # Its own meter: the transcriber's invocation, not a turn's, pays for it (see the ledger).
        worker = RunModels(self.model_client, self.tiers, self.tool_runner, self.envelope, self.clock,
                           InvocationMeter(), self.dialogue_policy)  # fmt: skip
        return Speculate(
            self.handover_store, store, self.clock, self.dialogue_policy, self.envelope, self.tiers, worker
        )

    @cached_property
    def lambda_continuation(self) -> LambdaContinuation:
        from chalicelib.adapters.lambda_continuation import LambdaContinuation  # noqa: PLC0415

        s = self.settings
        return LambdaContinuation(self._aws_client("lambda", 1000, 3000, 2), s.transcriber_function_name)


_container: Container | None = None


def container() -> Container:
    """The container's services, built on first use."""
    global _container  # noqa: PLW0603 - one composition root per Lambda container
    if _container is None:
        _container = Container(get_settings())
    return _container


def reset() -> None:
    """Forget settings and services (tests, and sim/ after it changes the environment)."""
    global _container  # noqa: PLW0603
    _container = None
    get_settings.cache_clear()
