"""The bounded context sent to a model: instructions, a short summary, the last N messages.

The session's history is already capped; the prompt takes fewer still, and cuts long messages,
so the prompt's size (and cost, and time to first token) does not grow with the call.
"""

from __future__ import annotations

from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.model import ChatMessage, estimate_tokens
from chalicelib.domain.session import Session


def build_messages(
    system_prompt: str,
    session: Session | None,
    utterance: str,
    *,
    max_history_messages: int,
    max_message_chars: int,
) -> tuple[ChatMessage, ...]:
    """System prompt + summary of what is known + the newest history + the caller's words."""
    history = session.history if session else ()
    recent = history[-max_history_messages:] if max_history_messages > 0 else ()
    messages = [ChatMessage("system", system_prompt)]
    summary = _summary(session, omitted=len(history) - len(recent))
    if summary:
        messages.append(ChatMessage("system", summary))
    for message in recent:
        role = "user" if message.role == "caller" else "assistant"
        messages.append(ChatMessage(role, _cut(message.text, max_message_chars)))
    messages.append(ChatMessage("user", _cut(utterance, max_message_chars)))
    return tuple(messages)


def _summary(session: Session | None, omitted: int) -> str:
    if session is None:
        return ""
    facts: list[str] = []
    if session.account_number:
        facts.append(f"The caller's account number (confirmed) ends in {session.account_number[-4:]}.")
    if session.misunderstandings:
        facts.append(f"The last {session.misunderstandings} caller turn(s) were not understood.")
    if session.negative_sentiment:
        facts.append("The caller sounds unhappy so far; acknowledge it briefly.")
    for fact in session.tool_facts:
        facts.append(f"Earlier in this call, tool {fact.tool} returned: {fact.result_json}")
    if omitted > 0:
        facts.append(f"{omitted} earlier message(s) of this call are not shown.")
    return ("Call summary: " + " ".join(facts)) if facts else ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def baseline_tokens(
    policy: DialoguePolicy, session: Session | None, utterance: str, reply_text: str, locale: str | None = None
) -> tuple[int, int]:
    """The cost baseline of a turn: the tokens a large-model call would have used for it, the
    prompt it would have been sent (in the call's language, ``locale``) and a reply as long as
    the one given (input, output)."""
    messages = build_messages(
        policy.prompt_for(locale), session, utterance,
        max_history_messages=policy.max_history_messages, max_message_chars=policy.max_message_chars,
    )  # fmt: skip
    return estimate_tokens("".join(m.content for m in messages)) + 4 * len(messages), estimate_tokens(reply_text)
