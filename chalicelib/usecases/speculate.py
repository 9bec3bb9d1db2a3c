"""Run a turn ahead of time on the caller's stable partial transcript (``domain/speculation``).

Called by the transcriber when the caller's words are stable and a pause begins. It reads the
session, routes the words, and — for a model tier — does the model's work (read-only tools
only) under the turn's own envelope, then stores the result for the turn handler. It writes
nothing to the session and never makes a side effect.

The words it gets are redacted (the transcriber's); when they held caller data it does no work
and records the speculation abandoned (``why`` ``caller_data``): the turn does that one itself.
"""

from __future__ import annotations

from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.ports import Clock, SessionStore, SpeculationStore
from chalicelib.domain.router import route, route_context
from chalicelib.domain.session import Session
from chalicelib.domain.speculation import (
    CALLER_DATA,
    Speculation,
    SpeculationState,
    finished_speculation,
    normalized_transcript,
    speculation_refusal,
)
from chalicelib.domain.tiers import RULES, TierTable
from chalicelib.errors import AppError
from chalicelib.usecases.run_models import RunModels


class Speculate:
    def __init__(
        self,
        sessions: SessionStore,
        speculations: SpeculationStore,
        clock: Clock,
        policy: DialoguePolicy,
        envelope: Envelope,
        tiers: TierTable,
        run_models: RunModels,
    ) -> None:
        self._sessions = sessions
        self._speculations = speculations
        self._clock = clock
        self._policy = policy
        self._envelope = envelope
        self._tiers = tiers
        self._run_models = run_models

    def __call__(self, contact_id: str, transcript: str, caller_data: bool = False) -> Speculation | None:
        """Speculate on ``transcript`` (redacted) for the contact's next turn; the stored
        speculation, or None when there is nothing to speculate (rules answer at once, the call
        is elsewhere, another trigger already has these words). ``caller_data``: the words held
        some; the speculation is recorded abandoned without any work."""
        text = normalized_transcript(transcript)
        now = self._clock.now_ms()
        # The first turn of a call has no session yet: it speculates on a new one.
        session = self._sessions.load(contact_id, now) or Session.new(contact_id, now)
        if not text or speculation_refusal(session) is not None:
            return None
        seq = session.last_seq + 1
        chosen = route(transcript, route_context(session, self._policy.human_only_topics))
        if chosen.tier == RULES:
            return None
        pending = Speculation(contact_id, seq, text, SpeculationState.PENDING, chosen.tier, now,
                              expected_ms=self._tiers.get(chosen.tier).expected_ms())  # fmt: skip
        if caller_data:
            skipped = finished_speculation(pending, None, failed=CALLER_DATA)
            return skipped if self._speculations.start(skipped, now) else None
        if not self._speculations.start(pending, now):
            return None
        request = TurnRequest(contact_id=contact_id, seq=seq, utterance=transcript, source=Source.LEX)
        envelope = self._envelope
        deadline = Deadline(self._clock.monotonic_ms(), envelope.hard_deadline_ms, soft_ms=envelope.soft_deadline_ms)
        try:
            run = self._run_models(chosen, session, request, seq, deadline, side_effects=False)
        except AppError as exc:
            finished = finished_speculation(pending, None, failed=type(exc).__name__)
        else:
            finished = finished_speculation(pending, run)
        self._speculations.finish(finished, self._clock.now_ms())
        return finished
