"""Thread nodes that call thread nodes never deadlock: a parent blocked in
rc.call_sync lends its pool slot to its children, whatever the pool's size.
After each run no rc thread or handler is left."""

from __future__ import annotations

import threading

import pytest

import requestcompletion as rc
from helpers import leftovers

# A deadlock fails the test as GlobalTimeOutError instead of hanging the suite.
SETTINGS = {"save_state": False, "logging_setting": "NONE", "timeout": 60}


def leaf(i: int) -> int:
    return i * 2


def mid(i: int) -> int:
    return rc.call_sync(leaf, i)


def deep(n: int) -> int:
    return n if n == 0 else rc.call_sync(deep, n - 1) + 1


async def fan(width: int) -> list[int]:
    return list(await rc.batch(mid, range(width)))


@pytest.mark.parametrize(("width", "max_threads"), [(2, 2), (2, 1), (12, None), (30, 3)], ids=str)
def test_a_batch_of_thread_parents_of_thread_children_finishes(
    width: int, max_threads: int | None
) -> None:
    with rc.Runner(max_threads=max_threads, **SETTINGS) as runner:
        assert runner.run_sync(fan, width).answer == [2 * i for i in range(width)]
        assert {r.status for r in runner.state.records} == {"succeeded"}
    assert leftovers() == []


def test_a_chain_of_thread_nodes_deeper_than_the_pool_finishes() -> None:
    with rc.Runner(max_threads=2, **SETTINGS) as runner:
        assert runner.run_sync(deep, 10).answer == 10
    assert leftovers() == []


def test_the_bound_still_holds_for_nodes_running_their_own_code() -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    gate = threading.Barrier(2, timeout=30)  # two run at once: the pool's size

    def busy(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if i < 2:
            gate.wait()
        with lock:
            running -= 1
        return i

    async def many() -> list[int]:
        return list(await rc.batch(busy, range(8)))

    with rc.Runner(max_threads=2, **SETTINGS) as runner:
        assert runner.run_sync(many).answer == list(range(8))
    assert most == 2
    assert leftovers() == []
