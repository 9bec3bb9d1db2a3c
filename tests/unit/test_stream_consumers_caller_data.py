"""The stream consumers keep no caller data: Contact Lens segments are scrubbed before they are
applied, and closing a contact forgets its vault unless a handover may still call back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters.data_files import load_prices
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.contact_analysis import Segment, SegmentKind
from chalicelib.domain.contact_outcome import ContactRecordFacts, handover_may_call_back
from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.handover import HandoverStatus
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.session import HandoverState, Session, SessionStatus
from chalicelib.errors import VaultUnavailableError
from chalicelib.usecases.stream_consumers import CloseContact, IngestSegments
from tests.fakes import InMemoryVault, ManualClock

REDACTOR = Redactor(load_redaction_policy(), b"consumers-test-key-of-32-bytes!!")
CARD = "4111 1111 1111 1111"


def transcript(seg_id: str, role: str, content: str, begin: int) -> Segment:
    return Segment(SegmentKind.TRANSCRIPT, seg_id, role, content, begin, begin + 900, "NEUTRAL")


def ingested(*batches: tuple[Segment, ...]) -> Session:
    store, clock = InMemorySessionStore(), ManualClock()
    ingest = IngestSegments(store, clock, REDACTOR)
    for segments in batches:
        ingest("c", "SEGMENTS", segments)
    stored = store.load("c", clock.now)
    assert stored is not None
    return stored


def test_a_card_number_in_a_segment_is_kept_as_its_label_only() -> None:
    stored = ingested((transcript("s1", "CUSTOMER", f"my card number is {CARD}", 0),))
    assert [s.content for s in stored.spans] == ["my card number is [CARD]"]


def test_a_code_asked_for_in_an_earlier_record_is_scrubbed_as_a_security_code() -> None:
    asked = transcript("p1", "SYSTEM", "And the three digit security code on the back of the card?", 0)
    stored = ingested((asked,), (transcript("s1", "CUSTOMER", "it's seven three seven", 1000),))
    assert [s.content for s in stored.spans] == [asked.content, "it's [CVV]"]


def test_an_answer_that_arrives_before_the_prompt_that_asked_for_it_is_scrubbed() -> None:
    said = transcript("s1", "CUSTOMER", "it's seven three seven", 1000)
    asked = transcript("p1", "SYSTEM", "And the three digit security code on the back of the card?", 0)
    stored = ingested((said,), (asked,))  # records arrive in any order
    assert [s.content for s in stored.spans] == [asked.content, "it's [CVV]"]


def test_the_prompts_of_the_turns_give_the_context_before_any_segment_of_them_arrives() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    asked = Message(Role.ASSISTANT, "Thank you. And what's the expiry date on the card?", 3)
    store.save_session(replace(Session.new("c", 0), history=(asked,)), clock.now)
    IngestSegments(store, clock, REDACTOR)(
        "c", "SEGMENTS", (transcript("s1", "CUSTOMER", "it expires oh nine twenty eight", 0),)
    )
    stored = store.load("c", clock.now)
    assert stored is not None and [s.content for s in stored.spans] == ["it expires [EXPIRY]"]


def test_contact_lens_summary_is_scrubbed_too() -> None:
    summary = Segment(SegmentKind.SUMMARY, "summary:c", content="The caller asked to be called back on 212 555 0142.")
    assert ingested((summary,)).contact_lens_summary == "The caller asked to be called back on [PHONE]."


def test_words_without_caller_data_are_kept_as_they_were_said() -> None:
    stored = ingested((transcript("s1", "CUSTOMER", "what time do you close on saturday", 0),))
    assert [s.content for s in stored.spans] == ["what time do you close on saturday"]


# --- closing the contact: its vault --------------------------------------------------------------


def record(agent: bool = False) -> ContactRecordFacts:
    return ContactRecordFacts("c", 2_000, 1_000, 61_000, "CUSTOMER_DISCONNECT", agent, agent)


def closing(session: Session, vault: InMemoryVault) -> tuple[CloseContact, InMemorySessionStore]:
    store, clock = InMemorySessionStore(), ManualClock()
    store.save_session(session, clock.now)
    vault.put("c", {"[PHONE_1]": "+12125550142"}, clock.now)
    return CloseContact(store, clock, load_prices(), vault=vault), store


def handed_over(status: str | None, callback: str | None = None) -> Session:
    held = None if status is None else HandoverState("c-1", "caller_asked", "GeneralSupport", status, callback=callback)
    return replace(Session.new("c", 0), status=SessionStatus.HANDOVER, handover=held)


def test_closing_a_contact_forgets_the_values_behind_its_tokens() -> None:
    vault = InMemoryVault()
    close, _ = closing(Session.new("c", 0), vault)
    close(record())
    assert "c" not in vault.values


@pytest.mark.parametrize(
    ("session", "may_call_back"),
    [
        (handed_over(None), True),  # the workflow started, its summary not written yet
        (handed_over(HandoverStatus.PREPARED), True),
        (handed_over(HandoverStatus.WAITING), True),  # the caller hung up in the queue: a callback may come
        (handed_over(HandoverStatus.AGENT_CONNECTED), False),
        (handed_over(HandoverStatus.CALLBACK_BOOKED, "cb-1"), False),
        (handed_over(HandoverStatus.VOICEMAIL, "voicemail"), False),
        (Session.new("c", 0), False),
    ],
)
def test_the_vault_outlives_the_contact_only_while_a_handover_may_call_back(
    session: Session, may_call_back: bool
) -> None:
    assert handover_may_call_back(session) is may_call_back
    vault = InMemoryVault()
    close, store = closing(session, vault)
    close(record())
    assert ("c" in vault.values) is may_call_back
    closed = store.load("c", 0)
    assert closed is not None and closed.closed is not None  # closed either way: the TTL is the backstop


def test_a_vault_that_fails_fails_the_record_and_the_redelivery_forgets_the_values() -> None:
    vault = InMemoryVault()
    close, _ = closing(Session.new("c", 0), vault)
    vault.fail = VaultUnavailableError("table throttled")
    with pytest.raises(VaultUnavailableError):
        close(record())  # retryable: the batch reports the record, Lambda delivers it again
    vault.fail = None
    close(record())  # the session is closed already: only the delete is left to do
    assert "c" not in vault.values
