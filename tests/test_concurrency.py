"""Thread nodes, execution modes and max_concurrency (issue 5, local strategies)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import requestcompletion as rc
from helpers import leftovers


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


class Gauge:
    """Counts how many nodes run their own code at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def test_max_concurrency_never_lets_an_eleventh_node_run() -> None:
    gauge = Gauge()

    async def work(i: int) -> int:
        gauge.enter()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        gauge.leave()
        return i

    async def fan_out() -> int:
        return sum(await rc.batch(work, range(1000), return_exceptions=False))

    with quiet(max_concurrency=10) as runner:
        assert runner.run_sync(fan_out).answer == sum(range(1000))
    assert gauge.peak == 10
    assert len(runner.info.nodes) == 1001


def test_a_chain_deeper_than_the_limit_does_not_deadlock() -> None:
    async def down(depth: int) -> int:
        return 0 if depth == 0 else 1 + await rc.call(down, depth - 1)

    async def wide(depth: int) -> list[int]:
        return await rc.batch(down, [depth] * 5, return_exceptions=False)

    with quiet(max_concurrency=2, timeout=20) as runner:
        assert runner.run_sync(down, 50).answer == 50
        assert runner.run_sync(wide, 20).answer == [20] * 5


def test_thread_nodes_use_a_bounded_pool() -> None:
    gauge = Gauge()
    names: set[str] = set()
    release = threading.Event()

    def blocking(i: int) -> int:
        gauge.enter()
        names.add(threading.current_thread().name)
        release.wait(0.05)
        gauge.leave()
        return i

    async def fan_out() -> list[int]:
        return await rc.batch(blocking, range(12), return_exceptions=False)

    with quiet(max_threads=3) as runner:
        assert runner.run_sync(fan_out).answer == list(range(12))
    assert gauge.peak <= 3 and len(names) <= 3
    assert all(name.startswith("rc-node") for name in names)
    assert leftovers() == []


def test_a_timed_out_thread_node_is_recorded_cancelled_and_not_waited_for() -> None:
    release = threading.Event()

    def stuck() -> str:
        release.wait(5)
        return "late"

    Stuck = rc.function_node(stuck, timeout=0.05)
    with quiet() as runner:
        with pytest.raises(rc.NodeTimeoutError, match="'stuck'"):
            runner.run_sync(Stuck)
        release.set()  # Python cannot stop the thread: let it finish before the pool closes
    assert runner.info.nodes[0].status == "failed"
    assert leftovers() == []


def test_execution_mode_must_fit_the_kind_of_node() -> None:
    async def on_loop() -> None:
        pass

    def blocking() -> None:
        pass

    with pytest.raises(rc.NodeCreationError, match="cannot run in execution mode 'threads'"):
        rc.function_node(on_loop, mode="threads")
    with pytest.raises(rc.NodeCreationError, match="cannot run in execution mode 'asyncio'"):
        rc.function_node(blocking, mode="asyncio")
    with pytest.raises(rc.NodeCreationError, match="execution_mode must be the name"):
        rc.function_node(blocking, mode="")
    with pytest.raises(rc.ConfigError, match="execution_mode"):
        rc.ExecutorConfig(execution_mode=3)  # type: ignore[arg-type]
    with pytest.raises(rc.ConfigError, match="max_concurrency"):
        rc.ExecutorConfig(max_concurrency=0)
