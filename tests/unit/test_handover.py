"""Human handover in the domain and its use cases, on in-memory fakes: human-only topics,
queues, names, business hours, the idempotent start from a retried turn, the task token, the
summary, the callback's voicemail fallback."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.data_files import DATA, load_envelope, load_tools
from chalicelib.adapters.handover_config import load_handover_policy
from chalicelib.adapters.language_files import shipped_languages
from chalicelib.adapters.memory_journal import InMemoryToolJournal
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.agent_summary import mask_account
from chalicelib.domain.conversation import Action, Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.handover import (
    CALLER_NUMBER_TOKEN,
    TOPIC_PATTERNS,
    BusinessHours,
    HandoverPolicy,
    HandoverRequest,
    HandoverStatus,
    WorkflowStart,
    execution_name,
    handover_request,
    human_only_topic,
)
from chalicelib.domain.router import route, route_context
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.session import Session
from chalicelib.domain.tiers import RULES
from chalicelib.errors import (
    CallbackNotBookedError,
    HandoverSessionMissingError,
    HandoverWorkflowUnavailableError,
    SessionVersionConflictError,
    VaultUnavailableError,
)
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.handover import (
    CALLBACK_NUMBER_GONE,
    SUMMARY_ATTRIBUTE,
    AgentConnected,
    OfferCallback,
    PrepareHandover,
    WaitForAgent,
    start_handover,
)
from chalicelib.usecases.run_tools import RunTools
from tests.fakes import FakeToolBackend, InMemoryContactAttributes, InMemoryVault, ManualClock
from tests.languages import EN, ES

HANDOVER = load_handover_policy(DATA / "handover.json")
LANGUAGES = shipped_languages()
POLICY = DialoguePolicy(handover=HANDOVER)
ENVELOPE = load_envelope()
MONDAY_NOON_UTC = 1_700_481_600_000  # 2023-11-20 12:00 UTC, a Monday


class RecordingHandoverWorkflow:
    """``HandoverWorkflow`` that keeps executions by name, as Step Functions does; it can be told
    to fail the next starts."""

    def __init__(self, fail_starts: int = 0) -> None:
        self.executions: dict[str, dict[str, object]] = {}
        self.start_calls = 0
        self.fail_starts = fail_starts
        self.resumed: list[tuple[str, dict[str, object]]] = []
        self.closed_tokens: set[str] = set()

    def start(self, request: HandoverRequest) -> WorkflowStart:
        self.start_calls += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise HandoverWorkflowUnavailableError("injected")
        name = request.execution_name
        if name in self.executions:
            return WorkflowStart(name, already_started=True)
        self.executions[name] = request.as_input()
        return WorkflowStart(name, already_started=False)

    def resume(self, task_token: str, output: dict[str, object]) -> bool:
        if task_token in self.closed_tokens:
            return False
        self.closed_tokens.add(task_token)
        self.resumed.append((task_token, output))
        return True


def request(words: str, seq: int = 1, contact: str = "c-1", number: str | None = "+15555550100") -> TurnRequest:
    return TurnRequest(contact_id=contact, seq=seq, utterance=words, source=Source.CONNECT, caller_number=number)


def deadline(clock: ManualClock) -> Deadline:
    return Deadline(started_at_ms=clock.monotonic_ms(), hard_ms=2_500)


# ----------------------------------------------------------------------- domain


def test_the_execution_name_is_contact_and_turn_within_step_functions_rules() -> None:
    assert execution_name("4fad7a5c-b196-4ecf-9e4a-7d5b6c8f9ea5", 4) == "4fad7a5c-b196-4ecf-9e4a-7d5b6c8f9ea5-4"
    odd = execution_name("a b/c:d#" + "x" * 200, 12)
    assert len(odd) == 80 and odd.endswith("-12")
    assert set(odd) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def test_a_human_only_topic_is_handed_over_by_the_rules_to_its_queue() -> None:
    words = "my husband passed away last month and the account is in his name"
    chosen = route(words, route_context(None, POLICY.human_only_topics), EN)
    assert chosen.tier == RULES and chosen.reasons == ("human_only_topic:bereavement",)
    outcome = answer_with_rules(None, request(words), 1, 0, POLICY, chosen, words=EN.rules)
    assert outcome.reply.action is Action.HANDOVER
    assert outcome.reply.queue == "Bereavement"
    assert "handover:human_only_topic" in outcome.reply.reasons and "topic:bereavement" in outcome.reply.reasons


def test_without_the_policy_the_topic_goes_to_a_model_as_before() -> None:
    assert (
        route("my husband passed away last month", route_context(None, DialoguePolicy().human_only_topics), EN).tier
        > RULES
    )


def test_queues_by_reason_and_topic_with_a_default() -> None:
    assert HANDOVER.queue_for("tool_unavailable") == "AccountServices"
    assert HANDOVER.queue_for("human_only_topic", "fraud") == "FraudTeam"
    assert HANDOVER.queue_for("something_new") == "GeneralSupport"
    assert DialoguePolicy(default_queue="Billing").queue_for("caller_asked") == "Billing"


def test_business_hours_at_a_fixed_offset() -> None:
    hours = BusinessHours(utc_offset_minutes=-300, days=(0, 1, 2, 3, 4), opens_minute=8 * 60, closes_minute=20 * 60)
    assert not hours.is_open(MONDAY_NOON_UTC)  # 07:00 local at -05:00: not yet open
    assert hours.is_open(MONDAY_NOON_UTC + 3_600_000)  # 08:00 local
    assert not BusinessHours(utc_offset_minutes=0, days=(5, 6)).is_open(MONDAY_NOON_UTC)
    assert BusinessHours(utc_offset_minutes=0, days=(0,)).is_open(MONDAY_NOON_UTC)
    assert not BusinessHours(utc_offset_minutes=0, opens_minute=13 * 60).is_open(MONDAY_NOON_UTC)


def test_account_numbers_are_masked_to_the_last_four() -> None:
    assert mask_account("551209") == "**1209"
    assert mask_account("acc-448129") == "**8129"
    assert mask_account(None) is None


# ----------------------------------------------------------------------- starting once


def test_a_committed_handover_starts_the_workflow_with_the_turn_as_its_name() -> None:
    clock, workflow, vault = ManualClock(), RecordingHandoverWorkflow(), InMemoryVault()
    handle = HandleTurn(InMemorySessionStore(), clock, POLICY, ENVELOPE, words=EN, handover=workflow, vault=vault)
    handle(request("hello"), deadline(clock))
    assert workflow.start_calls == 0
    result = handle(request("agent please", 2), deadline(clock))
    assert result.reply.action is Action.HANDOVER
    assert list(workflow.executions) == ["c-1-2"]
    assert workflow.executions["c-1-2"]["reason"] == "caller_asked"
    # the caller's number is in the vault: the workflow's input (kept 90 days) names its token only
    assert workflow.executions["c-1-2"]["callback_ref"] == CALLER_NUMBER_TOKEN
    assert "+15555550100" not in json.dumps(workflow.executions)
    assert vault.get("c-1", [CALLER_NUMBER_TOKEN], clock.now) == {CALLER_NUMBER_TOKEN: "+15555550100"}


def test_a_turn_that_fails_mid_handover_and_is_retried_starts_one_workflow() -> None:
    clock, workflow = ManualClock(), RecordingHandoverWorkflow(fail_starts=1)
    handle = HandleTurn(InMemorySessionStore(), clock, POLICY, ENVELOPE, words=EN, handover=workflow)
    first = handle(request("agent please"), deadline(clock))  # committed; the start fails
    assert first.reply.action is Action.HANDOVER and not first.duplicate  # the caller is still transferred
    assert workflow.executions == {}
    for _ in range(2):  # Connect retries the turn (the answer was lost): the redeliveries start it, once
        again = handle(request("agent please"), deadline(clock))
        assert again.duplicate and again.reply == first.reply
    assert list(workflow.executions) == ["c-1-1"] and workflow.start_calls == 3


def test_a_failed_start_is_reported_not_raised() -> None:
    wanted = HandoverRequest("c-1", 3, "caller_asked", "GeneralSupport")
    assert start_handover(RecordingHandoverWorkflow(fail_starts=1), wanted) == "failed:HandoverWorkflowUnavailableError"
    assert start_handover(None, wanted) == "not_configured"
    workflow = RecordingHandoverWorkflow()
    assert [start_handover(workflow, wanted) for _ in range(2)] == ["started", "already_started"]


def test_the_start_input_is_the_same_for_a_retried_turn() -> None:
    outcome = answer_with_rules(None, request("agent please"), 1, 0, POLICY, words=EN.rules)
    one = handover_request("c-1", 1, outcome.reply, HANDOVER, "+1555")
    two = handover_request(
        "c-1",
        1,
        answer_with_rules(None, request("agent please"), 1, 99, POLICY, words=EN.rules).reply,
        HANDOVER,
        "+1555",
    )
    assert one == two and one is not None and one.as_input()["queue"] == "GeneralSupport"
    assert (
        handover_request(
            "c-1", 1, answer_with_rules(None, request("hello"), 1, 0, POLICY, words=EN.rules).reply, HANDOVER
        )
        is None
    )


# ----------------------------------------------------------------------- the tasks


def handed_over(store: InMemorySessionStore, clock: ManualClock, contact: str = "c-1") -> HandoverRequest:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN)
    handle(request("my account number is 5 5 1 2 0 9", 1, contact), deadline(clock))
    handle(request("yes", 2, contact), deadline(clock))
    result = handle(request("someone used my card, it's fraud", 3, contact), deadline(clock))
    wanted = handover_request(contact, result.seq, result.reply, HANDOVER, CALLER_NUMBER_TOKEN)
    assert wanted is not None
    return wanted


class ConflictOnce:
    """A store whose first ``save_session`` loses a race with another writer."""

    def __init__(self, inner: InMemorySessionStore) -> None:
        self.inner, self.conflicts = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_session(self, session: Session, now_ms: int) -> Session:
        if self.conflicts == 0:
            self.conflicts += 1
            current = self.inner.load(session.contact_id, now_ms)
            assert current is not None
            self.inner.save_session(replace(current, negative_sentiment=True), now_ms)  # the other writer
            raise SessionVersionConflictError("raced")
        return self.inner.save_session(session, now_ms)


def test_the_summary_is_written_to_the_session_and_the_contact_once() -> None:
    clock, store = ManualClock(MONDAY_NOON_UTC), InMemorySessionStore()
    wanted = handed_over(store, clock)
    attributes = InMemoryContactAttributes()
    racing = ConflictOnce(store)
    prepare = PrepareHandover(racing, attributes, clock, HANDOVER, LANGUAGES)  # type: ignore[arg-type]
    first = prepare(wanted)
    again = prepare(wanted)
    assert racing.conflicts == 1  # re-read and re-applied: the other writer's change is kept
    session = store.load("c-1", clock.now)
    assert session is not None and session.negative_sentiment and session.handover is not None
    assert session.handover.summary == first.summary == again.summary
    assert session.handover.queue == "FraudTeam" and session.handover.status == HandoverStatus.PREPARED
    assert "account **1209" in first.summary and "fraud" in first.summary
    assert attributes.attributes["c-1"][SUMMARY_ATTRIBUTE] == first.summary
    assert first.within_hours is False  # 12:00 UTC is 07:00 at the configured -05:00


def test_the_task_token_is_stored_once_and_the_agent_resumes_the_wait_once() -> None:
    clock, store, workflow = ManualClock(), InMemorySessionStore(), RecordingHandoverWorkflow()
    wanted = handed_over(store, clock)
    PrepareHandover(store, InMemoryContactAttributes(), clock, HANDOVER, LANGUAGES)(wanted)
    wait = WaitForAgent(store, clock)
    wait("c-1", wanted.execution_name, "token-1")
    version = store.load("c-1", clock.now).version  # type: ignore[union-attr]
    wait("c-1", wanted.execution_name, "token-1")  # Lambda ran the task twice: nothing written
    assert store.load("c-1", clock.now).version == version  # type: ignore[union-attr]
    connected = AgentConnected(store, workflow, clock)
    assert connected("c-1", "agent-7") == {"status": HandoverStatus.AGENT_CONNECTED, "resumed": True}
    assert connected("c-1", "agent-7") == {"status": HandoverStatus.AGENT_CONNECTED, "resumed": False}
    assert [token for token, _ in workflow.resumed] == ["token-1"]


def test_no_number_means_a_voicemail_and_the_callback_is_recorded_once() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = replace(handed_over(store, clock), callback_ref=None)
    offer = OfferCallback(store, clock, None, HANDOVER)
    assert offer(wanted) == {"status": HandoverStatus.VOICEMAIL, "callback": "voicemail"}
    assert offer(wanted) == {"status": HandoverStatus.VOICEMAIL, "callback": "voicemail"}


class CallbackTools:
    """The callback's tool runner over a fake back office, an in-memory journal and vault."""

    def __init__(self, clock: ManualClock) -> None:
        self.backend = FakeToolBackend({"book_callback": {"callback_id": "cb-1", "status": "booked"}})
        self.journal = InMemoryToolJournal()
        self.vault = InMemoryVault()
        graph, _ = load_tools()
        self.runner = RunTools(graph, self.backend, self.journal, clock, ENVELOPE, InvocationMeter(),
                               vault=self.vault)  # fmt: skip


def test_the_callback_books_the_number_the_vault_holds_and_journals_only_its_token() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = handed_over(store, clock)
    tools = CallbackTools(clock)
    tools.vault.put("c-1", {CALLER_NUMBER_TOKEN: "+15555550100"}, clock.now)
    offer = OfferCallback(store, clock, tools.runner, HANDOVER)
    assert offer(wanted) == {"status": HandoverStatus.CALLBACK_BOOKED, "callback": "cb-1"}
    [(name, arguments, _, _)] = tools.backend.calls
    assert (name, arguments["phone"]) == ("book_callback", "+15555550100")  # the real number, to the tool
    [entry] = tools.journal.entries.values()
    assert json.loads(entry.arguments_json)["phone"] == CALLER_NUMBER_TOKEN  # the token, in the journal
    assert "+15555550100" not in repr(entry)
    assert tools.vault.gets == [("c-1", frozenset({CALLER_NUMBER_TOKEN}))]  # one read, just before the call


def test_a_vault_deleted_when_the_contact_closed_means_a_voicemail_with_a_named_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = handed_over(store, clock)
    tools = CallbackTools(clock)
    tools.vault.put("c-1", {CALLER_NUMBER_TOKEN: "+15555550100"}, clock.now)
    tools.vault.delete("c-1")  # the caller hung up while waiting: CloseContact deleted the vault
    offer = OfferCallback(store, clock, tools.runner, HANDOVER)
    assert offer(wanted) == {"status": HandoverStatus.VOICEMAIL, "callback": "voicemail"}
    assert tools.backend.calls == []
    [record] = [r for r in caplog.records if r.getMessage() == "callback not booked, voicemail offered"]
    assert record.reason == CALLBACK_NUMBER_GONE  # type: ignore[attr-defined]


def test_a_vault_that_cannot_be_read_fails_the_task_for_the_workflow_to_retry() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = handed_over(store, clock)
    tools = CallbackTools(clock)
    tools.vault.fail = VaultUnavailableError("KMS Decrypt failed: ThrottlingException")
    offer = OfferCallback(store, clock, tools.runner, HANDOVER)
    with pytest.raises(CallbackNotBookedError, match="vault_unavailable"):
        offer(wanted)
    tools.vault.fail = None
    tools.vault.put("c-1", {CALLER_NUMBER_TOKEN: "+15555550100"}, clock.now)
    assert offer(wanted)["status"] == HandoverStatus.CALLBACK_BOOKED  # the retry books it


def test_a_task_for_a_contact_without_a_session_raises_the_name_the_workflow_catches() -> None:
    clock = ManualClock()
    with pytest.raises(HandoverSessionMissingError):
        PrepareHandover(InMemorySessionStore(), InMemoryContactAttributes(), clock, HANDOVER, LANGUAGES)(
            HandoverRequest("nobody", 1, "caller_asked", "GeneralSupport")
        )
    with pytest.raises(HandoverSessionMissingError):
        WaitForAgent(InMemorySessionStore(), clock)("nobody", "nobody-1", "t")


def test_the_shipped_policy_only_names_topics_the_domain_knows() -> None:
    assert set(HANDOVER.human_only_topics) == {"bereavement", "fraud", "legal"}
    assert HANDOVER.heartbeat_seconds < HANDOVER.wait_seconds
    assert isinstance(HANDOVER, HandoverPolicy)


# ----------------------------------------------------------------------- languages


def test_a_queue_has_its_variant_in_a_language_that_has_one_and_stays_itself_otherwise() -> None:
    assert HANDOVER.queue_for("human_only_topic", "fraud", "es-US") == "FraudTeamSpanish"
    assert HANDOVER.queue_for("caller_asked", language="es_US") == "GeneralSupportSpanish"  # Lex's locale
    assert HANDOVER.queue_for("human_only_topic", "bereavement", "es-US") == "Bereavement"  # no variant: kept
    assert HANDOVER.queue_for("human_only_topic", "fraud", "fr-CA") == "FraudTeam"  # a language with none
    assert HANDOVER.queue_for("human_only_topic", "fraud") == "FraudTeam"  # English, as before
    assert {"FraudTeamSpanish", "GeneralSupportSpanish", "AccountServicesSpanish"} <= HANDOVER.queue_names
    assert POLICY.queue_for("human_only_topic", "fraud", "es-US") == "FraudTeamSpanish"  # the dialogue's, the same
    assert DialoguePolicy(default_queue="Billing").queue_for("caller_asked", language="es-US") == "Billing"
    assert POLICY.topic_patterns_for("es-US") == HANDOVER.topic_patterns_for("es-US")


def test_the_handover_request_of_a_spanish_call_names_the_spanish_queue_and_carries_the_language() -> None:
    reply = answer_with_rules(None, request("agent please"), 1, 0, POLICY, words=EN.rules).reply  # queue: English
    wanted = handover_request("c-es", 1, reply, HANDOVER, None, language="es-US")
    assert wanted is not None and wanted.queue == "GeneralSupportSpanish" and wanted.language == "es-US"
    assert wanted.as_input()["language"] == "es-US"
    english = handover_request("c-en", 1, reply, HANDOVER)
    assert english is not None and (english.queue, english.as_input()["language"]) == ("GeneralSupport", None)


@pytest.mark.parametrize(
    ("words", "topic"),
    [
        ("hay cargos que yo no hice en mi tarjeta", "fraud"),
        ("creo que es un fraude", "fraud"),
        ("Me robaron la identidad.", "fraud"),
        ("mi esposo falleció la semana pasada", "bereavement"),
        ("voy a hablar con mi abogado", "legal"),
        ("quiero pagar mi factura", None),
    ],
)
def test_spanish_words_name_a_human_only_topic_with_the_spanish_pack(words: str, topic: str | None) -> None:
    spanish = HANDOVER.topic_patterns_for("es-US")
    assert human_only_topic(words, HANDOVER.human_only_topics, ES.rules, spanish) == topic


def test_the_english_pack_is_the_default_and_english_matching_is_unchanged() -> None:
    topics = HANDOVER.human_only_topics
    assert (
        HANDOVER.topic_patterns_for(None) is TOPIC_PATTERNS and HANDOVER.topic_patterns_for("en-US") is TOPIC_PATTERNS
    )
    assert HANDOVER.topic_patterns_for("fr-CA") is TOPIC_PATTERNS  # a language without a pack of its own
    assert human_only_topic("someone used my card, it's fraud", topics, EN.rules) == "fraud"
    assert human_only_topic("someone used my card, it's fraud", topics, EN.rules, TOPIC_PATTERNS) == "fraud"
    assert human_only_topic("me robaron la identidad", topics, EN.rules) is None  # the English pack knows no Spanish


def test_a_policy_file_with_a_language_variant_of_an_unnamed_queue_or_an_unknown_topic_is_refused(
    tmp_path: Any,
) -> None:
    from chalicelib.errors import ConfigurationInvalidError

    shipped = json.loads((DATA / "handover.json").read_text())
    for change, match in (
        (lambda d: d["language_queues"]["es-US"].update(BillingTeam="BillingTeamSpanish"), "BillingTeam"),
        (lambda d: d["topic_phrases"]["es-US"].update(weather=["lluvia"]), "weather"),
        (lambda d: d["topic_phrases"].update(spanish={"fraud": ["fraude"]}), "xx-XX"),
        (lambda d: d["topic_phrases"]["es-US"].update(fraud=[" "]), "without a phrase"),
    ):
        data = json.loads(json.dumps(shipped))
        change(data)
        path = tmp_path / "handover.json"
        path.write_text(json.dumps(data))
        with pytest.raises(ConfigurationInvalidError, match=match):
            load_handover_policy(path)


def test_the_workflow_task_input_keeps_the_calls_language() -> None:
    from chalicelib.adapters.handover_events import HandoverTaskInput

    wanted = HandoverRequest("c-es", 2, "caller_asked", "GeneralSupportSpanish", language="es-US")
    assert HandoverTaskInput.model_validate(wanted.as_input()).request() == wanted
