"""The speech path's cost from what the transcriber says it streamed, before and after a handover.

The transcriber sends only the caller's track to Amazon Transcribe while the bot has the call and
both tracks after a handover (``chalicelib/domain/recognised_tracks.py``); its answer's
``transcribe`` says, per stream, the audio it sent before and after the handover, and the media
it read in each phase. This module turns one call's answers (a run and its continuations) back
into the domain's ``SpeechUsage``, so the ledger prices what was streamed: per stream, per
second, 15 s minimum (the minimum counted in the phase the stream started in).

``speech_added_usage`` replaces ``sim/stream.py``'s ``added_usage`` (which bills both tracks for
the whole call); ``speech_cost_by_phase`` is the cost per minute before and after the handover
(at the shipped price: $0.024 a minute before, one track; $0.048 after, two).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.domain.ledger import PriceBook, cost_by_component, per_minute, total
from chalicelib.domain.recognised_tracks import PHASES, Phase, SpeechUsage, StreamUsage
from chalicelib.domain.usage import Usage, UsageKind


@dataclass(frozen=True)
class SpeechPhaseCost:
    """One phase of a call's speech path: the media it lasted, the Transcribe seconds billed
    for it, their cost, and that per media minute."""

    media_s: Decimal
    transcribe_s: Decimal
    cost_usd: Decimal
    per_minute_usd: Decimal


def speech_usage(answers: Iterable[Mapping[str, Any]]) -> SpeechUsage:
    """The streams and media of a call's transcriber answers (a run and its continuations);
    an answer without ``transcribe`` (rejected, disabled, raised) streamed nothing."""
    streams: list[StreamUsage] = []
    media: dict[Phase, float] = {}
    handover_at: int | None = None
    for answer in answers:
        transcribe = answer.get("transcribe")
        if not isinstance(transcribe, Mapping):
            continue
        for stream in transcribe.get("streams", ()):
            before, after = float(stream["before_handover_ms"]), float(stream["after_handover_ms"])
            streams.append(StreamUsage(stream["track"], int(stream["from_ms"]), before, after))
        for phase in PHASES:
            media[phase] = media.get(phase, 0.0) + float(transcribe.get("media_s", {}).get(phase, 0.0)) * 1000
        if handover_at is None and transcribe.get("handover_at_ms") is not None:
            handover_at = int(transcribe["handover_at_ms"])
    return SpeechUsage(tuple(streams), tuple(media.items()), handover_at)


def speech_added_usage(
    answers: Iterable[Mapping[str, Any]], duration_s: Decimal, transcriber_memory_mb: int = 512
) -> tuple[Usage, ...]:
    """What the speech path itself uses over a call: Transcribe as the transcriber streamed it
    (billed per stream) and the transcriber Lambda running for the call's length.

    Example:
        >>> answer = {"transcribe": {"streams": [{"track": "AUDIO_FROM_CUSTOMER", "from_ms": 0,
        ...           "before_handover_ms": 60_000.0, "after_handover_ms": 0.0}]}}
        >>> speech_added_usage([answer], Decimal(60))[0]
        Usage(kind=<UsageKind.TRANSCRIBE_SECONDS: 'transcribe_seconds'>, quantity=Decimal('60'), model=None)
    """
    return (
        *speech_usage(answers).usage(),
        Usage(UsageKind.LAMBDA_REQUESTS, Decimal(1)),
        Usage(UsageKind.LAMBDA_GB_SECONDS, duration_s * Decimal(transcriber_memory_mb) / Decimal(1024)),
    )


def speech_cost_by_phase(answers: Iterable[Mapping[str, Any]], prices: PriceBook) -> dict[Phase, SpeechPhaseCost]:
    """Transcribe's cost before and after the handover, and per media minute of each phase."""
    usage = speech_usage(answers)
    media = dict(usage.media_ms)
    costs: dict[Phase, SpeechPhaseCost] = {}
    for phase in PHASES:
        billed = usage.billed_s(phase)
        cost = total(cost_by_component([Usage(UsageKind.TRANSCRIBE_SECONDS, billed)], prices))
        seconds = Decimal(str(media.get(phase, 0.0))) / 1000
        costs[phase] = SpeechPhaseCost(seconds, billed, cost, per_minute(cost, seconds))
    return costs
