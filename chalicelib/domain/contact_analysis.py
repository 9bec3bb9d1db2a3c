"""Contact Lens real-time segments applied to the session: sentiment, categories, barge-in.

Segments arrive at least once and in any order (Connect's partition key for them is not
documented), so each is applied once (by Id) and they are ordered by their offsets from the
contact's start. Barge-in: a caller transcript that begins while one of our prompts was playing
(the prompt's own transcript, spoken by the SYSTEM/AGENT participant, gives its start offset
and length) means the caller heard only the start of it. The assistant message kept in history
is cut to the words heard — the share of the prompt's playing time before the caller spoke, or
the words Contact Lens transcribed if playback stopped there — and the turn is marked
interrupted, so the next model call does not believe the caller heard what they did not.

Caller data: Contact Lens's own redaction may be off, partial, or (for voice) only applied to its
post-call output, so every segment's text is scrubbed by our redactor before it is kept
(``scrubbed``): each entity the policy does not keep becomes its bare label (``[CARD]``), with the
prompt and the caller's words before it as the context.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from enum import StrEnum

from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_policy import RedactionPolicy
from chalicelib.domain.session import Session, Span

MAX_SEEN_SEGMENTS = 400
MAX_SENTIMENTS = 8
MAX_SPANS = 80
MAX_SPAN_CHARS = 200
# What a segment is read with: the contexts of the last turns' messages and the last spans.
CONTEXT_MESSAGES = 6
CONTEXT_SPANS = 12
# A caller who starts within this much of the prompt's end did not interrupt it.
BARGE_IN_GRACE_MS = 250


class SegmentKind(StrEnum):
    TRANSCRIPT = "transcript"
    UTTERANCE = "utterance"  # partial; not used for state
    CATEGORIES = "categories"
    SUMMARY = "summary"


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    segment_id: str
    role: str = ""  # CUSTOMER | AGENT | SYSTEM
    content: str = ""
    begin_ms: int = 0
    end_ms: int = 0
    sentiment: str = ""  # POSITIVE | NEUTRAL | NEGATIVE | MIXED | ""
    categories: tuple[str, ...] = ()


def apply_segments(session: Session, segments: tuple[Segment, ...], event_type: str = "SEGMENTS") -> Session:
    """``session`` with ``segments`` applied once each, in offset order. Pure and idempotent."""
    fresh = [s for s in segments if s.segment_id not in session.seen_segments]
    if event_type in ("STARTED", "COMPLETED", "FAILED"):
        session = replace(session, analysis_status=event_type)
    if not fresh:
        return session
    new_spans = [
        Span(s.role, s.begin_ms, s.end_ms, s.content[:MAX_SPAN_CHARS], s.sentiment)
        for s in fresh
        if s.kind is SegmentKind.TRANSCRIPT
    ]
    # Records arrive in any order: state is rebuilt from every span seen, ordered by offset.
    spans = tuple(sorted((*session.spans, *new_spans), key=lambda s: (s.begin_ms, s.end_ms)))[-MAX_SPANS:]
    sentiments, negative = session.caller_sentiments, session.negative_sentiment
    if any(s.role == "CUSTOMER" and s.sentiment for s in new_spans):
        sentiments = tuple(s.sentiment for s in spans if s.role == "CUSTOMER" and s.sentiment)[-MAX_SENTIMENTS:]
        negative = sentiment_is_negative(sentiments)
    matched = [c for s in fresh if s.kind is SegmentKind.CATEGORIES for c in s.categories]
    summary = next((s.content for s in fresh if s.kind is SegmentKind.SUMMARY and s.content), "")
    session = replace(
        session,
        seen_segments=(*session.seen_segments, *(s.segment_id for s in fresh))[-MAX_SEEN_SEGMENTS:],
        spans=spans,
        caller_sentiments=sentiments,
        negative_sentiment=negative,
        categories=tuple(dict.fromkeys((*session.categories, *matched))),
        contact_lens_summary=summary or session.contact_lens_summary,
    )
    return _cut_interrupted_prompts(session)


def scrubbed(
    redactor: Redactor, session: Session, segments: tuple[Segment, ...]
) -> tuple[Session, tuple[Segment, ...]]:
    """``segments`` with the caller data in their text scrubbed (``Redactor.scrub``), in their
    order, and the session's kept spans and summary scrubbed again with what they now know. Pure.

    Segments arrive in any order: the prompt a caller answered ("And the security code?") may
    come after the answer ("seven three seven"). So each text is read with every context the call
    has shown lately — in the last turns (the history: a prompt is there before the caller answers
    it), the last spans kept, and this batch — and the spans kept are scrubbed again when the batch
    brings a context they did not have. That over-redacts a little (a kept span is only matched to
    our prompts and counted for barge-in); missing a card number would keep it.

    Example:
        >>> from chalicelib.adapters.redaction_policy import load_redaction_policy
        >>> redactor = Redactor(load_redaction_policy(), b"k" * 32)
        >>> said = Segment(SegmentKind.TRANSCRIPT, "c", "CUSTOMER", "seven three seven", 1000, 1900)
        >>> asked = Segment(SegmentKind.TRANSCRIPT, "p", "SYSTEM", "What's the security code on the card?", 0, 900)
        >>> [s.content for s in scrubbed(redactor, Session.new("c-1", 0), (said, asked))[1]]
        ['[CVV]', "What's the security code on the card?"]
    """
    policy = redactor.policy
    recent = [m.text for m in session.history[-CONTEXT_MESSAGES:]] + [x.content for x in session.spans[-CONTEXT_SPANS:]]
    kept = [text for text in recent if text]
    known = policy.contexts_in(*kept)
    present = known | policy.contexts_in(*(segment.content for segment in segments))
    # Read in every language (no ``language``): a segment may be the caller's or the agent's, in
    # the call's language or another, and a summary of either.
    context = RedactionContext(prompt=_naming(policy, present))

    def scrub(text: str) -> str:
        return redactor.scrub(text, context) if text else text

    if present != known:  # what the batch says may make a kept number caller data
        spans = tuple(replace(span, content=scrub(span.content)) for span in session.spans)
        session = replace(session, spans=spans, contact_lens_summary=scrub(session.contact_lens_summary))
    return session, tuple(replace(s, content=scrub(s.content)) for s in segments)


def _naming(policy: RedactionPolicy, present: frozenset[str]) -> str:
    """A short text that names exactly the ``present`` contexts: for each, one of its phrases that
    names no other (read once per batch, where the whole call's text would be read per segment)."""
    phrases = []
    for name in sorted(present):
        phrase = next((p for p in policy.contexts[name] if policy.contexts_in(p) <= present), name)
        phrases.append(phrase)
    return " . ".join(phrases)


def sentiment_is_negative(sentiments: tuple[str, ...]) -> bool:
    """Negative when the caller's newest turn is negative and so was one of the two before it."""
    return len(sentiments) >= 2 and sentiments[-1] == "NEGATIVE" and "NEGATIVE" in sentiments[-3:-1]


def _cut_interrupted_prompts(session: Session) -> Session:
    prompts = [s for s in session.spans if s.role in ("SYSTEM", "AGENT")]
    callers = [s for s in session.spans if s.role == "CUSTOMER"]
    history = list(session.history)
    interrupted = list(session.interrupted_seqs)
    for prompt in prompts:
        barge = next((c for c in callers if prompt.begin_ms < c.begin_ms < prompt.end_ms - BARGE_IN_GRACE_MS), None)
        if barge is None:
            continue
        position = _message_for(history, prompt.content)
        if position is None or history[position].seq in interrupted:
            continue
        message = history[position]
        heard = heard_text(message.text, prompt, barge.begin_ms)
        history[position] = Message(Role.ASSISTANT, heard, message.seq)
        interrupted.append(message.seq)
    if interrupted == list(session.interrupted_seqs):
        return session
    return replace(session, history=tuple(history), interrupted_seqs=tuple(interrupted))


def heard_text(prompt_text: str, prompt: Span | Segment, caller_began_ms: int) -> str:
    """The words of ``prompt_text`` the caller heard before speaking at ``caller_began_ms``:
    the share of the prompt's playing time, never more than Contact Lens transcribed."""
    words = prompt_text.split()
    playing_ms = max(1, prompt.end_ms - prompt.begin_ms)
    share = min(1.0, max(0.0, (caller_began_ms - prompt.begin_ms) / playing_ms))
    count = min(math.floor(share * len(words)), len(prompt.content.split()) if prompt.content else len(words))
    heard = " ".join(words[:count])
    return heard + "…" if count < len(words) else heard


_WORD = re.compile(r"[a-z0-9']+")


def _message_for(history: list[Message], transcript: str) -> int | None:
    """The newest assistant message whose start the prompt transcript matches."""
    spoken = _WORD.findall(transcript.lower())[:6]
    if not spoken:
        return None
    for position in range(len(history) - 1, -1, -1):
        message = history[position]
        if message.role == Role.ASSISTANT and _WORD.findall(message.text.lower())[: len(spoken)] == spoken:
            return position
    return None
