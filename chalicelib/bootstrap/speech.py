"""Live transcription (the transcriber function) and speculative turns."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.data_files import shipped_end_of_turn
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.ports import SpeculationStore, TranscriptStore
from chalicelib.errors import ConfigurationInvalidError

if TYPE_CHECKING:  # built only by the handlers that need them: kept off the turn's cold start
    from collections.abc import Callable

    from chalicelib.adapters.lambda_continuation import LambdaContinuation
    from chalicelib.domain.language_words import LanguageWords
    from chalicelib.domain.redaction import Redactor
    from chalicelib.domain.speech import AudioSource, SpeechToText
    from chalicelib.domain.words_key import MatchVocabulary
    from chalicelib.usecases.speculate import Speculate
    from chalicelib.usecases.transcribe_call import TranscribeCall


class SpeechParts:
    """The transcriber's use case and adapters, and speculation (a part of ``Container``)."""

    settings: Any
    clock: Any
    meter: InvocationMeter
    dynamodb_client: Any
    unmetered_session_store: Any
    model_client: Any
    tiers: Any
    tool_runner: Any
    envelope: Any
    dialogue_policy: Any
    aws_client: Callable[..., Any]  # AwsClients
    container_redactor: Redactor  # TurnParts
    task_client: Callable[[str], Any]  # AwsClients
    match_vocabulary: MatchVocabulary  # TurnParts
    language_words: LanguageWords  # TurnParts

    @cached_property
    def audio_source(self) -> AudioSource:
        """The call's media from Kinesis Video Streams; GetMedia goes to the data endpoint that
        GetDataEndpoint names, with the KVS timeouts and one attempt (the use case resumes)."""
        from chalicelib.adapters.speech.kvs_audio_source import KinesisVideoAudioSource  # noqa: PLC0415

        s = self.settings
        timeouts = (s.kvs_connect_timeout_ms, s.kvs_read_timeout_ms)
        kinesisvideo = self.aws_client("kinesisvideo", *timeouts, 2, endpoint_url=s.kvs_endpoint_url)

        def media_client(data_endpoint: str) -> Any:
            return self.aws_client("kinesis-video-media", *timeouts, 1, endpoint_url=data_endpoint)

        return KinesisVideoAudioSource(kinesisvideo, media_client, read_bytes=s.kvs_read_bytes)

    @cached_property
    def speech_to_text(self) -> SpeechToText:
        """Amazon Transcribe streaming (its SDK and awscrt are imported on the first stream), with
        its PII identification when the stage turns it on: per call, for a language Transcribe
        identifies PII in (``PII_LANGUAGES``); a call in another language streams without it
        (the adapter leaves the option out, since Transcribe would refuse the stream) rather than
        failing. Our redactor runs on every result whatever the language."""
        from chalicelib.adapters.speech.transcribe_streaming import TranscribeStreamingSpeechToText  # noqa: PLC0415

        s = self.settings
        types = tuple(t.strip() for t in s.transcribe_pii_entity_types.split(",") if t.strip())
        return TranscribeStreamingSpeechToText(
            s.aws_region, endpoint_url=s.transcribe_endpoint_url, ca_file=s.transcribe_ca_file,
            pii_identification=s.transcribe_pii_identification, pii_entity_types=types,
        )  # fmt: skip

    @cached_property
    def transcribe_call(self) -> TranscribeCall:
        from chalicelib.usecases.transcribe_call import TranscribeCall  # noqa: PLC0415

        s = self.settings
        return TranscribeCall(
            self.audio_source,
            self.speech_to_text,
            self.transcript_store,
            self.clock,
            sessions=self.unmetered_session_store,
            redactor=self.container_redactor,  # its tokens need only be stable within the run
            language=s.speech_language,
            languages=self.streaming_languages,
            stop_before_ms=s.transcriber_stop_before_ms,
            on_caller_pause=self.speculate,
            pause_ms=s.speculation_pause_ms,
            bot_track=s.transcribe_bot_track,
            meter=self.meter,
            warm=self._warm_speculation,
            vocabulary=self.match_vocabulary,
            end_timeout_after=shipped_end_of_turn().end_timeout_after,
        )

    @cached_property
    def streaming_languages(self) -> frozenset[str]:
        """The languages a call may stream in (``transcribe_languages.json``); the stage's
        ``SWITCHBOARD_SPEECH_LANGUAGE`` must be one of them.

        Raises:
            ConfigurationInvalidError: the file is not valid, or the stage's language is not in it.
        """
        from chalicelib.adapters.data_files import load_streaming_languages  # noqa: PLC0415

        languages = load_streaming_languages()
        if self.settings.speech_language not in languages:
            raise ConfigurationInvalidError(
                f"SWITCHBOARD_SPEECH_LANGUAGE: Transcribe streaming takes no {self.settings.speech_language}"
            )
        return languages

    def _warm_speculation(self) -> object:
        """The speculation's model client and tools, ready before the caller's first pause."""
        from chalicelib.usecases.warm_up import warm_up  # noqa: PLC0415

        return warm_up(self.tool_runner, self.model_client, self.tiers)

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
            self.unmetered_session_store, store, self.clock, self.dialogue_policy, self.envelope, self.tiers, worker,
            vocabulary=self.match_vocabulary, words=self.language_words,
        )  # fmt: skip

    @cached_property
    def lambda_continuation(self) -> LambdaContinuation:
        from chalicelib.adapters.lambda_continuation import LambdaContinuation  # noqa: PLC0415

        return LambdaContinuation(self.task_client("lambda"), self.settings.transcriber_function_name)
