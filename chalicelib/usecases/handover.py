"""Handing a call over to a person: start the workflow once, and the workflow's tasks.

The workflow (``infra/handover.asl.json``) runs ``PrepareHandover`` (the agent's summary on the
session and on the contact), then either ``WaitForAgent`` (stores the task token the workflow
waits on; ``AgentConnected`` resumes it) or ``OfferCallback`` (outside business hours, or when
no agent took the call in time). The number to call back travels as a vault token
(``HandoverRequest.callback_ref``); the tool runner reads the number from the vault just before
``book_callback``. Every task is idempotent: Step Functions retries a failed
task, and Lambda may run one twice.

Session writes go through the unit of work (``unit_of_work.update_session``): a task that loses
a race with a turn or a stream consumer re-reads and re-applies its change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from chalicelib.domain.agent_summary import SummaryTemplate, build_summary
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.handover import (
    ContactAttributes,
    HandoverPolicy,
    HandoverRequest,
    HandoverStatus,
    HandoverWorkflow,
)
from chalicelib.domain.language import Languages
from chalicelib.domain.model import ToolCall
from chalicelib.domain.ports import Clock, SessionRepository
from chalicelib.domain.session import HandoverState, Session
from chalicelib.errors import CallbackNotBookedError, ConfigurationInvalidError, HandoverSessionMissingError
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.usecases.run_tools import OK, REPLAYED, VAULT_VALUE_MISSING, RunTools
from chalicelib.usecases.unit_of_work import IfMissing, update_session

# The callback is journaled as call 0 of a turn number no real turn reaches (offset + the
# handover turn), so it never shares a journal entry with the calls of a real turn.
CALLBACK_JOURNAL_SEQ_OFFSET = 900_000
CALLBACK_TOOL = "book_callback"
VOICEMAIL = "voicemail"
# Why a voicemail was offered instead of a callback (the ``reason`` of the log line).
NO_CALLBACK_NUMBER = "no_callback_number"  # the caller's number was withheld
NO_CALLBACK_TOOLS = "no_callback_tools"  # no tool endpoint is configured
CALLBACK_NUMBER_GONE = "callback_number_gone"  # not in the vault: the contact closed, or it expired
CALLBACK_REFUSED = "callback_refused"  # the tool (or its schema) refused the booking
# Contact attributes the agent's screen shows (keys: alphanumeric, dash, underscore).
SUMMARY_ATTRIBUTE = "handover_summary"
REASON_ATTRIBUTE = "handover_reason"
QUEUE_ATTRIBUTE = "handover_queue"
TOOL_BUDGET_MS = 3_000.0


def start_handover(workflow: HandoverWorkflow | None, request: HandoverRequest) -> str:
    """Start the handover workflow for a committed handover turn; never raises.

    The caller is transferred by the contact flow whatever happens here: a failed start is
    logged and counted (``HandoverStartFailures``), and the call still reaches the queue
    without the workflow's summary and callback fallback.

    Returns:
        ``started``, ``already_started``, ``not_configured`` or ``failed:<ErrorName>``.
    """
    if workflow is None:
        return "not_configured"
    try:
        started = workflow.start(request)
    except Exception as exc:  # noqa: BLE001 - the caller's answer must not depend on the workflow
        logger.warning(
            "handover workflow not started",
            extra={"error": type(exc).__name__, "execution": request.execution_name, "reason": request.reason},
        )
        metrics.add_metric(name="HandoverStartFailures", unit=MetricUnit.Count, value=1)
        return f"failed:{type(exc).__name__}"
    metrics.add_metric(name="HandoverStarts", unit=MetricUnit.Count, value=0 if started.already_started else 1)
    return "already_started" if started.already_started else "started"


def record_on_session(
    store: SessionRepository, clock: Clock, contact_id: str, change: Callable[[Session], Session | None]
) -> Session:
    """Apply a task's ``change`` to the stored session through the unit of work (a conflict is
    re-read and re-applied); ``change`` returns None when there is nothing to write.

    Raises:
        HandoverSessionMissingError: no session for the contact (the workflow's Catch names it).
        SessionContentionError: the session kept changing.
        StoreUnavailableError: the store failed.
    """
    done = update_session(store, clock, contact_id, change, if_missing=IfMissing.LEAVE)
    if done.item is None:
        raise HandoverSessionMissingError("no session for the contact")
    return done.item


@dataclass(frozen=True)
class Prepared:
    summary: str
    within_hours: bool
    queue: str
    reason: str

    def as_output(self) -> dict[str, object]:
        return {"summary": self.summary, "within_hours": self.within_hours, "queue": self.queue, "reason": self.reason}


class PrepareHandover:
    """The agent's summary, on the session (``Session.handover``) and on the contact, in the
    call's language (``HandoverRequest.language``; the stage's default when it is None or not
    one of ``languages``): an agent of the Spanish queue reads it in Spanish."""

    def __init__(
        self,
        store: SessionRepository,
        attributes: ContactAttributes,
        clock: Clock,
        policy: HandoverPolicy,
        languages: Languages,
    ) -> None:
        """Raises: ConfigurationInvalidError: a language has no summary template (every loaded
        one has: ``language_files.load_language``), so the function stops at start-up, not mid-call."""
        missing = sorted(locale for locale, language in languages.by_locale.items() if language.summary is None)
        if missing:
            raise ConfigurationInvalidError(f"languages {', '.join(missing)}: no summary template (summary.json)")
        self._store = store
        self._attributes = attributes
        self._clock = clock
        self._policy = policy
        self._languages = languages

    def __call__(self, request: HandoverRequest) -> Prepared:
        """Raises: HandoverSessionMissingError, SessionContentionError, StoreUnavailableError,
        ContactAttributesUnavailableError, ContactAttributesRejectedError."""
        now = self._clock.now_ms()
        execution = request.execution_name
        session = self._store.load(request.contact_id, now)
        if session is None:
            raise HandoverSessionMissingError("no session for the contact")
        done = session.handover if session.handover and session.handover.execution == execution else None
        summary = done.summary if done and done.summary else self._summary(session, request)

        def record(current: Session) -> Session | None:
            held = current.handover
            if held is not None and held.execution == execution and held.summary:
                return None  # written by an earlier run of this task
            state = HandoverState(execution, request.reason, request.queue, HandoverStatus.PREPARED, summary)
            return replace(current, handover=state)

        record_on_session(self._store, self._clock, request.contact_id, record)
        # Setting the same attributes again is harmless: no need to remember that it was done.
        self._attributes.update(
            request.contact_id,
            {SUMMARY_ATTRIBUTE: summary, REASON_ATTRIBUTE: request.reason, QUEUE_ATTRIBUTE: request.queue},
        )
        return Prepared(summary, self._policy.hours.is_open(now), request.queue, request.reason)

    def _summary(self, session: Session, request: HandoverRequest) -> str:
        turns = self._store.load_turns(request.contact_id, self._clock.now_ms())
        return build_summary(session, turns, request.reason, request.topic, summary=self._template(request)).text

    def _template(self, request: HandoverRequest) -> SummaryTemplate:
        """The summary's words in the request's language (the default's when it has none)."""
        template = self._languages.get(request.language).summary
        assert template is not None  # noqa: S101 - every language's is checked in __init__
        return template


class WaitForAgent:
    """Keep the task token the workflow waits on, so the agent's answer can resume it."""

    def __init__(self, store: SessionRepository, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def __call__(self, contact_id: str, execution: str, task_token: str) -> dict[str, object]:
        def record(current: Session) -> Session | None:
            held = current.handover
            if held is not None and held.execution == execution and held.task_token == task_token:
                return None  # stored by an earlier run of this task
            if held is not None and held.status == HandoverStatus.AGENT_CONNECTED:
                return None  # the agent was quicker than the workflow
            base = held if held is not None and held.execution == execution else HandoverState(execution, "", "")
            return replace(current, handover=replace(base, status=HandoverStatus.WAITING, task_token=task_token))

        record_on_session(self._store, self._clock, contact_id, record)
        return {"status": HandoverStatus.WAITING}


class AgentConnected:
    """The contact reached an agent: resume the workflow's wait (``send_task_success``).

    Called by the ``handover_agent_connected`` Lambda, or by the contact-records consumer when a
    record shows the agent. Idempotent: a second call finds the handover connected already.
    """

    def __init__(self, store: SessionRepository, workflow: HandoverWorkflow, clock: Clock) -> None:
        self._store = store
        self._workflow = workflow
        self._clock = clock

    def __call__(self, contact_id: str, agent: str = "") -> dict[str, object]:
        """Raises: HandoverSessionMissingError, HandoverWorkflowUnavailableError, SessionContentionError."""
        now = self._clock.now_ms()
        session = self._store.load(contact_id, now)
        if session is None:
            raise HandoverSessionMissingError("no session for the contact")
        held = session.handover
        if held is None or held.task_token is None:
            return {"status": held.status if held else "no_handover", "resumed": False}
        resumed = False
        if held.status == HandoverStatus.WAITING:
            resumed = self._workflow.resume(held.task_token, {"agent": agent or "connected", "status": "connected"})

        def record(current: Session) -> Session | None:
            state = current.handover
            if state is None or state.status == HandoverStatus.AGENT_CONNECTED:
                return None
            if state.status != HandoverStatus.WAITING:
                return None  # the wait had timed out: the callback stands
            return replace(current, handover=replace(state, status=HandoverStatus.AGENT_CONNECTED))

        stored = record_on_session(self._store, self._clock, contact_id, record)
        return {"status": stored.handover.status if stored.handover else "no_handover", "resumed": resumed}


class OfferCallback:
    """No agent (outside business hours, or none in time): book a callback through the
    ``book_callback`` tool, journaled with its idempotency key, or record a voicemail when no
    number is known."""

    def __init__(self, store: SessionRepository, clock: Clock, tools: RunTools | None, policy: HandoverPolicy) -> None:
        self._store = store
        self._clock = clock
        self._tools = tools
        self._policy = policy

    def __call__(self, request: HandoverRequest) -> dict[str, object]:
        """Raises: HandoverSessionMissingError, SessionContentionError, StoreUnavailableError,
        ToolError (retryable ones: the workflow retries the task, with the same key)."""
        now = self._clock.now_ms()
        execution = request.execution_name
        session = self._store.load(request.contact_id, now)
        if session is None:
            raise HandoverSessionMissingError("no session for the contact")
        held = session.handover
        if held is not None and held.execution == execution and held.callback:
            return {"status": held.status, "callback": held.callback}
        if not request.callback_ref:
            booked, why = None, NO_CALLBACK_NUMBER
        elif self._tools is None:
            booked, why = None, NO_CALLBACK_TOOLS
        else:
            booked, why = self._book(request)
        if booked is None:
            logger.info("callback not booked, voicemail offered", extra={"reason": why, "execution": execution})
        status = HandoverStatus.CALLBACK_BOOKED if booked else HandoverStatus.VOICEMAIL
        callback = booked or VOICEMAIL

        def record(current: Session) -> Session | None:
            state = current.handover
            if state is not None and state.execution == execution and state.callback:
                return None
            base = state if state is not None and state.execution == execution else None
            base = base or HandoverState(execution, request.reason, request.queue)
            return replace(current, handover=replace(base, status=status, callback=callback, task_token=None))

        stored = record_on_session(self._store, self._clock, request.contact_id, record)
        final = stored.handover
        return {"status": final.status if final else status, "callback": final.callback if final else callback}

    def _book(self, request: HandoverRequest) -> tuple[str | None, str]:
        """The booking's id; None and why when no callback can be booked (a voicemail is
        offered instead): the vault no longer holds the number, or the tool refused it.

        The tool is called with the vault token (``callback_ref``), so the journal keeps the
        token; the runner swaps in the number just before the call.

        Raises:
            CallbackNotBookedError: the tool or the vault failed or timed out (the workflow
                retries; the journal gives the retry the same idempotency key).
        """
        assert self._tools is not None  # noqa: S101 - checked by the caller
        arguments = json.dumps({"phone": request.callback_ref, "window": self._policy.callback_window}, sort_keys=True)
        started = self._clock.monotonic_ms()
        deadline = Deadline(started_at_ms=started, hard_ms=TOOL_BUDGET_MS)
        done = self._tools(
            request.contact_id, CALLBACK_JOURNAL_SEQ_OFFSET + request.seq, (ToolCall("handover-callback", CALLBACK_TOOL,
            arguments),), last_tool=None, calls_made=0, deadline=deadline, follow_up_ms=0.0,
        )  # fmt: skip
        record = done.records[-1] if done.records else None
        if record is not None and record.outcome == f"refused:{VAULT_VALUE_MISSING}":
            return None, CALLBACK_NUMBER_GONE
        if record is not None and (record.outcome.startswith("refused") or record.outcome == "rejected"):
            logger.warning("callback refused", extra={"outcome": record.outcome})
            return None, CALLBACK_REFUSED
        if record is None or record.outcome not in (OK, REPLAYED) or not done.facts:
            raise CallbackNotBookedError(f"book_callback: {record.outcome if record else 'not made'}")
        result = json.loads(done.facts[-1].result_json)
        return str(result.get("callback_id") or result.get("status") or "booked"), ""
