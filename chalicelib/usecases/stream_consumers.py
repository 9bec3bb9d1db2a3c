"""The two stream consumers' use cases: apply Contact Lens segments to the session, and close
the session from the contact record. Both write under the version condition and re-read and
re-apply when a turn (or the other consumer) wrote in between: nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from chalicelib.domain.contact_analysis import Segment, apply_segments
from chalicelib.domain.contact_outcome import ContactRecordFacts, duration_s, is_newer, neutral_to_positive, outcome
from chalicelib.domain.ledger import PriceBook, cost_by_component, per_minute, total
from chalicelib.domain.live_transcript import human_part_text
from chalicelib.domain.ports import Clock, SessionWriter, SpeculationStore, TranscriptStore
from chalicelib.domain.session import ContactClosure, Session
from chalicelib.domain.speculation import wasted
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import SessionContentionError, SessionVersionConflictError

WRITE_ATTEMPTS = 5


class IngestSegments:
    def __init__(self, store: SessionWriter, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def __call__(self, contact_id: str, event_type: str, segments: tuple[Segment, ...]) -> Session:
        """Apply one record's segments to the contact's session (created if the call has not
        reached the bot yet)."""
        return _read_modify_write(
            self._store, self._clock, contact_id, lambda s: apply_segments(s, segments, event_type)
        )


class CloseContact:
    """Close the session from the contact record; when the record shows the agent connected and
    a handover workflow waits for that, resume it (``resume_handover``, the task-token path)."""

    def __init__(
        self,
        store: SessionWriter,
        clock: Clock,
        prices: PriceBook,
        resume_handover: Callable[[str, str], object] | None = None,
        speculations: SpeculationStore | None = None,
        transcripts: TranscriptStore | None = None,
    ) -> None:
        self._speculations = speculations
        self._transcripts = transcripts
        self._store = store
        self._clock = clock
        self._prices = prices
        self._resume_handover = resume_handover

    def _human_part(self, contact_id: str) -> str:
        """What was said after the handover (the live transcript's human part); read once."""
        if self._transcripts is None:
            return ""
        live, _ = self._transcripts.load(contact_id, self._clock.now_ms())
        return human_part_text(live)

    def __call__(self, facts: ContactRecordFacts) -> Session:
        """Close the session from the newest contact record: outcome, KPI, final cost, and the
        human part of a handed-over call for its after-call record."""
        turns = self._store.load_turns(facts.contact_id, self._clock.now_ms())
        usage: list[Usage] = [u for t in turns for u in t.usage]
        if self._speculations is not None:  # speculative turns no turn answered from cost extra
            made = self._speculations.load_all(facts.contact_id, self._clock.now_ms())
            usage += [u for s in wasted(made, turns) for u in s.usage]
        seconds = Decimal(str(duration_s(facts)))
        usage.append(Usage(UsageKind.CONNECT_VOICE_MINUTES, seconds / 60))
        cost = total(cost_by_component(usage, self._prices))

        after = self._human_part(facts.contact_id)

        def close(session: Session) -> Session:
            if not is_newer(facts, session.closed):
                return session  # a duplicate or an older copy of the record
            ended = outcome(session, facts)
            closure = ContactClosure(
                last_update_ms=facts.last_update_ms,
                outcome=ended,
                kpi_neutral_positive=neutral_to_positive(session, facts, ended),
                duration_s=float(seconds),
                disconnect_reason=facts.disconnect_reason,
                cost_usd=str(cost),
                cost_per_minute_usd=str(per_minute(cost, seconds)),
            )
            handover = session.handover
            if handover is not None and after:
                handover = replace(handover, after_handover=after)
            return replace(session, closed=closure, handover=handover)

        closed = _read_modify_write(self._store, self._clock, facts.contact_id, close)
        if facts.agent_connected and closed.handover is not None and self._resume_handover is not None:
            self._resume_handover(facts.contact_id, "contact_record")  # idempotent: resumes a waiting workflow once
        return closed


def _read_modify_write(store: SessionWriter, clock: Clock, contact_id: str, change: object) -> Session:
    for _ in range(WRITE_ATTEMPTS):
        now = clock.now_ms()
        current = store.load(contact_id, now) or Session.new(contact_id, now)
        changed = change(current)  # type: ignore[operator]
        if changed == current and current.version > 0:
            return current  # nothing new: no write
        try:
            return store.save_session(replace(changed, version=current.version), now)
        except SessionVersionConflictError:
            continue
    raise SessionContentionError(f"session kept changing for {WRITE_ATTEMPTS} attempts")
