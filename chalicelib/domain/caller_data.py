"""A turn's caller data taken out of its words before anything else sees them (invariant 9).

``protect_turn`` is the first thing a turn does after its one read: the utterance is redacted
with the call's tokens (kept on the session), so routing, the rules, the model's prompt, the
turn item, the history, the agent's summary and the logs only ever see ``[CARD_1]``. The raw
value of a tokenized entity leaves here only for the vault, where a tool reads it by token.

The turn's digest (how a redelivery is recognised) is taken over the redacted words with each
token's number dropped: a security code is given a new number each time it is read (it is
never remembered), so a redelivery of "the code is seven three seven" must still match, and no
digest of the raw words (a card number's SHA-256 can be searched for) is ever stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from chalicelib.domain.conversation import Role, TurnRequest, utterance_digest
from chalicelib.domain.redaction import Redaction, RedactionContext, Redactor
from chalicelib.domain.redaction_policy import ANY_LANGUAGE
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.session import Session

TOKEN = re.compile(r"\[([A-Z][A-Z_]*?)_(\d+)\]")


@dataclass(frozen=True)
class ProtectedTurn:
    """The turn as every later step sees it, and what the redaction found."""

    request: TurnRequest  # the utterance redacted, its digest over the redacted words
    redaction: Redaction  # what was found; its state (the call's tokens) is committed with the turn

    @property
    def state(self) -> RedactionState:
        return self.redaction.state

    def vault_items(self) -> dict[str, str]:
        """Token -> raw value of each tokenized entity: what the vault must hold for the tools."""
        return self.redaction.vault_items()


def protect_turn(
    redactor: Redactor,
    request: TurnRequest,
    session: Session | None,
    seq: int | None = None,
    *,
    language: str = ANY_LANGUAGE,
) -> ProtectedTurn:
    """``request`` with its caller data replaced by the call's tokens.

    The context is the turn before ``seq`` (default: the request's own): what the assistant
    said last before it ("What's the security code?") and the caller's words before it (already
    redacted), so "seven three seven" after a request for the code is a security code. A
    redelivery of an answered turn gets the context that turn had, so its words redact the same.
    ``language``: the one the words are read in (``redaction_language``; none: every language).

    Example:
        >>> from chalicelib.domain.conversation import Source
        >>> from chalicelib.domain.redaction_policy import Action, EntityKind, KindRule, RedactionPolicy
        >>> card = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19)
        >>> redactor = Redactor(RedactionPolicy((card,), {}, complete=False), b"0" * 32)
        >>> turn = protect_turn(redactor, TurnRequest("c-1", 2, "card 4111 1111 1111 1111", Source.CONNECT), None)
        >>> turn.request.utterance, turn.vault_items()
        ('card [CARD_1]', {'[CARD_1]': '4111111111111111'})
    """
    state = session.redaction if session is not None and session.redaction.scope else RedactionState(request.contact_id)
    context = _context(session, request.seq if seq is None else seq, language)
    redaction = redactor.redact(request.utterance, state, context)
    protected = replace(request, utterance=redaction.text, digest=turn_digest(redaction.text))
    return ProtectedTurn(protected, redaction)


def redaction_language(session: Session | None, turn_language: str) -> str:
    """The language a turn's words are redacted in: the turn's (``turn_outcome.language_of_turn``)
    when the call was in it already, or when it is the call's first; a turn that switches the
    call's language holds words of both, and is read in every language.

    Example:
        >>> call = replace(Session.new("c-1", 0), language="en-US")
        >>> redaction_language(call, "en-US"), redaction_language(call, "es-US"), redaction_language(None, "es-US")
        ('en-US', '', 'es-US')
    """
    current = session.language if session is not None else None
    return turn_language if current is None or current == turn_language else ANY_LANGUAGE


def turn_digest(redacted: str) -> str:
    """The digest of redacted words, the same whichever number each token was given.

    Example:
        >>> turn_digest("the code is [CVV_1]") == turn_digest("the code is [CVV_2]")
        True
    """
    return utterance_digest(TOKEN.sub(r"[\1]", redacted))


# A card being read out is a context of its own: the caller's previous words set the context of
# the next ones even if the assistant's line between them asked for nothing (a fallback, "sorry,
# could you say that again?"). After a card number, the next words are about the card; after its
# expiry, a bare number is its security code (a caller who just gave the expiry and then says
# "four eight two one" is giving the code: better redacted once too often than stored once).
CONTEXT_AFTER_TOKEN = {"[CARD_": "card", "[EXPIRY_": "card security code"}


def _context(session: Session | None, seq: int, language: str) -> RedactionContext:
    if session is None:
        return RedactionContext(language=language)
    before = [m for m in session.history if m.seq < seq]
    prompt = next((m.text for m in reversed(before) if m.role is Role.ASSISTANT), "")
    previous = next((m.text for m in reversed(before) if m.role is Role.CALLER), "")
    carried = [context for token, context in CONTEXT_AFTER_TOKEN.items() if token in previous]
    if carried:
        prompt = " ".join((prompt, *carried))
    return RedactionContext(prompt=prompt, previous_utterance=previous, language=language)
