"""Run a turn ahead of time on the caller's stable partial transcript (``domain/speculation``).

Called by the transcriber when the caller's words are stable and a pause begins. It reads the
session, routes the words, and — for a model tier — does the model's work (read-only tools
only) under the turn's own envelope, then stores the result for the turn handler. It writes
nothing to the session and never makes a side effect.

The words it gets are redacted (the transcriber's): caller data reaches the models as tokens only,
and words still being read (a number not finished) get no work — the speculation is recorded
abandoned (``why`` ``caller_data``) and the turn does that one itself.

Words that cost nothing are not stored: rules answer them at once (tier 0: no write, no model
call), or the session's newest turn already answered them (a trigger late enough to fire after
the turn committed would otherwise speculate on them as the next turn, and pay a model for it).
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.language_words import LanguageWords
from chalicelib.domain.ports import Clock, SessionStore, SpeculationStore
from chalicelib.domain.router import route, route_context
from chalicelib.domain.session import Session
from chalicelib.domain.speculation import (
    CALLER_DATA,
    NO_VOCABULARY,
    MatchVocabulary,
    Speculation,
    SpeculationState,
    finished_speculation,
    speculation_key,
    speculation_refusal,
    still_reading,
)
from chalicelib.domain.tiers import RULES, TierTable
from chalicelib.domain.turn_outcome import language_of_turn
from chalicelib.errors import AppError, ConfigurationInvalidError
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
        vocabulary: MatchVocabulary = NO_VOCABULARY,
        *,
        words: LanguageWords | None = None,
    ) -> None:
        self._words = words  # the rules' and the router's, of the call's language
        self._vocabulary = vocabulary
        self._sessions = sessions
        self._speculations = speculations
        self._clock = clock
        self._policy = policy
        self._envelope = envelope
        self._tiers = tiers
        self._run_models = run_models

    def __call__(
        self, contact_id: str, transcript: str, caller_data: bool = False, language: str | None = None
    ) -> Speculation | None:
        """Speculate on ``transcript`` (redacted) for the contact's next turn; the stored
        speculation, or None when there is nothing to speculate (rules answer at once, the call
        is elsewhere, the newest turn answered these words, another trigger already has words
        with their key). ``caller_data``: the words held some; while it is still being read
        (``still_reading``) the speculation is recorded abandoned without any work, and once it
        is tokens the models work on the tokens, as the turn's would. ``language``: the call's,
        as transcribed (the turn's event carries the same): a first turn, with no session yet,
        is routed by the rules of the language it will be answered in."""
        key = speculation_key(transcript, self._vocabulary)
        if not key:
            return None
        now = self._clock.now_ms()
        # The first turn of a call has no session yet: it speculates on a new one.
        session = self._sessions.load(contact_id, now) or Session.new(contact_id, now)
        if speculation_refusal(session, key, self._vocabulary) is not None:
            return None
        seq = session.last_seq + 1
        request = TurnRequest(contact_id=contact_id, seq=seq, utterance=transcript, source=Source.LEX,
                              language=language)  # fmt: skip
        # The words of the language the turn will answer in (the session's, or the one it switches to).
        locale = language_of_turn(session, request, self._policy).locale
        words = self._policy.language(locale).words or self._words
        if words is None:
            raise ConfigurationInvalidError(f"no rules or router words for {locale}: the language has none, none given")
        chosen = route(
            transcript,
            route_context(session, self._policy.human_only_topics, self._policy.topic_patterns_for(locale)),
            words,
        )
        if chosen.tier == RULES:
            return None
        pending = Speculation(contact_id, seq, transcript, SpeculationState.PENDING, chosen.tier, now,
                              expected_ms=self._tiers.get(chosen.tier).expected_ms(), key=key)  # fmt: skip
        if caller_data and still_reading(transcript):
            skipped = finished_speculation(pending, None, failed=CALLER_DATA)
            return skipped if self._speculations.start(skipped, now) else None
        if not self._speculations.start(pending, now):
            return None
        envelope = self._envelope
        deadline = Deadline(self._clock.monotonic_ms(), envelope.hard_deadline_ms, soft_ms=envelope.soft_deadline_ms)
        try:
            run = self._run_models(chosen, session, request, seq, deadline, side_effects=False)
        except AppError as exc:
            finished = finished_speculation(pending, None, failed=type(exc).__name__)
        else:
            finished = finished_speculation(pending, run)
        done_ms = self._clock.now_ms()
        self._speculations.finish(replace(finished, finished_at_ms=done_ms), done_ms)
        return finished
