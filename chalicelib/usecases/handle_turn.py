"""Handle one caller turn: one read, decide (rules or models), one conditional write; idempotent.

A turn is keyed by contact id + turn sequence. Connect retries a failed invocation up to three
times within 8 s and Lambda may run the same event twice, so the same turn can arrive more than
once, even concurrently. Only one delivery's reply is ever stored, and every delivery answers
with the stored reply.

Model calls happen between the read and the write, within the turn's deadline: the domain's
router picks the tier, and ``escalation.next_model_step`` decides each call (escalate an
invalid small-model answer, degrade a slow large model, give up when nothing fits). If the
write then loses a version race, the decision is re-applied to the fresh session with the
answers already obtained: a model is never asked twice for one turn because of a race.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from chalicelib.domain.caller_data import ProtectedTurn, protect_turn, redaction_language
from chalicelib.domain.conversation import Reply, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import (
    REDACTION,
    ROUTING,
    SPECULATION,
    STATE_READ,
    STATE_WRITE,
    UNTIL_WRITE,
    VAULT,
    Envelope,
)
from chalicelib.domain.handover import CALLER_NUMBER_TOKEN, HandoverPolicy, HandoverWorkflow, handover_request
from chalicelib.domain.language import ENGLISH_US, Language
from chalicelib.domain.language_words import LanguageWords
from chalicelib.domain.model_replies import ModelRun, answer_from_models
from chalicelib.domain.ports import Clock, ModelClient, SessionStore, SpeculationStore, UsageMeter, Vault
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.redaction_policy import ANY_LANGUAGE
from chalicelib.domain.redelivery import Delivery, DeliveryKind, classify_delivery, resolve_stored_turn
from chalicelib.domain.router import Route, route, route_context
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.speculation import (
    NO_VOCABULARY,
    Lookup,
    MatchVocabulary,
    Speculation,
    SpeculationState,
    keep_waiting,
    lookup_outcome,
    next_look_in_ms,
    resumable,
    speculation_key,
    usable,
)
from chalicelib.domain.tiers import RULES, TierTable
from chalicelib.domain.turn_outcome import TurnOutcome, charged, language_of_turn
from chalicelib.domain.usage import Usage
from chalicelib.errors import (
    AppError,
    ConfigurationInvalidError,
    SessionVersionConflictError,
    TurnAlreadyRecordedError,
    VaultUnavailableError,
)
from chalicelib.observability import logger
from chalicelib.usecases.handover import start_handover
from chalicelib.usecases.run_models import RunModels
from chalicelib.usecases.run_tools import RunTools
from chalicelib.usecases.unit_of_work import retry_on_conflict

SPECULATION_POLL_MS = 40  # looks at a running speculation at most this far apart ...
SPECULATION_FINE_POLL_MS = 10  # ... and this far apart once it is expected to be done


@dataclass(frozen=True)
class TurnResult:
    """The answer to a delivered turn."""

    reply: Reply
    seq: int  # the turn this reply answers
    duplicate: bool  # True when the reply was stored by an earlier delivery
    attempts: int  # commit attempts made (0 for a duplicate)
    record: TurnRecord | None = None  # what this delivery stored (None for a duplicate)
    # The language the reply is in (its voice and ``xml:lang``): the session's after the turn.
    language: Language = ENGLISH_US

    @property
    def next_seq(self) -> int:
        """The sequence the flow sends with the caller's next turn."""
        return self.seq + 1


@dataclass(frozen=True)
class _Read:
    session: Session | None
    delivery: Delivery
    now_ms: int
    request: TurnRequest  # the delivered turn with its caller data redacted
    redaction: ProtectedTurn | None = None  # None: no redactor configured


@dataclass
class _Spent:
    """What the models did for one turn, kept across its commit attempts: a model is never asked
    twice for one turn because of a race, and what it cost stays the turn's whoever answers."""

    run: ModelRun | None = None
    speculated: bool = False
    speculation: Lookup = Lookup.NOT_LOOKED  # what it found when it looked for a speculation
    words_key: str = ""  # the key of its words (``speculation_key``) when speculation is on
    paid_here: tuple[Usage, ...] = ()  # what the model calls this invocation made cost
    vaulted: frozenset[str] = frozenset()  # the tokens this invocation put in the vault


class _NoMeter:
    def record(self, usage: object) -> None:
        return None

    def timed(self, component: str) -> AbstractContextManager[None]:
        return nullcontext()

    def record_ms(self, component: str, ms: float) -> None:
        return None

    def timings(self) -> dict[str, float]:
        return {}


class HandleTurn:
    """The turn use case. Built once per container by ``bootstrap``.

    Args:
        models: the model client, or None to answer everything with tier-0 rules.
        tiers: the tier table (required with ``models``).
        tools: the tool runner, or None when no tools are configured (no tool is offered).
        envelope: the latency envelope: model calls get at most its model budgets, and always
            leave its write + render reserve free before the hard deadline; a new commit attempt
            starts only if that reserve still fits.
        meter: where usage and component timings are recorded.
        handover: the handover workflow, started after a committed handover reply (None: not
            configured).
        redactor: takes the caller data out of the words before anything sees them (None only
            in tests of other behaviour: a deployed turn always has one, ``sim doctor`` checks).
        vault: where the raw values behind the call's tokens are kept for the tools.
        vocabulary: the words of the call's language that do not change what the caller asked
            (the speculation key's: ``data_files.shipped_match_vocabulary``).
        words: the words of the call's language the rules and the router read
            (``language_files.shipped_language_words``).
    """

    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        policy: DialoguePolicy,
        envelope: Envelope,
        *,
        models: ModelClient | None = None,
        tiers: TierTable | None = None,
        tools: RunTools | None = None,
        commit_attempts: int = 3,
        meter: UsageMeter | None = None,
        handover: HandoverWorkflow | None = None,
        speculations: SpeculationStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        redactor: Redactor | None = None,
        vault: Vault | None = None,
        vocabulary: MatchVocabulary = NO_VOCABULARY,
        words: LanguageWords | None = None,
    ) -> None:
        self._words = words
        self._vocabulary = vocabulary
        self._redactor = redactor
        self._vault = vault
        self._store = store
        self._clock = clock
        self._policy = policy
        self._models = models if tiers is not None else None
        self._tiers = tiers
        self._envelope = envelope
        self._tools = tools
        self._commit_attempts = commit_attempts
        self._meter: UsageMeter = meter or _NoMeter()
        self._handover = handover
        self._speculations = speculations
        self._sleep = sleep
        self._run_models = (
            RunModels(self._models, tiers, tools, envelope, clock, self._meter, policy)
            if self._models is not None and tiers is not None
            else None
        )

    def __call__(self, request: TurnRequest, deadline: Deadline) -> TurnResult:
        """Answer ``request``.

        Raises:
            SessionContentionError: the session kept changing until attempts or time ran out.
            StoreUnavailableError: the store failed (after the client's own retries).
        """
        spent = _Spent()

        def read() -> _Read:
            now_ms = self._clock.now_ms()
            with self._meter.timed(STATE_READ):
                session = self._store.load(request.contact_id, now_ms)
            protected = None
            language = ANY_LANGUAGE
            if self._redactor is not None:
                with self._meter.timed(REDACTION):
                    language = redaction_language(session, language_of_turn(session, request, self._policy).locale)
                    protected = protect_turn(self._redactor, request, session, language=language)
            safe = protected.request if protected is not None else request
            with self._meter.timed(STATE_READ):
                delivery = classify_delivery(session, safe)
                if delivery.kind is DeliveryKind.CHECK_STORED_TURN and session is not None:
                    stored = self._store.load_turn(request.contact_id, delivery.seq, now_ms)
                    delivery = resolve_stored_turn(session, safe, stored)
            if protected is not None and self._redactor is not None and delivery.seq != request.seq:
                # New words on a taken sequence: they are turn ``delivery.seq``, after the newest.
                with self._meter.timed(REDACTION):
                    protected = protect_turn(self._redactor, request, session, delivery.seq, language=language)
                safe = protected.request
            return _Read(session, delivery, now_ms, safe, protected)

        def duplicate(read: _Read) -> TurnResult | None:
            reply = read.delivery.reply
            if read.delivery.kind is not DeliveryKind.DUPLICATE or reply is None:
                return None
            # A delivery that committed a handover may have died before starting the workflow;
            # the start is idempotent by name, so the redelivery makes sure it is started.
            language = self._policy.language(read.session.language if read.session else None)
            self._start_handover(read.request, read.delivery.seq, reply, language.locale)
            return TurnResult(reply, read.delivery.seq, duplicate=True, attempts=0, language=language)

        def commit(read: _Read) -> TurnResult:
            self._keep_in_vault(read, spent)
            outcome = self._decide(read, read.request, deadline, spent)
            if read.redaction is not None:
                outcome = replace(outcome, session=replace(outcome.session, redaction=read.redaction.state))
            # The turn item keeps what its components took up to the write (the write itself and
            # the answer are in the invocation's metrics and logs).
            timings = {**self._meter.timings(), UNTIL_WRITE: deadline.elapsed_ms(self._clock.monotonic_ms())}
            record = replace(
                outcome.record,
                latency_ms=tuple((k, round(v, 2)) for k, v in sorted(timings.items())),
                speculated=spent.speculated,
                speculation=spent.speculation.value,
                words_key=spent.words_key,
            )
            with self._meter.timed(STATE_WRITE):
                self._store.commit_turn(record, outcome.session, read.now_ms)
            for item in record.usage:
                self._meter.record(item)
            language = self._policy.language(outcome.session.language)
            self._start_handover(read.request, read.delivery.seq, outcome.reply, language.locale)
            return TurnResult(outcome.reply, read.delivery.seq, duplicate=False, attempts=0, record=record,
                              language=language)  # fmt: skip

        # A concurrent delivery of this turn won (its reply is the re-read's), or another writer
        # changed the session (decided again on the fresh state, with the model work kept).
        try:
            done = retry_on_conflict(
                read, duplicate, commit, attempts=self._commit_attempts, what="turn",
                conflicts=(TurnAlreadyRecordedError, SessionVersionConflictError),
                may_retry=lambda: self._deadline_allows_another(deadline),
            )  # fmt: skip
        except Exception:
            # No turn stored: the model calls this invocation paid for stay in its ledger all the same.
            for item in spent.paid_here:
                self._meter.record(item)
            raise
        return replace(done.result, attempts=done.writes)

    def _keep_in_vault(self, read: _Read, spent: _Spent) -> None:
        """Put the raw values of the turn's new tokens in the vault before any tool may need them
        (once per invocation). A vault that fails costs only the tools that need a value: they
        fail by name (``VaultValueMissingError``) and the caller is asked another way."""
        items = read.redaction.vault_items() if read.redaction is not None else {}
        new = {token: value for token, value in items.items() if token not in spent.vaulted}
        if not new or self._vault is None:
            return
        try:
            with self._meter.timed(VAULT):
                self._vault.put(read.request.contact_id, new, read.now_ms)
        except VaultUnavailableError as exc:
            logger.warning(
                "caller data not kept for the tools", extra={"error": type(exc).__name__, "tokens": len(new)}
            )
            return
        spent.vaulted |= frozenset(new)

    def _decide(self, read: _Read, request: TurnRequest, deadline: Deadline, spent: _Spent) -> TurnOutcome:
        """Route the turn and answer it, in the call's language: rules, or the models' work
        (done once per turn). A change of language is recorded in the reply's reasons."""
        session, seq = read.session, read.delivery.seq
        language = language_of_turn(session, request, self._policy)
        words = self._words_of(language.locale)
        with self._meter.timed(ROUTING):
            chosen = route(
                request.utterance,
                route_context(
                    session, self._policy.human_only_topics, self._policy.topic_patterns_for(language.locale)
                ),
                words,
            )
        if self._speculations is not None:
            # Kept on the turn, a rules turn's too: why a speculation was wasted reads it.
            spent.words_key = speculation_key(request.utterance, self._vocabulary)
        if chosen.tier == RULES or self._run_models is None:
            # Also after a race re-routed words a model already answered: its cost is charged.
            return answer_with_rules(session, request, seq, read.now_ms, self._policy, chosen, words=words.rules,
                                     spent=spent.run, language=language)  # fmt: skip
        if spent.run is None:
            found = self._speculated(request, seq, chosen, deadline, spent)
            spent.speculated = found is not None
            ready = found.work if found is not None and found.state is SpeculationState.READY else None
            # A speculation that stopped at a side effect: the turn goes on from its answer.
            resumed = found.work if found is not None and found.state is SpeculationState.RESUMABLE else None
            first = resumed.attempts if resumed is not None else ()
            spent.run = ready or self._run_models(chosen, session, request, seq, deadline, first_round=first)
            spent.paid_here = () if ready else charged(spent.run.attempts[len(first) :]).usage
        return answer_from_models(session, request, seq, read.now_ms, self._policy, route=chosen, run=spent.run,
                                  language=language)  # fmt: skip

    def _words_of(self, locale: str) -> LanguageWords:
        """What the rules and the router read in ``locale``: its language's words (every shipped
        language has them), or the words this use case was given for a language made in code."""
        found = self._policy.language(locale).words or self._words
        if found is None:
            raise ConfigurationInvalidError(f"no rules or router words for {locale}: the language has none, none given")
        return found

    def _start_handover(self, request: TurnRequest, seq: int, reply: Reply, language: str) -> None:
        """Start the handover workflow after a committed handover reply (never raises), with the
        call's language (its queue is already that language's: ``finish_turn``)."""
        if self._handover is None:
            return
        policy = self._policy.handover or HandoverPolicy(default_queue=self._policy.default_queue)
        callback_ref = CALLER_NUMBER_TOKEN if request.caller_number else None  # the number is in the vault
        wanted = handover_request(request.contact_id, seq, reply, policy, callback_ref, language=language)
        if wanted is None:
            return
        if wanted.callback_ref is not None and not self._keep_caller_number(request):
            wanted = replace(wanted, callback_ref=None)  # no number to call back: the voicemail path
        start_handover(self._handover, wanted)

    def _keep_caller_number(self, request: TurnRequest) -> bool:
        """Put the caller's number in the vault for the callback step: the workflow's input
        (kept by Step Functions for 90 days) names it by token only. False when it cannot."""
        if self._vault is None or request.caller_number is None:
            return False
        try:
            with self._meter.timed(VAULT):
                self._vault.put(request.contact_id, {CALLER_NUMBER_TOKEN: request.caller_number}, self._clock.now_ms())
        except VaultUnavailableError as exc:
            logger.warning("caller number not kept for a callback", extra={"error": type(exc).__name__})
            return False
        return True

    def _speculated(
        self, request: TurnRequest, seq: int, chosen: Route, deadline: Deadline, spent: _Spent
    ) -> Speculation | None:
        """The speculative turn for these words, if it is usable or resumable; what was found is
        kept in ``spent.speculation``.

        One that is still running is waited for while a fresh run would still fit after it, and
        past that while the turn can still answer and its first model attempt may still be
        answering (``speculation.keep_waiting``).
        """
        if self._speculations is None or self._tiers is None or not spent.words_key:
            return None
        key, tier, envelope = spent.words_key, self._tiers.get(chosen.tier), self._envelope
        reserve = envelope.finish_reserve_ms + SPECULATION_POLL_MS
        fresh = tier.expected_ms() + reserve

        def waiting(found: Speculation | None) -> bool:
            if found is None or found.tier != chosen.tier:
                return False
            now = self._clock.monotonic_ms()
            fresh_fits, answer_fits = deadline.allows(now, fresh), deadline.allows(now, reserve)
            return keep_waiting(found, self._clock.now_ms(), fresh_run_fits=fresh_fits, answer_fits=answer_fits,
                                attempt_ms=tier.total_timeout_ms, lifetime_ms=envelope.hard_deadline_ms)  # fmt: skip

        try:
            with self._meter.timed(SPECULATION):
                found = self._speculations.get(request.contact_id, seq, key, self._clock.now_ms())
                while found is not None and waiting(found):
                    pause = next_look_in_ms(found, self._clock.now_ms(), fine_ms=SPECULATION_FINE_POLL_MS,
                                            coarse_ms=SPECULATION_POLL_MS)  # fmt: skip
                    self._sleep(pause / 1000)
                    found = self._speculations.get(request.contact_id, seq, key, self._clock.now_ms())
        except AppError:
            spent.speculation = Lookup.UNAVAILABLE
            return None  # the turn does the work itself
        spent.speculation = lookup_outcome(found, chosen.tier)
        fits = usable(found, seq, key, chosen.tier) or resumable(found, seq, key, chosen.tier)
        return found if fits else None

    def _deadline_allows_another(self, deadline: Deadline) -> bool:
        return deadline.allows(self._clock.monotonic_ms(), self._envelope.finish_reserve_ms)
