"""What the assistant says when it is not a model speaking: the canned lines, and the safe
answer when a turn cannot be processed.

The lines of a call are a ``Phrases`` value chosen by the call's language (``domain/language``):
each language's come from ``data/languages/<locale>/phrases.json`` (``language_files.load_languages``).
The module constants are the English lines, the default when no language data is given; the
shipped ``en-US`` file says exactly them (a test holds them together).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.conversation import Action, Reply, SpeechPart

GREETING = "Hi, thanks for calling. How can I help you today?"
ANYTHING_ELSE = "Is there anything else I can help you with?"
HANDOVER = "Let me connect you with someone who can help. Please stay on the line."
GOODBYE = "Thanks for calling. Goodbye."
CANNOT_HELP_YET = "I'm sorry, I can't help with that yet. You can say agent at any time to speak with a person."
NOT_UNDERSTOOD_YES_NO = "Sorry, I'm not sure what that refers to. How can I help you today?"
ASK_ACCOUNT_AGAIN = "Sorry about that. Please say your account number again, one digit at a time."
FALLBACK_SAY_AGAIN = "Sorry, I didn't catch that. Could you say it again?"
FALLBACK_TROUBLE = "Sorry, I'm having a little trouble right now. Could you say that again?"
FALLBACK_MODEL = "Sorry, I'm having trouble with that right now. Could you say it another way?"
HOLDING_LINE = "Let me check that for you. It's taking a little longer than usual; bear with me for just a moment."
TOOL_REFUSED = (
    "I'm sorry, that's not something I can do for you here. Say agent and I'll connect you with someone who can help."
)

# How a token the model repeats is spoken: the caller hears what it stands for, never "[CARD_1]"
# (the reply in the history keeps the token, so the model sees its own words next turn).
TOKEN_SPOKEN = {
    "CARD": "the card you gave me", "CVV": "the security code", "EXPIRY": "the expiry date you gave me",
    "SSN": "your social security number", "ROUTING": "the routing number", "BANK_ACCOUNT": "the bank account",
    "DOB": "your date of birth", "PHONE": "the number you gave me", "CALLER_PHONE": "the number you're calling from",
    "EMAIL": "your email address", "NUMBER": "that number",
}  # fmt: skip
_TOKEN = re.compile(r"\[([A-Z][A-Z_]*?)(?:_\d+)?\]")


@dataclass(frozen=True)
class Phrases:
    """Every line the assistant says itself, in one language.

    ``heard_before`` and ``heard_after`` frame the digits read back ("I heard " 4 4 7 1
    ". Is that right?"); ``welcome`` comes before ``anything_else`` after a thanks;
    ``language_switched`` confirms a change of language the caller asked for; ``tokens`` is how
    each caller-data token is spoken (``say_tokens``).
    """

    greeting: str
    anything_else: str
    welcome: str
    handover: str
    goodbye: str
    cannot_help_yet: str
    not_understood_yes_no: str
    ask_account_again: str
    account_noted: str
    what_else: str
    say_account_digits: str
    heard_before: str
    heard_after: str
    fallback_say_again: str
    fallback_trouble: str
    fallback_model: str
    holding_line: str
    tool_refused: str
    language_switched: str
    tokens: tuple[tuple[str, str], ...]
    # Words by which a model's reply asks whether there is anything else (its "no" then ends
    # the call), compared lower case and without accents.
    asks_anything_else: tuple[str, ...] = ("anything else",)

    def token_spoken(self, label: str) -> str | None:
        """How the token ``label`` (``CARD``) is spoken, or None for a label it does not know."""
        return next((spoken for name, spoken in self.tokens if name == label), None)


ENGLISH = Phrases(
    greeting=GREETING,
    anything_else=ANYTHING_ELSE,
    welcome="You're welcome. ",
    handover=HANDOVER,
    goodbye=GOODBYE,
    cannot_help_yet=CANNOT_HELP_YET,
    not_understood_yes_no=NOT_UNDERSTOOD_YES_NO,
    ask_account_again=ASK_ACCOUNT_AGAIN,
    account_noted="Thank you, I've noted that account number. How can I help you with it today?",
    what_else="Sure, what else can I help you with?",
    say_account_digits="Please say the account number one digit at a time.",
    heard_before="I heard ",
    heard_after=". Is that right?",
    fallback_say_again=FALLBACK_SAY_AGAIN,
    fallback_trouble=FALLBACK_TROUBLE,
    fallback_model=FALLBACK_MODEL,
    holding_line=HOLDING_LINE,
    tool_refused=TOOL_REFUSED,
    language_switched="Sure, let's continue in English. How can I help you today?",
    tokens=tuple(sorted(TOKEN_SPOKEN.items())),
)


def say_tokens(text: str, phrases: Phrases = ENGLISH) -> str:
    """``text`` with each caller-data token as the caller should hear it, in ``phrases``' language.

    Example:
        >>> say_tokens("I'll charge [CARD_1] now.")
        "I'll charge the card you gave me now."
    """
    if "[" not in text:
        return text
    return _TOKEN.sub(lambda m: phrases.token_spoken(m.group(1)) or m.group(0), text)


def canned(
    text: str, intent: str, reasons: tuple[str, ...], action: Action = Action.SPEAK, queue: str | None = None
) -> Reply:
    """One canned line as a tier-0 reply."""
    return Reply(action=action, speech=(SpeechPart(text),), intent=intent, tier=0, reasons=reasons, queue=queue)


def fallback_reply(reason: str, *, input_problem: bool, phrases: Phrases = ENGLISH) -> Reply:
    """The safe answer when a turn cannot be processed: ask again, change nothing.

    ``input_problem`` says the caller's input was the problem (empty, garbled) rather than us.
    """
    text = phrases.fallback_say_again if input_problem else phrases.fallback_trouble
    return canned(text, "fallback", (f"fallback:{reason}",))
