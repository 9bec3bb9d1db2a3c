"""Caller data out of caller text, before the text reaches any sink (invariant 9).

``Redactor.redact`` takes one utterance as the caller said it or as ASR wrote it, the call's
``RedactionState`` and a ``RedactionContext`` (what was said in the previous turn), and returns
the text with each entity replaced by its token, the entities found, and the state to keep on
the session::

    "my card is four one one one, one one one one, one one one one, one one one one"
    -> "my card is [CARD_1]"        entities: card [CARD_1] value "4111111111111111"

What happens to each kind is the policy's (``redaction.json``): ``redact`` (replaced; the value
is not returned), ``tokenize`` (replaced; the value is returned, for the vault a tool reads by
token), ``keep`` (left in the text, reported). Pure: the same text, state and context give the
same result; the fingerprint key is the deployment's secret, passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.redaction_finder import Found, Scene, find_entities
from chalicelib.domain.redaction_policy import ANY_LANGUAGE, Action, EntityKind, Reading, RedactionPolicy
from chalicelib.domain.redaction_state import RedactionState, TokenBook
from chalicelib.domain.spoken_numbers import NUM, OTHER, SEP, WORD, Token
from chalicelib.errors import ConfigurationInvalidError

MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class RedactionContext:
    """What was said in the previous turn (a card asked for there makes a card context here),
    and the language the words are read in."""

    prompt: str = ""  # what the assistant said just before ("What's the security code?")
    previous_utterance: str = ""  # the caller's previous turn, as redacted
    language: str = ANY_LANGUAGE  # the call's ("es-US"); none: every language the policy reads


NO_CONTEXT = RedactionContext()


@dataclass(frozen=True)
class Entity:
    """One piece of caller data found: its kind, token, value and span in the original text."""

    kind: EntityKind
    action: Action
    token: str  # "[CARD_1]"; "" when kept
    value: str | None  # normalised ("4111111111111111", "+12125550142"); None when redacted
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    text: str  # safe for any sink
    entities: tuple[Entity, ...]
    state: RedactionState  # to keep on the session for the next turn

    @property
    def holds_data(self) -> bool:
        """Whether the text held caller data the policy does not keep (redacted or tokenized)."""
        return any(e.action is not Action.KEEP for e in self.entities)

    def vault_items(self) -> dict[str, str]:
        """Token -> raw value of each tokenized entity: what the vault stores for the tools.

        Example:
            >>> Redaction("[CARD_1]", (Entity(EntityKind.CARD, Action.TOKENIZE, "[CARD_1]", "4111111111111111",
            ...     0, 19),), RedactionState()).vault_items()
            {'[CARD_1]': '4111111111111111'}
        """
        return {e.token: e.value for e in self.entities if e.action is Action.TOKENIZE and e.value is not None}


@dataclass(frozen=True)
class Redactor:
    """The policy and the fingerprint key, built once per container.

    Example:
        >>> from chalicelib.domain.redaction_policy import KindRule
        >>> card = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19)
        >>> redactor = Redactor(RedactionPolicy((card,), {}, complete=False), b"0" * 32)
        >>> first = redactor.redact("card 4111 1111 1111 1111", RedactionState("contact-1"))
        >>> first.text, redactor.redact("again 4111111111111111", first.state).text
        ('card [CARD_1]', 'again [CARD_1]')
    """

    policy: RedactionPolicy
    fingerprint_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.fingerprint_key) < MIN_KEY_BYTES:
            raise ConfigurationInvalidError(f"redaction fingerprint key: at least {MIN_KEY_BYTES} bytes")

    def redact(self, text: str, state: RedactionState, context: RedactionContext = NO_CONTEXT) -> Redaction:
        """``text`` with each entity the policy does not keep replaced by its token.

        Args:
            text: one utterance (or any caller text: a summary line, a transcript segment).
            state: the call's tokens so far (``RedactionState(scope=contact_id)`` on turn one).
            context: the previous turn, for the kinds that need a context (codes, expiry, SSN,
                bank details, dates of birth).

        Returns:
            The redacted text, the entities in text order and the state with any new tokens.
        """
        found = self._found(text, context)
        if not found:
            return Redaction(text, (), state)
        book = TokenBook(state, self.fingerprint_key)
        parts: list[str] = []
        entities: list[Entity] = []
        at = 0
        for item in found:
            rule = item.rule
            if item.start < at:
                continue
            if rule.action is Action.KEEP:
                entities.append(Entity(rule.kind, rule.action, "", item.value, item.start, item.end))
                continue
            token = book.token(rule.kind.value, rule.label, item.value, remember=rule.remember)
            parts += (text[at : item.start], token)
            at = item.end
            value = item.value if rule.action is Action.TOKENIZE else None
            entities.append(Entity(rule.kind, rule.action, token, value, item.start, item.end))
        parts.append(text[at:])
        return Redaction("".join(parts), tuple(entities), book.state())

    def scrub(self, text: str, context: RedactionContext = NO_CONTEXT) -> str:
        """``text`` with each entity the policy does not keep replaced by its bare label, with no
        call state: for text that has no session to number its tokens (a tool's result, a log
        line, a transcript segment, a report). A value scrubbed is never returned.

        Example:
            >>> from chalicelib.domain.redaction_policy import KindRule
            >>> card = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19)
            >>> Redactor(RedactionPolicy((card,), {}, complete=False), b"0" * 32).scrub("card 4111111111111111")
            'card [CARD]'
        """
        found = self._found(text, context)
        if not found:
            return text
        parts: list[str] = []
        at = 0
        for item in found:
            if item.start < at or item.rule.action is Action.KEEP:
                continue
            parts += (text[at : item.start], f"[{item.rule.label}]")
            at = item.end
        parts.append(text[at:])
        return "".join(parts)

    def _found(self, text: str, context: RedactionContext) -> list[Found]:
        """The entities in ``text``, read in the context's language."""
        policy = self.policy
        reading = policy.reading(context.language)
        tokens = reading.tokens(text)
        if not _may_hold_data(tokens, reading):
            return []
        hits = policy.cues_in(tokens, reading)
        present = frozenset(h.context for h in hits)
        present |= policy.contexts_in(context.prompt, context.previous_utterance, language=context.language)
        return find_entities(tokens, Scene(policy, hits, present, reading.digits, reading.email, reading.dates))


def _may_hold_data(tokens: list[Token], reading: Reading) -> bool:
    """Whether any token could start an entity: a numeral, a number word, "at" ("arroba") or "@"."""
    hints = reading.hints
    for tok in tokens:
        if tok.kind == NUM or (tok.kind == WORD and tok.text.partition("-")[0] in hints):
            return True
        if (tok.kind == SEP and tok.text == "@") or (tok.kind == OTHER and tok.text[-1] in "tdh"):
            return True
    return False
