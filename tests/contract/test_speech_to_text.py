"""The Transcribe streaming adapter, with the real ``amazon-transcribe`` client, against the local
Transcribe-compatible endpoint (HTTP/2 over TLS on 127.0.0.1, a CA made for the test).

The endpoint is a fake recogniser that answers from a script as the audio it receives passes the
scripted words, so the audio is silence, sent faster than real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from chalicelib.adapters.speech.transcribe_streaming import AwsCredentials, TranscribeStreamingSpeechToText
from chalicelib.domain.speech import TranscriptResult
from chalicelib.errors import MediaStreamUnavailableError, SpeechToTextUnavailableError
from sim.transcribe_endpoint import LocalTranscribeStreaming, StreamScript

BYTES_PER_MS = 16
CREDENTIALS = AwsCredentials("testing", "testing")
GREETING = (("hello", 200, 500), ("I", 550, 650), ("need", 700, 950), ("to", 1000, 1100), ("pay", 1150, 1500))
ACCOUNT = (("my", 2600, 2800), ("account", 2850, 3300), ("number", 3350, 3800))
SPEECH = StreamScript.of(GREETING, ACCOUNT)


@pytest.fixture
def endpoint() -> Iterator[LocalTranscribeStreaming]:
    with LocalTranscribeStreaming(endpointing_delay_ms=600) as local:
        yield local


@pytest.fixture
def stt(endpoint: LocalTranscribeStreaming) -> TranscribeStreamingSpeechToText:
    return TranscribeStreamingSpeechToText(
        "us-east-1", endpoint_url=endpoint.url, credentials=CREDENTIALS, ca_file=endpoint.ca_file
    )


async def silence(ms: int, chunk_ms: int = 100, pause_s: float = 0.0) -> AsyncIterator[bytes]:
    for _ in range(0, ms, chunk_ms):
        yield b"\x00" * (chunk_ms * BYTES_PER_MS)
        await asyncio.sleep(pause_s)


def transcribe(stt: TranscribeStreamingSpeechToText, audio_ms: int) -> list[TranscriptResult]:
    async def run() -> list[TranscriptResult]:
        return [r async for r in stt.transcribe("AUDIO_FROM_CUSTOMER", silence(audio_ms), "en-US")]

    return asyncio.run(run())


def transcribe_until_error(
    stt: TranscribeStreamingSpeechToText, audio: AsyncIterator[bytes]
) -> tuple[list[TranscriptResult], BaseException | None]:
    results: list[TranscriptResult] = []

    async def run() -> None:
        async for result in stt.transcribe("AUDIO_FROM_CUSTOMER", audio, "en-US"):
            results.append(result)

    try:
        asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - the test looks at which
        return results, exc
    return results, None


def words(utterance: tuple[tuple[str, int, int], ...]) -> str:
    return " ".join(w for w, _, _ in utterance)


def by_result_id(results: list[TranscriptResult]) -> dict[str, list[TranscriptResult]]:
    grouped: dict[str, list[TranscriptResult]] = {}
    for result in results:
        grouped.setdefault(result.result_id, []).append(result)
    return grouped


def test_the_stream_asks_for_8khz_pcm_with_high_stability(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    transcribe(stt, 5000)

    [request] = endpoint.requests
    # The SDK writes the boolean as Python prints it ("True"); the service reads it either way.
    stabilization = request.pop("x-amzn-transcribe-enable-partial-results-stabilization")
    assert stabilization.lower() == "true"
    assert request == {
        "x-amzn-transcribe-language-code": "en-US",
        "x-amzn-transcribe-sample-rate": "8000",
        "x-amzn-transcribe-media-encoding": "pcm",
        "x-amzn-transcribe-partial-results-stability": "high",
    }
    assert endpoint.stats.audio_bytes == 5000 * BYTES_PER_MS


def test_partials_arrive_before_the_final_of_each_utterance(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    results = transcribe(stt, 5000)

    for group in by_result_id(results).values():
        assert [r.is_partial for r in group] == [True] * (len(group) - 1) + [False]
        assert len(group) > 1


def test_final_text_is_the_scripted_words(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    finals = [r for r in transcribe(stt, 5000) if not r.is_partial]

    assert [r.text for r in finals] == [words(GREETING), words(ACCOUNT)]
    assert [(r.start_ms, r.end_ms) for r in finals] == [(200, 1500), (2600, 3800)]
    assert {r.track for r in finals} == {"AUDIO_FROM_CUSTOMER"}


def test_each_utterance_keeps_one_result_id(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    results = transcribe(stt, 5000)

    groups = by_result_id(results)
    assert [group[-1].text for group in groups.values()] == [words(GREETING), words(ACCOUNT)]
    assert [len(group) for group in groups.values()] == [len(GREETING) + 1, len(ACCOUNT) + 1]


def test_stable_text_only_grows_and_prefixes_the_final_text(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    results = transcribe(stt, 5000)

    for group in by_result_id(results).values():
        final = group[-1]
        stable = [r.stable_text for r in group]
        assert all(len(a) <= len(b) and b.startswith(a) for a, b in itertools.pairwise(stable))
        assert all(final.text.startswith(s) for s in stable)
        assert any(s for s in stable[:-1]), "some partial has a stable prefix"
        assert final.stable_text == final.text


def test_audio_that_ends_mid_utterance_finalizes_what_was_heard(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    finals = [r for r in transcribe(stt, 3400) if not r.is_partial]

    assert [r.text for r in finals] == [words(GREETING), "my account"]


def test_a_dropped_connection_raises_unavailable(endpoint, stt) -> None:
    endpoint.script(StreamScript.of(GREETING, ACCOUNT, drop_after_ms=3000))

    results, error = transcribe_until_error(stt, silence(5000))

    assert isinstance(error, SpeechToTextUnavailableError)
    assert [r.text for r in results if not r.is_partial] == [words(GREETING)]
    assert endpoint.stats.drops == 1


def test_a_new_stream_from_the_drop_position_produces_the_remaining_results(endpoint, stt) -> None:
    endpoint.script(StreamScript.of(GREETING, ACCOUNT, drop_after_ms=3000), SPEECH.after(3000))
    _, error = transcribe_until_error(stt, silence(5000))
    assert isinstance(error, SpeechToTextUnavailableError)

    resumed = transcribe(stt, 2000)

    assert [r.text for r in resumed if not r.is_partial] == ["account number"]
    assert [(r.start_ms, r.end_ms) for r in resumed if not r.is_partial] == [(0, 800)]
    assert endpoint.stats.streams == 2


@pytest.mark.parametrize("error_type", ["BadRequestException", "LimitExceededException", "ServiceUnavailableException"])
def test_an_error_event_raises_unavailable(endpoint, stt, error_type) -> None:
    endpoint.script(StreamScript.of(GREETING, ACCOUNT, error_after_ms=2500, error_type=error_type))

    results, error = transcribe_until_error(stt, silence(5000))

    assert isinstance(error, SpeechToTextUnavailableError)
    assert type(error.__cause__).__name__ == error_type
    assert [r.text for r in results if not r.is_partial] == [words(GREETING)]
    assert endpoint.stats.errors == {error_type: 1}


def test_an_unreachable_endpoint_raises_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stt = TranscribeStreamingSpeechToText(
        "us-east-1", endpoint_url=f"https://127.0.0.1:{port}", credentials=CREDENTIALS
    )

    _, error = transcribe_until_error(stt, silence(500))

    assert isinstance(error, SpeechToTextUnavailableError)


def test_an_audio_source_error_passes_through_unchanged(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    async def failing_audio() -> AsyncIterator[bytes]:
        async for chunk in silence(1000):
            yield chunk
        raise MediaStreamUnavailableError("GetMedia stopped")

    _, error = transcribe_until_error(stt, failing_audio())

    assert isinstance(error, MediaStreamUnavailableError)


def test_stopping_early_ends_the_stream_at_the_service(endpoint, stt) -> None:
    endpoint.script(SPEECH)

    async def first_final() -> TranscriptResult:
        # Ten times real time: the audio would last six seconds.
        results = stt.transcribe("AUDIO_FROM_CUSTOMER", silence(60_000, pause_s=0.01), "en-US")
        async with contextlib.aclosing(results):
            async for result in results:
                if not result.is_partial:
                    return result
        raise AssertionError("no final")

    assert asyncio.run(first_final()).text == words(GREETING)
    deadline = time.monotonic() + 2
    while endpoint.stats.audio_ends == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert endpoint.stats.audio_ends == 1
    assert endpoint.stats.audio_bytes < 60_000 * BYTES_PER_MS


def pii_stt(endpoint: LocalTranscribeStreaming, *types: str) -> TranscribeStreamingSpeechToText:
    return TranscribeStreamingSpeechToText("us-east-1", endpoint_url=endpoint.url, credentials=CREDENTIALS,
                                           ca_file=endpoint.ca_file, pii_identification=True,
                                           pii_entity_types=types)  # fmt: skip


def test_pii_identification_asks_transcribe_to_label_pii_and_changes_no_words(endpoint) -> None:
    endpoint.script(SPEECH)

    results = transcribe(pii_stt(endpoint, "CREDIT_DEBIT_NUMBER", "SSN"), 5000)

    [request] = endpoint.requests
    assert request["x-amzn-transcribe-content-identification-type"] == "PII"
    assert request["x-amzn-transcribe-pii-entity-types"] == "CREDIT_DEBIT_NUMBER,SSN"
    assert "x-amzn-transcribe-content-redaction-type" not in request  # it labels, it redacts nothing
    assert [r.text for r in results if not r.is_partial] == [words(GREETING), words(ACCOUNT)]


def test_pii_identification_without_types_identifies_all_of_them(endpoint) -> None:
    endpoint.script(SPEECH)
    transcribe(pii_stt(endpoint), 5000)
    [request] = endpoint.requests
    assert request["x-amzn-transcribe-content-identification-type"] == "PII"
    assert "x-amzn-transcribe-pii-entity-types" not in request  # the service's default: ALL


def test_a_language_transcribe_identifies_no_pii_in_is_streamed_without_asking(endpoint) -> None:
    endpoint.script(SPEECH)

    async def run() -> list[TranscriptResult]:
        return [r async for r in pii_stt(endpoint).transcribe("AUDIO_FROM_CUSTOMER", silence(5000), "ja-JP")]

    results = asyncio.run(run())  # the stand-in, like the service, would refuse the stream otherwise

    [request] = endpoint.requests
    assert "x-amzn-transcribe-content-identification-type" not in request
    assert [r.text for r in results if not r.is_partial] == [words(GREETING), words(ACCOUNT)]


def test_a_pii_entity_type_transcribe_does_not_know_fails_at_start_up() -> None:
    from chalicelib.errors import ConfigurationInvalidError

    with pytest.raises(ConfigurationInvalidError, match="CARD"):
        TranscribeStreamingSpeechToText("us-east-1", pii_identification=True, pii_entity_types=("CARD",))


def test_the_stand_in_refuses_pii_identification_where_the_service_would(endpoint) -> None:
    stt = pii_stt(endpoint)
    stt._pii_options = lambda language: {"content_identification_type": "PII"}  # type: ignore[method-assign]

    async def run() -> list[TranscriptResult]:
        return [r async for r in stt.transcribe("AUDIO_FROM_CUSTOMER", silence(500), "ja-JP")]

    with pytest.raises(SpeechToTextUnavailableError):
        asyncio.run(run())
    assert endpoint.stats.rejected == 1


def test_a_spanish_call_streams_in_es_us_with_pii_identification(endpoint) -> None:
    endpoint.script(SPEECH)

    async def run() -> list[TranscriptResult]:
        return [r async for r in pii_stt(endpoint).transcribe("AUDIO_FROM_CUSTOMER", silence(5000), "es-US")]

    results = asyncio.run(run())

    [request] = endpoint.requests
    assert request["x-amzn-transcribe-language-code"] == "es-US"
    assert request["x-amzn-transcribe-content-identification-type"] == "PII"  # es-US is a PII language
    assert [r.text for r in results if not r.is_partial] == [words(GREETING), words(ACCOUNT)]


def test_the_stand_in_refuses_a_language_transcribe_streaming_does_not_take(endpoint) -> None:
    async def run() -> list[TranscriptResult]:
        return [r async for r in pii_stt(endpoint).transcribe("AUDIO_FROM_CUSTOMER", silence(500), "xx-XX")]

    with pytest.raises(SpeechToTextUnavailableError):
        asyncio.run(run())
    assert endpoint.stats.rejected == 1


def test_awscrt_waits_for_audio_between_pieces_instead_of_spinning(
    endpoint: LocalTranscribeStreaming, stt: TranscribeStreamingSpeechToText, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own body answers "nothing yet" at once and awscrt asks again at once: about
    90,000 reads and a whole core for 2 s of audio fed in real time (``audio_body``'s docstring).
    The adapter's body makes awscrt wait for audio: a few hundred reads."""
    from chalicelib.adapters.speech import audio_body

    bodies: list[audio_body.WaitingAudioBody] = []

    class Counted(audio_body.WaitingAudioBody):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            Counted.reads += 1
            return super().read(size)

    def made() -> audio_body.WaitingAudioBody:
        bodies.append(Counted())
        return bodies[-1]

    monkeypatch.setattr(audio_body, "WaitingAudioBody", made)

    async def run() -> list[TranscriptResult]:
        audio = silence(1000, chunk_ms=100, pause_s=0.1)  # 1 s of audio, in real time
        return [r async for r in stt.transcribe("AUDIO_FROM_CUSTOMER", audio, "en-US")]

    asyncio.run(run())
    assert len(bodies) == 1
    assert Counted.reads < 2_000  # the SDK's body: tens of thousands in the same second
