"""Kinesis batches with partial failures (``ReportBatchItemFailures``), through Powertools'
BatchProcessor: a retryable failure reports that record's sequence number, so Lambda retries
from it; a permanent one (malformed, unknown version or type) is logged without the record's
content, counted and skipped, so it never blocks the shard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.errors import AppError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from chalicelib.observability import MetricUnit, logger, metrics


def process_stream_batch(
    event: dict[str, Any], context: Any, handle: Callable[[bytes, str], object], stream: str
) -> dict[str, Any]:
    """Run ``handle(data, sequence_number)`` on every record; the partial batch response."""
    counts = {"processed": 0, "skipped": 0, "failed": 0}

    def record_handler(record: KinesisStreamRecord) -> None:
        sequence = record.kinesis.sequence_number
        try:
            handle(record.kinesis.data_as_bytes(), sequence)
        except AppError as exc:
            if exc.retryable:
                counts["failed"] += 1
                logger.warning("stream record will be retried", extra={"stream": stream, "sequence": sequence,
                                                                       "error": type(exc).__name__})  # fmt: skip
                raise
            counts["skipped"] += 1
            details = {"stream": stream, "sequence": sequence, "error": type(exc).__name__, "detail": str(exc)}
            logger.warning("stream record skipped", extra=details)
            return
        except Exception:
            counts["failed"] += 1
            logger.exception("stream record failed unexpectedly", extra={"stream": stream, "sequence": sequence})
            raise
        counts["processed"] += 1

    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415 - consumers only
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    for name, value in counts.items():
        metrics.add_metric(name=f"StreamRecords.{name}", unit=MetricUnit.Count, value=value)
    return response
