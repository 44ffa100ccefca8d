"""Budgets over real HTTP: what the loopback server answered is what was spent."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from helpers import priced
from requestcompletion.llm.budget import MESSAGE_OVERHEAD, max_output, prompt_tokens
from requestcompletion.llm.messages import UserMessage
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

Make = Callable[..., OpenAICompatibleModel]
DOLLARS_PER_TOKEN = 0.001  # the test model's price: $1000 per million tokens, both ways


@pytest.fixture(autouse=True)
def _priced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A price for the test model, only for the test."""
    with priced(monkeypatch, "budget-model", 1000.0):
        yield


def _served_cost(server: FakeLLMServer) -> float:
    return float(sum(i + o for i, o in server.served) * DOLLARS_PER_TOKEN)


async def _fan_out(agent: Any, count: int, refusals: list[rc.BudgetExceededError]) -> int:
    """Run `count` agents at once; keep the refusals in the order they happened."""

    async def one(i: int) -> bool:
        try:
            await rc.call(agent, f"question {i}")
        except rc.BudgetExceededError as error:
            refusals.append(error)
            return False
        return True

    async def many() -> int:
        return sum(await asyncio.gather(*(rc.call(one, i) for i in range(count))))

    return await rc.call(many)


def _agent(http_model: Make, **options: Any) -> Any:
    return rc.agent_node(
        "asker", llm=http_model("budget-model", settings={"max_tokens": 5}), **options
    )


async def test_fifty_parallel_agents_never_overshoot_max_cost(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    for _ in range(50):
        llm_server.text("an answer")  # 7 + 5 tokens each: $0.012
    limit = 0.5
    refusals: list[rc.BudgetExceededError] = []

    async with (
        rc.Runner(
            logging_setting="NONE", save_state=False, budget=rc.Budget(max_cost=limit)
        ) as runner,
        asyncio.timeout(30),
    ):
        info = await runner.run(_fan_out, _agent(http_model), 50, refusals)

    answered = info.answer
    # the server's own tally: what it sent back is what was paid for
    assert len(llm_server.served) == answered == len(llm_server.requests)
    assert 0 < answered < 50
    assert _served_cost(llm_server) <= limit
    # each call reserved its worst case, far more than it used: refusals came early
    worst = (prompt_tokens([UserMessage("question 10")], None, None) + 5) * DOLLARS_PER_TOKEN
    assert answered == math.floor(limit / worst + 1e-9)
    first = refusals[0]
    assert len(refusals) == 50 - answered
    assert (first.limit, first.allowed) == ("max_cost", limit)
    assert first.spent + first.reserved + first.needed > limit
    assert first.reserved > 0  # the calls in flight held the budget, not yet spent
    assert "spent" in str(first) and "reserved by calls in flight" in str(first)
    assert "the run's budget max_cost=0.5" in str(first)
    budget = info.usage["budget"]
    assert budget["limits"] == {"max_cost": limit}
    assert budget["spent"]["cost"] == pytest.approx(_served_cost(llm_server))
    assert budget["spent"]["model_calls"] == answered
    assert budget["reserved"] == {"cost": 0.0, "tokens": 0, "model_calls": 0}


async def test_fifty_parallel_agents_never_overshoot_max_tokens(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    for _ in range(50):
        llm_server.text("an answer")
    limit = 300
    refusals: list[rc.BudgetExceededError] = []

    async with (
        rc.Runner(
            logging_setting="NONE", save_state=False, budget=rc.Budget(max_tokens=limit)
        ) as runner,
        asyncio.timeout(30),
    ):
        info = await runner.run(_fan_out, _agent(http_model), 50, refusals)

    assert 0 < info.answer == len(llm_server.served) < 50
    assert sum(i + o for i, o in llm_server.served) <= limit
    first = refusals[0]
    assert first.limit == "max_tokens" and first.reserved > 0
    assert first.spent + first.reserved + first.needed > limit
    assert info.usage["budget"]["spent"]["tokens"] == sum(i + o for i, o in llm_server.served)


async def test_nested_sub_agents_share_their_parents_budget(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    model = http_model("budget-model", settings={"max_tokens": 5})
    sub = rc.agent_node("helper", llm=model)
    limit = 0.6
    parent = rc.agent_node("boss", llm=model, tool_nodes=[sub], budget=rc.Budget(max_cost=limit))
    llm_server.tool_calls(*[("helper", {"prompt": f"part {i}"}) for i in range(12)])
    for _ in range(13):
        llm_server.text("done")

    async with rc.Runner(logging_setting="NONE", save_state=False) as runner, asyncio.timeout(30):
        with pytest.raises(rc.BudgetExceededError) as caught:  # the boss's last turn
            await runner.run(parent, "split the work")
        info = runner.info

    assert caught.value.spent == pytest.approx(_served_cost(llm_server))
    assert _served_cost(llm_server) <= limit
    helpers = [n for n in info.nodes if n.name == "helper"]
    refused = [n for n in helpers if n.status == "failed"]
    assert len(helpers) == 12 and 0 < len(refused) < 12  # some fitted, the rest did not
    assert all(n.error is not None and n.error.type == "BudgetExceededError" for n in refused)
    assert refused[0].error is not None
    assert "the budget of agent 'boss' (node 0)" in refused[0].error.message
    # the boss's own spending is counted on the same budget, in its node's extras
    report = (info.nodes[0].extras or {})["budget"]
    assert report["spent"]["cost"] == pytest.approx(_served_cost(llm_server))
    assert report["spent"]["nodes"] == 12


async def test_all_nested_budgets_apply(llm_server: FakeLLMServer, http_model: Make) -> None:
    llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    llm_server.text("3")

    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: one
            b: two
        """
        return a + b

    agent = _agent(http_model, tool_nodes=[add], budget=rc.Budget(max_model_calls=10))
    async with (
        rc.Runner(
            logging_setting="NONE", save_state=False, budget=rc.Budget(max_model_calls=2)
        ) as runner,
        asyncio.timeout(30),
    ):
        with pytest.raises(
            rc.BudgetExceededError, match="the run's budget max_model_calls=2"
        ) as caught:
            await runner.run(agent, "add")
    assert len(llm_server.requests) == 2  # the third call was never sent
    assert (caught.value.spent, caught.value.reserved, caught.value.needed) == (2, 0, 1)


async def test_max_model_calls_stops_a_looping_agent(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    for _ in range(5):
        llm_server.tool_calls(("add", {"a": 1, "b": 2}))

    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: one
            b: two
        """
        return a + b

    agent = _agent(http_model, tool_nodes=[add], budget=rc.Budget(max_model_calls=3))
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner, asyncio.timeout(30):
        with pytest.raises(rc.BudgetExceededError) as caught:
            await runner.run(agent, "add forever")
    assert len(llm_server.requests) == 3
    assert caught.value.limit == "max_model_calls"


def test_max_nodes_refuses_the_node_over_the_limit() -> None:
    def leaf(i: int) -> int:
        return i

    refused: list[rc.BudgetExceededError] = []

    def parent() -> list[int]:
        got = []
        for i in range(5):
            try:
                got.append(rc.call_sync(leaf, i))
            except rc.BudgetExceededError as error:
                refused.append(error)
        return got

    with rc.Runner(
        logging_setting="NONE", save_state=False, budget=rc.Budget(max_nodes=3)
    ) as runner:
        info = runner.run_sync(parent)
    assert info.answer == [0, 1]
    assert [(e.limit, e.spent) for e in refused] == [("max_nodes", 3)] * 3
    assert "node 0 ('parent')" in str(refused[0])
    assert len(info.nodes) == 3  # the refused call was never created
    assert info.usage["budget"]["spent"]["nodes"] == 3


async def test_an_unknown_price_under_max_cost_is_an_error_at_the_first_call(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    agent = rc.agent_node("pricey", llm=http_model("no-such-model-9"))
    async with rc.Runner(
        logging_setting="NONE", save_state=False, budget=rc.Budget(max_cost=1.0)
    ) as runner:
        with pytest.raises(rc.ConfigError, match="'no-such-model-9'") as caught:
            await runner.run(agent, "hi")
    assert "register_price('no-such-model-9'" in str(caught.value)
    assert "pricing" in str(caught.value)
    assert llm_server.requests == []


async def test_a_failed_call_releases_its_reservation_and_the_run_is_saved_with_it(
    llm_server: FakeLLMServer, http_model: Make, tmp_path: Any
) -> None:
    llm_server.status(400, message="bad request")
    llm_server.text("fine")
    agent = _agent(http_model)
    budget = rc.Budget(max_cost=1.0, max_tokens=1000)
    async with rc.Runner(
        logging_setting="NONE", state_dir=tmp_path, run_identifier="spent", budget=budget
    ) as runner:
        with pytest.raises(rc.ProviderError):
            await runner.run(agent, "first")
        await runner.run(agent, "second")
    saved = rc.ExecutionInfo.load(tmp_path / "spent.json")
    report = saved.usage["budget"]
    assert report["reserved"] == {"cost": 0.0, "tokens": 0, "model_calls": 0}
    assert report["spent"]["model_calls"] == 1 and report["spent"]["tokens"] == 12
    assert report["spent"]["cost"] == pytest.approx(0.012)
    assert report["limits"] == {"max_cost": 1.0, "max_tokens": 1000}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_cost", -0.01),
        ("max_cost", "1"),
        ("max_cost", math.nan),
        ("max_cost", math.inf),
        ("max_tokens", -1),
        ("max_tokens", 1.5),
        ("max_tokens", "100"),
        ("max_model_calls", True),
        ("max_nodes", -3),
        ("max_nodes", None.__class__),
    ],
)
def test_a_bad_budget_is_a_config_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(rc.ConfigError, match=f"Budget {field} must be") as caught:
        rc.Budget(**{field: value})
    assert repr(value) in str(caught.value)


def test_a_budget_that_is_not_a_budget_is_refused() -> None:
    with pytest.raises(rc.ConfigError, match=r"budget must be an rc\.Budget or None, not 5"):
        rc.ExecutorConfig(budget=5)  # type: ignore[arg-type]
    with pytest.raises(rc.ConfigError, match=r"agent_node\('a'\): budget must be an rc.Budget"):
        rc.agent_node("a", llm=rc.testing.ScriptedModel([]), budget={"max_cost": 1})  # type: ignore[call-overload]


def test_the_worst_case_is_counted_from_the_request() -> None:
    text = "héllo"  # 6 bytes in UTF-8: a token covers at least one byte
    counted = prompt_tokens([UserMessage(text)], None, None)
    assert counted == len('{"role": "user", "content": "héllo"}'.encode()) + MESSAGE_OVERHEAD
    model = OpenAICompatibleModel("m", base_url="http://127.0.0.1:9/v1", settings={"max_tokens": 7})
    assert max_output(model) == 7
    assert max_output(OpenAICompatibleModel("m", base_url="http://127.0.0.1:9/v1")) == 4096
