"""The dialogue's policy: how long the history is, when repeated misunderstanding hands over,
the model's instructions and prompt bounds, the longest reply, where handovers go, and the
languages the assistant speaks.

The turn is decided by ``rule_replies`` (tier 0) or ``model_replies`` (a model answered), both
under this policy; ``redelivery`` says which turn a delivery is.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.handover import TOPIC_PATTERNS, HandoverPolicy, TopicPatterns
from chalicelib.domain.language import ONLY_ENGLISH, Language, Languages

DEFAULT_SYSTEM_PROMPT = "You are a phone agent for a contact center. Answer in one or two short spoken sentences."


@dataclass(frozen=True)
class DialoguePolicy:
    history_limit: int = 24
    misunderstandings_before_handover: int = 3
    default_queue: str = "GeneralSupport"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_history_messages: int = 8
    max_message_chars: int = 600
    # Longest reply we speak (Lex messages stop at 1,024 characters of SSML).
    max_reply_chars: int = 600
    # Human-only topics and the queue per reason or topic (handover.json); None: every
    # handover goes to ``default_queue`` and no topic is human-only.
    handover: HandoverPolicy | None = None
    # The languages the stage speaks (``data/languages/``): each one's lines, voice and model
    # instruction; the call's language picks one (``domain/language``).
    languages: Languages = ONLY_ENGLISH

    def language(self, locale: str | None) -> Language:
        """The language ``locale`` names, or the stage's default."""
        return self.languages.get(locale)

    def prompt_for(self, locale: str | None) -> str:
        """The system prompt of a call in ``locale``: the shared one, then "Answer in Spanish."."""
        return self.language(locale).system_prompt(self.system_prompt)

    def queue_for(self, reason: str, topic: str | None = None, language: str | None = None) -> str:
        """The queue a handover of ``reason`` (about ``topic``) goes to, in ``language``'s
        variant when ``handover.json`` has one (None: the queue as configured)."""
        return self.handover.queue_for(reason, topic, language) if self.handover is not None else self.default_queue

    def queue_in(self, queue: str, language: str | None) -> str:
        """``queue``'s variant for ``language`` (``FraudTeamSpanish``), or ``queue`` itself."""
        return self.handover.queue_in(queue, language) if self.handover is not None else queue

    @property
    def human_only_topics(self) -> tuple[str, ...]:
        return self.handover.human_only_topics if self.handover is not None else ()

    def topic_patterns_for(self, language: str | None) -> TopicPatterns:
        """The words that name each human-only topic in ``language`` (English by default)."""
        return self.handover.topic_patterns_for(language) if self.handover is not None else TOPIC_PATTERNS
