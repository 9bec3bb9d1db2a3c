"""Switchboard's Lambda handlers. Each parses its event, calls one use case, renders the answer;
everything else lives in ``chalicelib``."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib import bootstrap
from chalicelib.adapters.turn_events import read_turn_event, render_fallback_answer, render_turn_answer
from chalicelib.domain.envelope import RENDER
from chalicelib.observability import logger, metrics

# configure_logs=False: Chalice would claim the "switchboard" logger (ERROR level, stdout) that
# the Powertools logger of the same service name uses.
app = Chalice(app_name="switchboard", configure_logs=False)


@app.lambda_function(name="turn")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def turn(event: Any, context: Any) -> dict[str, Any]:
    """One caller turn from Amazon Connect (Invoke Lambda block) or a Lex V2 code hook."""
    delivered = read_turn_event(event)  # never raises: the event is read once, here
    try:
        services = bootstrap.container()
    except Exception as exc:  # noqa: BLE001 - even a broken configuration answers safely
        return render_fallback_answer(delivered, exc)
    with services.metered_invocation(context) as meter:
        try:
            if delivered.warmup:
                return services.warm_up()
            deadline = services.turn_deadline(context)
            request = delivered.request_within(services.settings.max_utterance_chars)
            logger.append_keys(contact_id=request.contact_id, turn=request.seq)
            result = services.handle_turn(request, deadline)
            with meter.timed(RENDER):
                return render_turn_answer(delivered, result)
        except Exception as exc:  # noqa: BLE001 - invariant 1: Connect and Lex never get an exception
            return render_fallback_answer(delivered, exc)


@app.lambda_function(name="segments")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def segments(event: Any, context: Any) -> dict[str, Any]:
    """Contact Lens real-time voice segments from Kinesis: sentiment, categories, barge-in."""
    from chalicelib.adapters.kinesis_batches import process_stream_batch  # noqa: PLC0415 - kept off the turn handler's cold start
    from chalicelib.adapters.stream_events import parse_segment_record  # noqa: PLC0415 - kept off the turn handler's cold start

    services = bootstrap.container()
    with services.metered_invocation(context, "segments"):
        ingest = services.ingest_segments
        return process_stream_batch(
            event, context, lambda data, seq: ingest(*parse_segment_record(data, seq)), "segments"
        )


@app.lambda_function(name="contact_records")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def contact_records(event: Any, context: Any) -> dict[str, Any]:
    """Contact records (CTR) from Kinesis: close the session, outcome, KPI, final cost."""
    from chalicelib.adapters.kinesis_batches import process_stream_batch  # noqa: PLC0415 - kept off the turn handler's cold start
    from chalicelib.adapters.stream_events import parse_contact_record  # noqa: PLC0415 - kept off the turn handler's cold start

    services = bootstrap.container()
    with services.metered_invocation(context, "contact_records"):
        close = services.close_contact
        return process_stream_batch(
            event, context, lambda data, _: close(parse_contact_record(data)), "contact_records"
        )


# --- human handover: the tasks of the Step Functions workflow (infra/handover.asl.json) -------
# Each raises on failure: the state machine's Retry and Catch match the error's class name.


@app.lambda_function(name="handover_prepare")
@logger.inject_lambda_context(clear_state=True)
def handover_prepare(event: Any, context: Any) -> dict[str, Any]:
    """The agent's summary on the session and the contact; whether agents are in."""
    from chalicelib.adapters.handover_events import parse_task_input  # noqa: PLC0415 - kept off the turn handler's cold start

    return bootstrap.container().prepare_handover(parse_task_input(event)).as_output()


@app.lambda_function(name="handover_wait")
@logger.inject_lambda_context(clear_state=True)
def handover_wait(event: Any, context: Any) -> dict[str, Any]:
    """Keep the task token the workflow waits on until an agent takes the call."""
    from chalicelib.adapters.handover_events import parse_wait_input  # noqa: PLC0415 - kept off the turn handler's cold start

    task = parse_wait_input(event)
    return bootstrap.container().wait_for_agent(task.contact_id, task.execution, task.task_token)


@app.lambda_function(name="handover_callback")
@logger.inject_lambda_context(clear_state=True)
def handover_callback(event: Any, context: Any) -> dict[str, Any]:
    """No agent in time or out of hours: book a callback, or record a voicemail."""
    from chalicelib.adapters.handover_events import parse_task_input  # noqa: PLC0415 - kept off the turn handler's cold start

    return bootstrap.container().offer_callback(parse_task_input(event))


@app.lambda_function(name="handover_agent_connected")
@logger.inject_lambda_context(clear_state=True)
def handover_agent_connected(event: Any, context: Any) -> dict[str, Any]:
    """The contact reached an agent: resume the workflow's wait."""
    from chalicelib.adapters.handover_events import parse_agent_connected  # noqa: PLC0415 - kept off the turn handler's cold start

    connected = parse_agent_connected(event)
    return bootstrap.container().agent_connected(connected.contact_id, connected.agent)


# --- live transcription: the call's audio (Kinesis Video Streams) to the session's transcript --


@app.lambda_function(name="transcriber")
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def transcriber(event: Any, context: Any) -> dict[str, Any]:
    """Transcribe the call's live audio into its live transcript until the stream ends; re-invoke
    itself with the checkpoint to go on past Lambda's time limit or after a failed stream."""
    services = bootstrap.container()
    with services.metered_invocation(context, "transcriber"):
        return _transcribe(services, event, context)


def _transcribe(services: Any, event: Any, context: Any) -> dict[str, Any]:
    from chalicelib.adapters.transcriber_events import parse_transcriber_event, rejected_answer  # noqa: PLC0415 - kept off the turn handler's cold start
    from chalicelib.errors import TranscriberInvocationMalformedError  # noqa: PLC0415

    try:
        invocation = parse_transcriber_event(event)
    except TranscriberInvocationMalformedError as exc:  # invariant 8: named, logged without values, answered
        logger.error("transcriber event rejected", extra={"error": type(exc).__name__, "where": str(exc)})
        return rejected_answer(exc)
    if not (services.settings.speech_enabled and invocation.transcription_enabled):
        return {"status": "disabled"}
    logger.append_keys(contact_id=invocation.contact_id)
    outcome = services.transcribe_call(
        invocation.contact_id, invocation.stream_arn, invocation.start, context.get_remaining_time_in_millis,
        language=invocation.language_code,
    )  # fmt: skip
    follow_up = invocation.next_event(outcome)
    if follow_up is not None:  # raises if Lambda refuses: its own retry resumes from the stored checkpoint
        services.lambda_continuation(follow_up, getattr(context, "invoked_function_arn", None) or None)
    logger.info("transcriber run", extra={**outcome.as_dict(), "continued": follow_up is not None})
    return {"status": outcome.outcome, "continued": follow_up is not None, **outcome.as_dict()}
