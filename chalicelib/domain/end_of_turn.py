"""How long Lex should wait after the caller's last word: the end of turn that fits the question.

Lex hands us a turn only after a fixed silence (its end timeout, 600 ms by default), and that
silence is the whole latency of a rules turn. It need not be fixed: after "Is that right?" the
caller says "yes" and stops, so a short silence is enough; while reading an account number the
caller pauses between groups of digits, so a longer one keeps the number in one turn. What the
bot is listening for is read from the reply it just gave — its last question (or, without one,
its last sentence) — with the cue words of the reply's language:

- ``yes_no``: a confirmation ("..., is that right?") or a question opening with a yes/no word
  ("Shall I take the payment now?"), unless it offers alternatives ("... or ...") or invites a
  new request ("Is there anything else I can help you with?": callers answer it as often with a
  new request as with "no"; those are ``open``);
- ``digits``: a short code (last four digits, a ZIP code, a PIN, a security code);
- ``long_number``: a long number the caller reads out (account, card, phone number);
- ``open``: anything else, the greeting among them; and any reply after which Lex does not listen
  (a handover, the end of the call).

The cue words and the timeouts are data (``chalicelib/data/end_of_turn.json``, by language); this
module holds no word of any language. Matching is on whole words of the prompt, lower-cased with
its punctuation dropped; a number already in the prompt (three or more digits, or a caller-data
token such as ``[CARD_1]``) makes a yes/no question a read-back to confirm, whatever it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.conversation import Action, Reply

# Lex V2's and Connect's documented end timeout: what an answer carries when the shipped policy
# cannot be read (the container refuses to start on it, and the safe answer still answers).
LEX_DEFAULT_END_TIMEOUT_MS = 600


class Listening(StrEnum):
    """What the caller is expected to say next."""

    OPEN = "open"
    YES_NO = "yes_no"
    DIGITS = "digits"
    LONG_NUMBER = "long_number"


# Sentences end at . ? ! (and their full-width forms); a question is one that holds a "?".
_SENTENCE_END = re.compile(r"(?<=[.?!。？！])\s+")
_QUESTION_MARKS = ("?", "？")
# A value already said back to the caller: three or more digits, or a caller-data token.
_VALUE = re.compile(r"\d{3,}|\[[A-Z][A-Z_]*_\d+\]")
_NOT_WORD = re.compile(r"[^\w']+")
_CLAUSE_END = re.compile(r"[,;:]")


def phrase(text: str) -> str:
    """``text`` as the matcher reads it: lower-case words, single spaces, no punctuation.

    Example:
        >>> phrase("Is that right?")
        'is that right'
    """
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("’", "'")).split())


@dataclass(frozen=True)
class ListeningCues:
    """One language's cue phrases, each matched as whole words of the prompt (see ``phrase``).

    Attributes:
        confirmations: a tag that asks to confirm what was just said ("is that right").
        yes_no_openers: how a yes/no question opens ("shall i", "is", "do you").
        lead_ins: words a question may open with before its opener ("and", "so", "okay").
        alternatives: words that offer a choice ("or"): "Is it A or B?" is no yes/no question.
        invitations: a yes/no question answered as often with a new request ("anything else").
        digits: what names a short code (last four digits, ZIP code, PIN, security code).
        long_number: what names a long number (account, card, phone number).
    """

    confirmations: tuple[str, ...]
    yes_no_openers: tuple[str, ...]
    lead_ins: tuple[str, ...]
    alternatives: tuple[str, ...]
    invitations: tuple[str, ...]
    digits: tuple[str, ...]
    long_number: tuple[str, ...]


@dataclass(frozen=True)
class EndOfTurnPolicy:
    """The end timeout for each kind of answer, and each language's cues.

    Attributes:
        timeouts_ms: the silence (ms) Lex waits after the caller's last word, per ``Listening``.
        cues: language (``en-US``) -> its cue phrases.
        default_language: the language of a turn that names none (a malformed event's).
    """

    timeouts_ms: Mapping[Listening, int]
    cues: Mapping[str, ListeningCues]
    default_language: str

    def listening_for(self, reply: Reply, language: str | None = None) -> Listening:
        """What the caller is expected to say after ``reply``.

        A reply after which Lex does not listen (handover, end) and a language without cues
        are ``open``.

        Example:
            The policy shipped in ``end_of_turn.json``, after a read-back::

                policy.listening_for(Reply(Action.SPEAK, (SpeechPart("I heard 4471. Is that right?"),), "x"))
                # Listening.YES_NO
        """
        if reply.action is not Action.SPEAK:
            return Listening.OPEN
        cues = self.cues.get(language_key(language or self.default_language))
        if cues is None:
            return Listening.OPEN
        return listening_in(prompt_of(reply.text), cues)

    def end_timeout_ms(self, reply: Reply, language: str | None = None) -> int:
        """The end timeout (ms) Lex should use while the caller answers ``reply``."""
        return self.timeouts_ms[self.listening_for(reply, language)]

    def end_timeout_after(self, said: str, language: str | None = None) -> int:
        """The end timeout (ms) in force while the caller answers what the bot ``said`` (the
        text of a reply it spoke: the transcriber reads it from the session)."""
        cues = self.cues.get(language_key(language or self.default_language))
        listening = listening_in(prompt_of(said), cues) if cues is not None and said.strip() else Listening.OPEN
        return self.timeouts_ms[listening]


def language_key(language: str) -> str:
    """A locale as the cues are keyed: Lex's ``en_US`` and Connect's ``en-US`` are ``en-US``."""
    return language.replace("_", "-")


def prompt_of(text: str) -> str:
    """The part of a reply the caller answers: its last question, or its last sentence.

    Example:
        >>> prompt_of("Thanks, Priya. What's the card number? Take your time.")
        "What's the card number?"
    """
    sentences = [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    if not sentences:
        return ""
    questions = [s for s in sentences if any(mark in s for mark in _QUESTION_MARKS)]
    return questions[-1] if questions else sentences[-1]


def listening_in(prompt: str, cues: ListeningCues) -> Listening:
    """What the caller is expected to say after ``prompt`` (one question or sentence).

    In this order: a confirmation tag, or a yes/no question reading a value back, is ``yes_no``;
    a short code is ``digits``; a long number is ``long_number``; an invitation to a new request
    is ``open``; any other question opening with a yes/no word and offering no alternatives is
    ``yes_no``; anything else is ``open``.
    """
    words = f" {phrase(prompt)} "
    if _holds(words, cues.confirmations):
        return Listening.YES_NO
    yes_no = _opens_yes_no(prompt, cues) and not _holds(words, cues.alternatives)
    if yes_no and _VALUE.search(prompt):
        return Listening.YES_NO
    if _holds(words, cues.digits):
        return Listening.DIGITS
    if _holds(words, cues.long_number):
        return Listening.LONG_NUMBER
    if _holds(words, cues.invitations):
        return Listening.OPEN
    return Listening.YES_NO if yes_no else Listening.OPEN


def _holds(words: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {p} " in words for p in phrases)


def _opens_yes_no(prompt: str, cues: ListeningCues) -> bool:
    """True when a clause of ``prompt`` opens with a yes/no opener (after any lead-in words)."""
    for clause in _CLAUSE_END.split(prompt):
        words = phrase(clause).split()
        while words and words[0] in cues.lead_ins:
            words = words[1:]
        opening = f" {' '.join(words)} "
        if any(opening.startswith(f" {opener} ") for opener in cues.yes_no_openers):
            return True
    return False
