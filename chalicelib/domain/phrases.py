"""What the assistant says when it is not a model speaking: the canned lines, and the safe
answer when a turn cannot be processed."""

from __future__ import annotations

import re

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


def say_tokens(text: str) -> str:
    """``text`` with each caller-data token as the caller should hear it.

    Example:
        >>> say_tokens("I'll charge [CARD_1] now.")
        "I'll charge the card you gave me now."
    """
    if "[" not in text:
        return text
    return _TOKEN.sub(lambda m: TOKEN_SPOKEN.get(m.group(1), m.group(0)), text)


def canned(
    text: str, intent: str, reasons: tuple[str, ...], action: Action = Action.SPEAK, queue: str | None = None
) -> Reply:
    """One canned line as a tier-0 reply."""
    return Reply(action=action, speech=(SpeechPart(text),), intent=intent, tier=0, reasons=reasons, queue=queue)


def fallback_reply(reason: str, *, input_problem: bool) -> Reply:
    """The safe answer when a turn cannot be processed: ask again, change nothing.

    ``input_problem`` says the caller's input was the problem (empty, garbled) rather than us.
    """
    return canned(FALLBACK_SAY_AGAIN if input_problem else FALLBACK_TROUBLE, "fallback", (f"fallback:{reason}",))
