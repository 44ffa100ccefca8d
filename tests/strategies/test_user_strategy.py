"""A strategy written by a user, plugged in through the public API (docs/strategies.md).

The scenario suite also runs over the docs' `PoolStrategy` (see test_scenarios.py);
these tests cover the seam itself: the docs program, how modes are named, merged,
checked and shut down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from workflows import quiet

import requestcompletion as rc
from helpers import docs_code, leftovers
from requestcompletion.execution import (
    AsyncioExecutionStrategy,
    DistributedExecutionStrategy,
    ThreadedExecutionStrategy,
)


class Recording(rc.ExecutionStrategy):
    """Runs nodes as the built-ins would, and remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int | None]] = []
        self.shutdowns = 0

    def execute(self, task: Any) -> Awaitable[Any]:
        self.seen.append((task.spec.name, task.id, task.parent_id))
        if task.spec.is_async:
            return task.work  # type: ignore[no-any-return]
        return asyncio.to_thread(task.work)

    def shutdown(self) -> None:
        self.shutdowns += 1


async def child(x: int) -> int:
    return x + 1


class OnGpu(rc.Node[int]):
    execution_mode = "gpu"

    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> int:
        return await rc.call(child, self.x) * 10


def test_the_docs_program_runs_on_a_process_pool(tmp_path: Path) -> None:
    program = tmp_path / "pool_example.py"
    program.write_text(docs_code("strategies.md"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "answer: {10: 4, 100: 25, 1000: 168}" in done.stdout
    assert "('survey', 'succeeded', None)" in done.stdout
    assert done.stdout.count("('count_primes', 'succeeded', 0)") == 3
    assert "'asyncio', 'threads', 'distributed', 'cpu'" in done.stdout


def test_a_user_mode_runs_its_nodes_in_the_graph_like_any_other() -> None:
    gpu = Recording()
    with quiet(execution_modes={"gpu": gpu}) as runner:
        assert runner.run_sync(OnGpu, 4).answer == 50
    assert gpu.seen == [("OnGpu", 0, None)]  # the child runs inline, on the asyncio default
    nodes = runner.info.nodes
    assert [(n.name, n.status, n.parent_id) for n in nodes] == [
        ("OnGpu", "succeeded", None),
        ("child", "succeeded", 0),
    ]
    assert gpu.shutdowns == 1
    assert leftovers() == []


def test_a_default_mode_sends_every_node_without_one_to_that_strategy() -> None:
    everywhere = Recording()
    with quiet(execution_modes={"mine": everywhere}, execution_mode="mine") as runner:
        assert runner.run_sync(child, 1).answer == 2
    assert everywhere.seen == [("child", 0, None)]


def test_an_unknown_mode_fails_at_call_time_listing_the_runners_modes() -> None:
    Gpu = rc.function_node(child, mode="gpu")  # naming it is fine: modes are plain strings
    with (
        quiet(execution_modes={"cpu": Recording()}) as runner,
        pytest.raises(rc.ConfigError) as caught,
    ):
        runner.run_sync(Gpu, 1)
    message = str(caught.value)
    assert "'gpu'" in message
    assert "'asyncio', 'threads', 'distributed', 'cpu'" in message
    assert "execution_modes" in message  # says what to do
    assert runner.info.nodes[0].status == "failed"  # recorded like any failure
    with quiet(execution_mode="nowhere") as runner, pytest.raises(rc.ConfigError, match="nowhere"):
        runner.run_sync(child, 1)


def test_a_user_strategy_replaces_a_built_in_of_the_same_name() -> None:
    mine = Recording()

    def blocking(x: int) -> int:
        return x * 3

    with quiet(execution_modes={"threads": mine}) as runner:
        assert runner.run_sync(blocking, 2).answer == 6
    assert mine.seen == [("blocking", 0, None)]


@pytest.mark.parametrize(
    ("modes", "match"),
    [
        ([("gpu", Recording())], "must map mode names"),
        ({"": Recording()}, "non-empty string"),
        ({"gpu": Recording}, r"an instance, not the class"),
        ({"gpu": object()}, "must be an rc.ExecutionStrategy"),
    ],
)
def test_bad_execution_modes_fail_at_construction(modes: Any, match: str) -> None:
    with pytest.raises(rc.ConfigError, match=match):
        rc.Runner(execution_modes=modes)


def test_a_strategy_must_implement_execute() -> None:
    class Nothing(rc.ExecutionStrategy):
        pass

    with pytest.raises(TypeError, match="execute"):
        Nothing()  # type: ignore[abstract]


def test_the_built_ins_carry_the_seeds_names() -> None:
    assert AsyncioExecutionStrategy.name == "asyncio"
    assert ThreadedExecutionStrategy.name == "threads"
    assert DistributedExecutionStrategy.name == "distributed"
    assert issubclass(DistributedExecutionStrategy, rc.ExecutionStrategy)
    with pytest.deprecated_call(match="AsyncioExecutionStrategy"):
        from requestcompletion.execution import AsyncioStrategy
    assert AsyncioStrategy is AsyncioExecutionStrategy


def test_node_options_are_keyed_by_mode() -> None:
    Gpu = rc.function_node(child, mode="gpu", execution_options={"gpu": {"device": 1}})

    class Options(Recording):
        def execute(self, task: Any) -> Awaitable[Any]:
            self.seen.append(task.spec.options.get("gpu"))  # type: ignore[arg-type]
            return super().execute(task)

    gpu = Options()
    with quiet(execution_modes={"gpu": gpu}) as runner:
        runner.run_sync(Gpu, 1)
    assert gpu.seen[0] == {"device": 1}
    with pytest.raises(rc.NodeCreationError, match="execution_options must map"):
        rc.function_node(child, execution_options={"gpu": 1})  # type: ignore[dict-item]


def test_a_strategy_gets_a_frozen_task_and_a_driver_to_call_back() -> None:
    """A strategy that runs the node "elsewhere" relays its calls and items through the driver."""

    class Elsewhere(rc.ExecutionStrategy):
        def __init__(self) -> None:
            self.tasks: list[Any] = []

        async def execute(self, task: Any) -> Any:
            self.tasks.append(task)
            task.work.close()  # run "remotely" instead: only through the driver
            task.driver.stream(f"started {task.spec.name}")
            task.driver.variables["seen"] = task.kwargs["x"]
            return await task.driver.call(child, (task.kwargs["x"],), None) * 100

    async def far(x: int) -> int:
        raise AssertionError("the prepared coroutine must not run")

    Far = rc.function_node(far, mode="far")
    items: list[Any] = []
    strategy = Elsewhere()
    with quiet(execution_modes={"far": strategy}, subscriber=items.append) as runner:
        assert runner.run_sync(Far, x=2).answer == 300
        assert rc.context.get("seen") == 2
    task = strategy.tasks[0]
    assert (task.id, task.parent_id, task.args) == (0, None, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.work = None
    with pytest.raises(TypeError):
        task.kwargs["x"] = 3  # read-only: the record's own dict is the coordinator's
    assert items == ["started far"]
    assert [(n.name, n.status, n.parent_id) for n in runner.info.nodes] == [
        ("far", "succeeded", None),
        ("child", "succeeded", 0),
    ]
