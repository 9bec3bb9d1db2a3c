"""The transcriber Lambda through Chalice's test client, and the speech path end to end: the real
KVS adapter against ``LocalKinesisVideoMedia`` (127.0.0.1), a scripted recogniser, the DynamoDB
store on moto."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib import bootstrap
from chalicelib.adapters.speech.kvs_audio_source import KinesisVideoAudioSource
from chalicelib.domain.live_transcript import CALLER, LiveTranscript
from chalicelib.domain.session import Session, SessionStatus
from chalicelib.domain.speech import TRACKS, MediaPosition, is_voiced
from chalicelib.usecases.transcribe_call import TranscribeCall
from chalicelib.usecases.transcription_run import PRE_ROLL_MS
from sim.kvs_media_server import LocalKinesisVideoMedia
from sim.media import CallMedia, call_media
from sim.speech_audio import BYTES_PER_MS
from tests.conftest import load_json
from tests.speech_fakes import InMemoryAudioSource, ScriptedSpeechToText, call_chunks

SAMPLE = load_json("kvs/kvs-transcriber-invocation.realtime-transcription-sample.json")
STREAM_ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-contact-9/1700000000000"


class RecordingContinuation:
    def __init__(self) -> None:
        self.events: list[tuple[dict[str, Any], str | None]] = []

    def __call__(self, event: dict[str, Any], function_name: str | None = None) -> None:
        self.events.append((event, function_name))


@pytest.fixture
def speech_on(monkeypatch: pytest.MonkeyPatch, moto_dynamodb: Any) -> Iterator[None]:
    monkeypatch.setenv("SWITCHBOARD_SPEECH_ENABLED", "true")
    bootstrap.reset()
    yield
    bootstrap.reset()


def stored(contact_id: str) -> LiveTranscript:
    services = bootstrap.container()
    live, version = services.transcript_store.load(contact_id, services.clock.now_ms())
    assert version > 0
    return live


def with_fakes(source: Any, stop_before_ms: float) -> RecordingContinuation:
    services = bootstrap.container()
    services.__dict__["transcribe_call"] = TranscribeCall(
        source, ScriptedSpeechToText(), services.transcript_store, services.clock, language="en-US",
        redactor=services.container_redactor, flush_every_ms=20, stop_before_ms=stop_before_ms, settle_ms=50,
        sessions=services.unmetered_session_store,
    )  # fmt: skip
    continuation = RecordingContinuation()
    services.__dict__["lambda_continuation"] = continuation
    return continuation


def test_a_malformed_event_is_rejected_by_name_and_logged(
    lambda_client: Any, speech_on: None, caplog: pytest.LogCaptureFixture
) -> None:
    answer = lambda_client.lambda_.invoke("transcriber", {"streamARN": "nope"}).payload
    assert answer == {"status": "rejected", "error": "TranscriberInvocationMalformedError"}
    [record] = [r for r in caplog.records if r.getMessage() == "transcriber event rejected"]
    assert record.error == "TranscriberInvocationMalformedError"  # type: ignore[attr-defined]
    assert "nope" not in str(record.__dict__)  # where it failed, not the values


def test_speech_disabled_answers_without_reading_media(moto_dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalice.local import LambdaContext

    import app as app_module
    from chalicelib import bootstrap

    monkeypatch.setenv("SWITCHBOARD_SPEECH_ENABLED", "false")  # both shipped stages have it on
    bootstrap.reset()
    context = LambdaContext("transcriber", memory_size=512, max_runtime_ms=900_000)
    assert app_module.app.handler_map["transcriber"](SAMPLE, context) == {"status": "disabled"}


def test_the_stream_ended_writes_the_transcript_and_does_not_continue(lambda_client: Any, speech_on: None) -> None:
    chunks = call_chunks(fragments=3)
    continuation = with_fakes(InMemoryAudioSource(chunks), stop_before_ms=1_000)
    event = {**SAMPLE, "startFragmentNum": chunks[0].fragment_number, "connectContactId": "c-t1"}

    answer = lambda_client.lambda_.invoke("transcriber", event).payload

    assert (answer["status"], answer["continued"]) == ("ended", False)
    assert continuation.events == []
    live = stored("c-t1")
    assert live.checkpoint == chunks[-1].position
    assert {line.track for line in live.lines} == {CALLER}  # with the bot: its prompts are not transcribed
    assert answer["transcribe"]["streamed_s"]["before_handover"] == {CALLER: 3.0, "AUDIO_TO_CUSTOMER": 0.0}


def handed_over(contact_id: str) -> None:
    """The session as the turn leaves it when it commits a handover reply."""
    services = bootstrap.container()
    session = replace(Session.new(contact_id, services.clock.now_ms()), status=SessionStatus.HANDOVER)
    services.unmetered_session_store.save_session(session, services.clock.now_ms())


def test_a_handed_over_call_read_from_the_session_table_gets_both_tracks(lambda_client: Any, speech_on: None) -> None:
    chunks = call_chunks(fragments=3)
    with_fakes(InMemoryAudioSource(chunks), stop_before_ms=1_000)
    handed_over("c-t3")
    event = {**SAMPLE, "startFragmentNum": chunks[0].fragment_number, "connectContactId": "c-t3"}

    answer = lambda_client.lambda_.invoke("transcriber", event).payload

    live = stored("c-t3")
    assert {line.track for line in live.lines} == set(TRACKS)
    assert live.handover_at_ms == chunks[0].timecode_ms == answer["transcribe"]["handover_at_ms"]
    assert answer["transcribe"]["streamed_s"]["after_handover"] == dict.fromkeys(TRACKS, 3.0)


def test_near_the_time_limit_it_reinvokes_itself_with_the_checkpoint(lambda_client: Any, speech_on: None) -> None:
    chunks = call_chunks(fragments=3)
    # Stop as soon as the invocation has less than 10^9 ms left (at once): the checkpoint goes on,
    # and a run that got nowhere counts as a retry (a timeout under ``stop_before_ms`` would
    # otherwise re-invoke for ever).
    continuation = with_fakes(InMemoryAudioSource(chunks, pace_s=0.002), stop_before_ms=10**9)
    event = {**SAMPLE, "startFragmentNum": chunks[0].fragment_number, "connectContactId": "c-t2"}

    answer = lambda_client.lambda_.invoke("transcriber", event).payload

    assert (answer["status"], answer["continued"]) == ("continue", True)
    [(follow_up, _)] = continuation.events
    assert follow_up["position"] == answer["checkpoint"]
    assert follow_up["attempt"] == 1 and follow_up["connectContactId"] == "c-t2"
    checkpoint = stored("c-t2").checkpoint or MediaPosition(chunks[0].fragment_number)
    assert {"fragment_number": checkpoint.fragment_number, "timecode_ms": checkpoint.timecode_ms} == answer[
        "checkpoint"
    ]


# --- end to end: KVS adapter + local GetMedia server + scripted recogniser + DynamoDB (moto) ---


@pytest.fixture(scope="module")
def media() -> CallMedia:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs Debian's ffmpeg")
    noise = random.Random(23)
    return call_media([(0, noise.randbytes(24_000))], [(900, noise.randbytes(20_000))], tail_ms=300)


def kvs_source(server: LocalKinesisVideoMedia) -> KinesisVideoAudioSource:
    session = boto3.session.Session()
    config = Config(region_name="us-east-1", retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
    kinesisvideo = session.client("kinesisvideo", endpoint_url=server.endpoint_url, config=config)
    return KinesisVideoAudioSource(
        kinesisvideo, lambda url: session.client("kinesis-video-media", endpoint_url=url, config=config)
    )


def test_kvs_media_to_the_dynamodb_session_end_to_end_through_a_dropped_connection(
    moto_dynamodb: Any, media: CallMedia
) -> None:
    services = bootstrap.container()
    speech = ScriptedSpeechToText(utterance_ms=400)
    with LocalKinesisVideoMedia() as server:
        server.add_stream(STREAM_ARN, media)
        server.drop_next(STREAM_ARN, after_bytes=int(len(media.body) * 0.5))
        transcribe = TranscribeCall(
            kvs_source(server), speech, services.transcript_store, services.clock, language="en-US",
            redactor=services.container_redactor, flush_every_ms=20, settle_ms=100, bot_track=True,
        )  # fmt: skip
        start = MediaPosition(media.fragments[0].number)
        first = transcribe("c-e2e", STREAM_ARN, start, lambda: 600_000.0)
        second = transcribe("c-e2e", STREAM_ARN, first.checkpoint, lambda: 600_000.0)

    assert (first.outcome, first.error, second.outcome) == ("retry", "MediaStreamUnavailableError", "ended")
    for track in TRACKS:
        # Every byte sent once across the two runs, from just before the track's first speech.
        sent, audio = speech.audio(track), media.tracks[track]
        held = audio[: len(audio) - len(sent)]
        assert sent == audio[len(held) :] and not is_voiced(held)
        speech_at = next(i for i in range(0, len(audio), 2) if is_voiced(audio[i : i + 2]))
        assert len(held) == 0 or speech_at - len(held) >= PRE_ROLL_MS * BYTES_PER_MS  # the pre-roll went too
    live = stored("c-e2e")
    assert live.speech_status == "ended"
    assert live.checkpoint == MediaPosition(media.fragments[-1].number, live.checkpoint.timecode_ms)  # type: ignore[union-attr]
    assert all(line.is_final for line in live.lines)


def test_the_real_transcribe_adapter_against_the_local_endpoint_into_dynamodb(moto_dynamodb: Any) -> None:
    from chalicelib.adapters.speech.transcribe_streaming import AwsCredentials, TranscribeStreamingSpeechToText
    from sim.transcribe_endpoint import LocalTranscribeStreaming, StreamScript

    words = StreamScript.of((("my", 200, 400), ("card", 450, 800)), (("is", 1700, 1800), ("broken", 1850, 2300)))
    chunks = call_chunks(fragments=3)
    services = bootstrap.container()
    with LocalTranscribeStreaming(endpointing_delay_ms=300) as endpoint:
        endpoint.script(words, words)  # one stream per track
        speech = TranscribeStreamingSpeechToText(
            "us-east-1", endpoint_url=endpoint.url, credentials=AwsCredentials("testing", "testing"),
            ca_file=endpoint.ca_file,
        )  # fmt: skip
        handed_over("c-real")  # both tracks: one stream each
        transcribe = TranscribeCall(
            InMemoryAudioSource(chunks), speech, services.transcript_store, services.clock, language="en-US",
            redactor=services.container_redactor, flush_every_ms=50, settle_ms=50,
            sessions=services.unmetered_session_store,
        )  # fmt: skip
        outcome = transcribe("c-real", STREAM_ARN, MediaPosition(chunks[0].fragment_number), lambda: 600_000.0)

    assert outcome.outcome == "ended", outcome.error
    live = stored("c-real")
    assert live.checkpoint == chunks[-1].position
    for track in TRACKS:
        assert [line.text for line in live.lines if line.track == track] == ["my card", "is broken"]
        assert all(line.is_final for line in live.lines)


def test_transcribe_pii_identification_is_a_stage_option_skipped_per_call_where_unsupported() -> None:
    from chalicelib.errors import ConfigurationInvalidError
    from chalicelib.settings import Settings

    on = bootstrap.Container(Settings(transcribe_pii_identification=True, transcribe_pii_entity_types="SSN, PIN"))
    assert on.speech_to_text._pii_options("en-US") == {  # type: ignore[attr-defined]
        "content_identification_type": "PII",
        "pii_entity_types": ["SSN", "PIN"],
    }
    assert bootstrap.Container(Settings()).speech_to_text._pii_options("en-US") == {}  # type: ignore[attr-defined]
    # per call: a language Transcribe identifies no PII in streams without it, the stage still starts
    unsupported = bootstrap.Container(Settings(transcribe_pii_identification=True, speech_language="ja-JP"))
    assert unsupported.speech_to_text._pii_options("ja-JP") == {}  # type: ignore[attr-defined]
    assert on.speech_to_text._pii_options("es-US")["content_identification_type"] == "PII"  # type: ignore[attr-defined]
    # a stage language Transcribe does not stream in at all is refused at start-up
    with pytest.raises(ConfigurationInvalidError, match="xx-XX"):
        bootstrap.Container(Settings(speech_language="xx-XX")).streaming_languages  # noqa: B018 - built on first use


def test_transcribing_the_bot_track_too_is_a_stage_option_off_by_default_and_set_in_both_stages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from chalicelib.settings import Settings
    from tests.conftest import ROOT

    assert Settings().transcribe_bot_track is False
    monkeypatch.setenv("SWITCHBOARD_TRANSCRIBE_BOT_TRACK", "true")
    assert Settings().transcribe_bot_track is True
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    assert {stage["environment_variables"]["SWITCHBOARD_TRANSCRIBE_BOT_TRACK"] for stage in stages.values()} == {
        "false"
    }
