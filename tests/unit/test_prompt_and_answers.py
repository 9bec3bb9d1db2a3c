"""The bounded prompt and the checks on a model's answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.model import AnswerProblem, ModelAnswer, ToolCall, answer_problem
from chalicelib.domain.model_replies import spoken_reply
from chalicelib.domain.prompt import build_messages
from chalicelib.domain.session import Session


def test_prompt_keeps_the_last_messages_and_summarises_the_rest() -> None:
    history = tuple(Message(Role.CALLER if i % 2 == 0 else Role.ASSISTANT, f"message {i}", i) for i in range(20))
    session = replace(Session.new("c", 0), history=history, account_number="44719", misunderstandings=1)
    messages = build_messages("be brief", session, "what now", max_history_messages=4, max_message_chars=100)
    assert [m.role for m in messages] == ["system", "system", "user", "assistant", "user", "assistant", "user"]
    assert "ends in 4719" in messages[1].content and "16 earlier message(s)" in messages[1].content
    assert "44719" not in messages[1].content
    assert messages[-1].content == "what now"


def test_prompt_cuts_long_messages() -> None:
    messages = build_messages("s", None, "x" * 5000, max_history_messages=4, max_message_chars=100)
    assert len(messages[-1].content) == 100


def answer(text: str = "", calls: tuple[ToolCall, ...] = (), finish: str = "stop") -> ModelAnswer:
    return ModelAnswer(model="m", text=text, tool_calls=calls, finish_reason=finish)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (answer("Your bill is due on the 14th."), None),
        (answer("   "), AnswerProblem.EMPTY),
        (answer("I'm sorry, but I can't help with that."), AnswerProblem.REFUSED),
        (answer("Something", finish="content_filter"), AnswerProblem.REFUSED),
        (answer("Your bill is due on the", finish="length"), AnswerProblem.TRUNCATED),
        (answer(calls=(ToolCall("1", "", "{}"),)), AnswerProblem.BAD_TOOL_CALL),
        (answer(calls=(ToolCall("1", "lookup", "{not json"),)), AnswerProblem.BAD_TOOL_CALL),
        (answer(calls=(ToolCall("1", "lookup", "[1, 2]"),)), AnswerProblem.BAD_TOOL_CALL),
    ],
)
def test_answer_problems(given: ModelAnswer, problem: AnswerProblem | None) -> None:
    assert answer_problem(given) is problem


def test_a_tool_call_with_json_arguments_is_usable_the_graph_decides_the_rest() -> None:
    assert answer_problem(answer(calls=(ToolCall("1", "transfer_all_funds", '{"to": "x"}'),))) is None


def test_spoken_reply_is_one_line_cut_at_a_sentence() -> None:
    assert spoken_reply("Hello.\n\nHow  are you?", 100) == "Hello. How are you?"
    assert spoken_reply("First sentence. Second sentence is long.", 25) == "First sentence."
