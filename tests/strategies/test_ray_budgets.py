"""Budgets count agents whose model calls leave from a Ray worker (to the loopback server).

The worker processes run in the same loopback-only namespace as the test, so they
reach the session's server on 127.0.0.1; what it served is what was spent. The
model's price is registered on the driver only: the driver prices remote calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

import agent_nodes  # noqa: E402
from workflows import quiet  # noqa: E402

import requestcompletion as rc  # noqa: E402
from fake_llm_server import FakeLLMServer  # noqa: E402
from helpers import priced  # noqa: E402
from requestcompletion.llm.budget import prompt_tokens  # noqa: E402
from requestcompletion.llm.messages import UserMessage  # noqa: E402
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel  # noqa: E402

pytestmark = pytest.mark.ray

DOLLARS_PER_TOKEN = 0.001  # $1000 per million tokens, both ways: on the driver only
WIDE = 12  # remote agents at once


@pytest.fixture(autouse=True)
def _priced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with priced(monkeypatch, "budget-model", 1000.0):
        yield


def model(server: FakeLLMServer) -> OpenAICompatibleModel:
    return agent_nodes.model(server, "budget-model", settings={"max_tokens": 5})


def remote_agent(server: FakeLLMServer, **options: Any) -> Any:
    """An agent run on a Ray worker: its model calls leave from there."""
    return rc.agent_node("asker", llm=model(server), mode="distributed", **options)


async def _fan_out(agent: Any, count: int) -> list[Any]:
    return await rc.batch(agent, [f"question {i}" for i in range(count)])


def _served_cost(server: FakeLLMServer) -> float:
    return float(sum(i + o for i, o in server.served) * DOLLARS_PER_TOKEN)


def _refusals(answers: list[Any]) -> list[rc.BudgetExceededError]:
    return [a for a in answers if isinstance(a, rc.BudgetExceededError)]


def test_a_batch_of_remote_agents_never_overshoots_max_model_calls(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    for _ in range(WIDE):
        llm_server.text("an answer")
    with quiet(budget=rc.Budget(max_model_calls=5)) as runner:
        answers = runner.run_sync(_fan_out, remote_agent(llm_server), WIDE).answer
        usage = runner.info.usage["budget"]
    assert len(llm_server.requests) == 5  # the server's own count
    refused = _refusals(answers)
    assert len(refused) == WIDE - 5
    first = refused[0]
    assert (first.limit, first.allowed, first.needed) == ("max_model_calls", 5, 1)
    assert first.spent + first.reserved == 5
    assert "the run's budget max_model_calls=5" in str(first)
    assert "agent 'asker'" in str(first)
    assert usage["spent"]["model_calls"] == 5 and usage["reserved"]["model_calls"] == 0


def test_remote_agents_under_max_cost_are_priced_on_the_driver(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    for _ in range(WIDE):
        llm_server.text("an answer")  # 7 + 5 tokens: $0.012
    limit = 0.1
    with quiet(budget=rc.Budget(max_cost=limit)) as runner:
        answers = runner.run_sync(_fan_out, remote_agent(llm_server), WIDE).answer
        usage = runner.info.usage["budget"]
    answered = WIDE - len(_refusals(answers))
    assert answered == len(llm_server.served) == len(llm_server.requests)
    assert _served_cost(llm_server) <= limit
    # a call reserves its worst case (about 5 times what it uses) until it settles
    worst = (prompt_tokens([UserMessage("question 10")], None, None) + 5) * DOLLARS_PER_TOKEN
    assert worst > 4 * 0.012 and 0 < answered < WIDE
    first = _refusals(answers)[0]
    assert first.limit == "max_cost" and first.spent + first.reserved + first.needed > limit
    assert usage["spent"]["cost"] == pytest.approx(_served_cost(llm_server))
    assert usage["reserved"]["cost"] == 0


def test_remote_sub_agents_share_their_local_parents_budget(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    helper = rc.agent_node("helper", llm=model(llm_server), mode="distributed")
    boss = rc.agent_node(
        "boss", llm=model(llm_server), tool_nodes=[helper], budget=rc.Budget(max_model_calls=4)
    )
    llm_server.tool_calls(*[("helper", {"prompt": f"part {i}"}) for i in range(6)])
    for _ in range(6):
        llm_server.text("done")

    async def main() -> rc.ExecutionInfo:
        async with quiet() as runner, asyncio.timeout(60):
            with pytest.raises(rc.BudgetExceededError, match="the budget of agent 'boss'"):
                await runner.run(boss, "split the work")  # its next turn is refused
            return runner.info

    info = asyncio.run(main())
    assert len(llm_server.requests) == 4  # the boss's turn and three helpers, no more
    helpers = [n for n in info.nodes if n.name == "helper"]
    refused = [n for n in helpers if n.status == "failed"]
    assert len(helpers) == 6 and len(refused) == 3
    assert all(n.error is not None and n.error.type == "BudgetExceededError" for n in refused)
    report = (info.nodes[0].extras or {})["budget"]
    assert report["spent"]["model_calls"] == 4 and report["reserved"]["model_calls"] == 0


def test_a_remote_agents_own_budget_covers_it_on_the_driver(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: one
            b: two
        """
        return a + b

    for _ in range(3):
        llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    agent = remote_agent(llm_server, tool_nodes=[add], budget=rc.Budget(max_model_calls=2))
    with quiet() as runner, pytest.raises(rc.BudgetExceededError) as caught:
        runner.run_sync(agent, "add")
    assert len(llm_server.requests) == 2  # the third call never left the worker
    assert "the budget of agent 'asker'" in str(caught.value)
    assert (caught.value.spent, caught.value.reserved, caught.value.needed) == (2, 0, 1)


def test_a_failed_remote_call_releases_its_reservation(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    llm_server.status(500)
    with quiet(budget=rc.Budget(max_model_calls=1)) as runner:
        with pytest.raises(rc.errors.LLMError):
            runner.run_sync(remote_agent(llm_server), "fail")
        usage = runner.info.usage["budget"]
        assert usage["reserved"]["model_calls"] == 0 and usage["spent"]["model_calls"] == 0
        llm_server.text("an answer")  # the one call allowed is still there to make
        assert runner.run_sync(remote_agent(llm_server), "again").answer.output == "an answer"
    assert len(llm_server.requests) == 2
