"""The two stream consumers' use cases: apply Contact Lens segments to the session, and close
the session from the contact record. Both write through the unit of work
(``unit_of_work.update_session``): a turn (or the other consumer) writing in between is re-read
and re-applied, nothing is lost.

The contact-record stream carries every contact of the instance: agent-only calls, outbound
calls, chats the bot never saw. A record of a contact without a session is skipped (no write,
no KPI) and counted (``ContactRecordsWithoutSession``); only its channel and initiation method
are logged.

Caller data: a segment's text is scrubbed (``contact_analysis.scrubbed``: bare labels, ``[CARD]``,
with every context the call has shown; the spans kept are scrubbed again as context arrives)
before it is applied, whatever Contact Lens's own redaction did. The contact record's customer
endpoint (the caller's number) and its attributes are never stored: only the facts the outcome
needs are (``ContactRecordFacts``). Closing the contact forgets its vault (the raw values behind
its tokens) unless a handover workflow may still call the caller back (``handover_may_call_back``):
then the vault's TTL is what deletes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import cache

from chalicelib.domain.contact_analysis import Segment, apply_segments, scrubbed
from chalicelib.domain.contact_outcome import (
    ContactRecordFacts,
    duration_s,
    handover_may_call_back,
    is_newer,
    neutral_to_positive,
    outcome,
)
from chalicelib.domain.ledger import PriceBook, cost_by_component, per_minute, total
from chalicelib.domain.live_transcript import human_part_text
from chalicelib.domain.ports import Clock, SessionRepository, SpeculationStore, TranscriptStore, Vault
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.session import ContactClosure, Session
from chalicelib.domain.speculation import wasted
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.observability import MetricUnit, logger, metrics
from chalicelib.usecases.unit_of_work import IfMissing, update_session


class IngestSegments:
    """Apply Contact Lens segments to the session, their text scrubbed by ``redactor`` first."""

    def __init__(self, store: SessionRepository, clock: Clock, redactor: Redactor) -> None:
        self._store = store
        self._clock = clock
        self._redactor = redactor

    def __call__(self, contact_id: str, event_type: str, segments: tuple[Segment, ...]) -> Session:
        """Apply one record's segments to the contact's session (created if the call has not
        reached the bot yet)."""
        redactor = self._redactor
        change = lambda s: apply_segments(*scrubbed(redactor, s, segments), event_type)  # noqa: E731 - one expression
        done = update_session(self._store, self._clock, contact_id, change, if_missing=IfMissing.CREATE)
        assert done.item is not None  # noqa: S101 - created when missing
        return done.item


class CloseContact:
    """Close the session from the contact record; when the record shows the agent connected and
    a handover workflow waits for that, resume it (``resume_handover``, the task-token path);
    forget the contact's values in ``vault`` (None: the stage keeps none)."""

    def __init__(
        self,
        store: SessionRepository,
        clock: Clock,
        prices: PriceBook,
        resume_handover: Callable[[str, str], object] | None = None,
        speculations: SpeculationStore | None = None,
        transcripts: TranscriptStore | None = None,
        vault: Vault | None = None,
    ) -> None:
        self._vault = vault
        self._speculations = speculations
        self._transcripts = transcripts
        self._store = store
        self._clock = clock
        self._prices = prices
        self._resume_handover = resume_handover

    def __call__(self, facts: ContactRecordFacts) -> Session | None:
        """Close the session from the newest contact record: outcome, KPI, final cost, and the
        human part of a handed-over call for its after-call record. None: the contact has no
        session (the bot never handled it), and nothing was written."""
        seconds = Decimal(str(duration_s(facts)))
        # Read once, and only for a contact that has a session: the first change computes them.
        cost = cache(lambda: self._cost(facts, seconds))
        after = cache(lambda: self._human_part(facts.contact_id))

        def close(session: Session) -> Session | None:
            if not is_newer(facts, session.closed):
                return None  # a duplicate or an older copy of the record
            ended = outcome(session, facts)
            closure = ContactClosure(
                last_update_ms=facts.last_update_ms,
                outcome=ended,
                kpi_neutral_positive=neutral_to_positive(session, facts, ended),
                duration_s=float(seconds),
                disconnect_reason=facts.disconnect_reason,
                cost_usd=str(cost()),
                cost_per_minute_usd=str(per_minute(cost(), seconds)),
            )
            handover = session.handover
            if handover is not None and after():
                handover = replace(handover, after_handover=after())
            return replace(session, closed=closure, handover=handover)

        closed = update_session(self._store, self._clock, facts.contact_id, close, if_missing=IfMissing.LEAVE).item
        if closed is None:
            metrics.add_metric(name="ContactRecordsWithoutSession", unit=MetricUnit.Count, value=1)
            logger.info("contact record skipped: no session",
                        extra={"channel": facts.channel, "initiation_method": facts.initiation_method})  # fmt: skip
            return None
        if facts.agent_connected and closed.handover is not None and self._resume_handover is not None:
            self._resume_handover(facts.contact_id, "contact_record")  # idempotent: resumes a waiting workflow once
        self._forget_values(closed)
        return closed

    def _forget_values(self, closed: Session) -> None:
        """Delete the contact's vault once it is closed (also on a redelivered record: a delete
        that failed is retried with the batch; it is idempotent). A handover workflow that may
        still call the caller back reads their number from it: then the vault's TTL deletes it.

        Raises:
            VaultUnavailableError: the vault could not be reached (retryable: the record is retried).
        """
        if self._vault is None or closed.closed is None:
            return
        if handover_may_call_back(closed):
            logger.info("vault kept for the handover's callback, until its TTL")
            return
        self._vault.delete(closed.contact_id)

    def _cost(self, facts: ContactRecordFacts, seconds: Decimal) -> Decimal:
        """The call's cost: its turns, the speculations no turn answered from, its minutes."""
        turns = self._store.load_turns(facts.contact_id, self._clock.now_ms())
        usage: list[Usage] = [u for t in turns for u in t.usage]
        if self._speculations is not None:
            made = self._speculations.load_all(facts.contact_id, self._clock.now_ms())
            usage += [u for s in wasted(made, turns) for u in s.usage]
        usage.append(Usage(UsageKind.CONNECT_VOICE_MINUTES, seconds / 60))
        return total(cost_by_component(usage, self._prices))

    def _human_part(self, contact_id: str) -> str:
        """What was said after the handover (the live transcript's human part)."""
        if self._transcripts is None:
            return ""
        live, _ = self._transcripts.load(contact_id, self._clock.now_ms())
        return human_part_text(live)
