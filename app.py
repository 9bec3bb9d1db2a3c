"""Switchboard's Lambda handlers. Each parses its event, calls one use case, renders the answer;
everything else lives in ``chalicelib``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib import bootstrap
from chalicelib.adapters.kinesis_batches import process_stream_batch
from chalicelib.adapters.stream_events import parse_contact_record, parse_segment_record
from chalicelib.adapters.turn_events import is_warmup, parse_turn_event, render_fallback_answer, render_turn_answer
from chalicelib.observability import logger, metrics

# configure_logs=False: Chalice would claim the "switchboard" logger (ERROR level, stdout) that
# the Powertools logger of the same service name uses.
app = Chalice(app_name="switchboard", configure_logs=False)


@app.lambda_function(name="turn")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def turn(event: Any, context: Any) -> dict[str, Any]:
    """One caller turn from Amazon Connect (Invoke Lambda block) or a Lex V2 code hook."""
    try:
        services = bootstrap.container()
    except Exception as exc:  # noqa: BLE001 - even a broken configuration answers safely
        return render_fallback_answer(event, exc)
    with services.metered_invocation(context) as meter:
        try:
            if is_warmup(event):
                return services.warm_up()
            deadline = services.turn_deadline(context)
            request = parse_turn_event(event, services.settings.max_utterance_chars)
            logger.append_keys(contact_id=request.contact_id, turn=request.seq)
            result = services.handle_turn(request, deadline)
            with meter.timed("render"):
                return render_turn_answer(event, result)
        except Exception as exc:  # noqa: BLE001 - invariant 1: Connect and Lex never get an exception
            return render_fallback_answer(event, exc)


@app.lambda_function(name="segments")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def segments(event: Any, context: Any) -> dict[str, Any]:
    """Contact Lens real-time voice segments from Kinesis: sentiment, categories, barge-in."""
    ingest = bootstrap.container().ingest_segments
    return process_stream_batch(event, context, lambda data, seq: ingest(*parse_segment_record(data, seq)), "segments")


@app.lambda_function(name="contact_records")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def contact_records(event: Any, context: Any) -> dict[str, Any]:
    """Contact records (CTR) from Kinesis: close the session, outcome, KPI, final cost."""
    close = bootstrap.container().close_contact
    return process_stream_batch(event, context, lambda data, _: close(parse_contact_record(data)), "contact_records")
