"""Tool approval: the run's human is asked before a tool runs; a refusal is news for the model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from requestcompletion.human import Question
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

Make = Callable[..., OpenAICompatibleModel]
ran: list[str] = []


def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file
    """
    ran.append(path)
    return f"deleted {path}"


def read_file(path: str) -> str:
    """Read a file.

    Args:
        path: the file
    """
    return f"contents of {path}"


@pytest.fixture(autouse=True)
def _clean() -> None:
    ran.clear()


def _human(answer: str, asked: list[Question]) -> Callable[[Question], str]:
    def human(question: Question) -> str:
        asked.append(question)
        return answer

    return human


@pytest.mark.parametrize("approve", [[delete_file], ["delete_file"], True])
async def test_an_approved_call_runs(
    llm_server: FakeLLMServer, http_model: Make, approve: Any
) -> None:
    llm_server.tool_calls(("delete_file", {"path": "a.txt"}))
    llm_server.text("deleted it")
    agent = rc.agent_node("admin", llm=http_model(), tool_nodes=[delete_file], approve=approve)
    asked: list[Question] = []
    async with (
        rc.Runner(human=_human("yes", asked), save_state=False, logging_setting="NONE") as runner,
        asyncio.timeout(20),
    ):
        info = await runner.run(agent, "delete a.txt")
    assert info.answer.output == "deleted it"
    assert ran == ["a.txt"]
    assert [q.text for q in asked] == [
        'Run tool \'delete_file\' with arguments {"path": "a.txt"}? (yes/no)'
    ]


@pytest.mark.parametrize("end_on_error", [False, True])
async def test_a_refusal_goes_back_to_the_model_and_never_ends_the_run(
    llm_server: FakeLLMServer, http_model: Make, end_on_error: bool
) -> None:
    llm_server.tool_calls(("delete_file", {"path": "a.txt"}), ("read_file", {"path": "b.txt"}))
    llm_server.text("I was not allowed to delete it; b.txt reads fine")
    agent = rc.agent_node(
        "admin", llm=http_model(), tool_nodes=[delete_file, read_file], approve=[delete_file]
    )
    asked: list[Question] = []
    async with (
        rc.Runner(
            human=_human("no", asked),
            save_state=False,
            logging_setting="NONE",
            end_on_error=end_on_error,
        ) as runner,
        asyncio.timeout(20),
    ):
        info = await runner.run(agent, "delete a.txt, read b.txt")
    assert runner.info.outcome == "succeeded"
    assert info.answer.output == "I was not allowed to delete it; b.txt reads fine"
    assert ran == []  # refused: never ran
    assert len(asked) == 1  # read_file needs no approval
    told = llm_server.requests[1].body["messages"][2:]
    assert told[0]["content"].startswith("Error: the human declined to run tool 'delete_file'")
    assert told[1]["content"] == "contents of b.txt"
    assert [n.name for n in info.nodes] == ["admin", "read_file"]


def test_approve_must_name_the_agents_tools() -> None:
    model = rc.testing.ScriptedModel([])
    with pytest.raises(rc.NodeCreationError, match=r"approve names 'rm'.*read_file"):
        rc.agent_node("a", llm=model, tool_nodes=[read_file], approve=["rm"])
    with pytest.raises(rc.NodeCreationError, match="approve must be True, False or a list"):
        rc.agent_node("a", llm=model, tool_nodes=[read_file], approve="read_file")
