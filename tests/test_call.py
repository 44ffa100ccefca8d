"""rc.call, call_sync, batch and stream: the call path, parents, errors, misuse."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

import requestcompletion as rc
from helpers import leftovers
from requestcompletion.interaction import PAUSE_COLLECTOR_FROM


async def double(x: int) -> int:
    return 2 * x


def triple(x: int) -> int:
    return 3 * x


class Sum(rc.Node[int]):
    def __init__(self, xs: list[int]) -> None:
        super().__init__()
        self.xs = xs

    async def invoke(self) -> int:
        doubled = await rc.batch(double, self.xs)
        return sum(doubled)


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


def test_child_calls_are_recorded_with_their_parent() -> None:
    with quiet() as runner:
        info = runner.run_sync(Sum, [1, 2, 3])
    assert info.answer == 12
    nodes = info.nodes
    assert [n.name for n in nodes] == ["Sum", "double", "double", "double"]
    assert [n.parent_id for n in nodes] == [None, 0, 0, 0]
    assert {n.status for n in nodes} == {"succeeded"}
    assert [n.output for n in nodes[1:]] == [2, 4, 6]
    assert nodes[1].args == (1,)
    vertices, edges = info.to_graph()
    assert len(vertices) == 4
    assert [(e.source, e.target) for e in edges] == [(None, 0), (0, 1), (0, 2), (0, 3)]


def test_sync_node_runs_on_a_thread_and_can_call_back() -> None:
    loop_thread: list[int] = []

    def on_thread(x: int) -> int:
        assert threading.get_ident() != loop_thread[0]
        rc.stream(f"thread got {x}")
        return rc.call_sync(double, x) + rc.context.get("bonus", 0)

    async def top(x: int) -> int:
        loop_thread.append(threading.get_ident())
        return await rc.call(on_thread, x)

    with quiet(context={"bonus": 1}) as runner:
        info = runner.run_sync(top, 5)
    assert info.answer == 11
    assert [(n.name, n.parent_id) for n in info.nodes] == [
        ("top", None),
        ("on_thread", 0),
        ("double", 1),
    ]
    assert info.streamed == [(1, "thread got 5")]
    assert leftovers() == []


def test_function_node_has_its_own_name_and_is_the_same_call() -> None:
    Triple = rc.function_node(triple, name="Triple")
    with quiet() as runner:
        assert runner.run_sync(Triple, 2).answer == 6
        assert runner.run_sync(triple, 2).answer == 6
    assert [n.name for n in runner.info.nodes] == ["Triple", "triple"]


def test_exception_propagates_to_the_caller_who_may_catch_it() -> None:
    async def boom() -> None:
        raise ValueError("boom")

    async def careful() -> str:
        try:
            await rc.call(boom)
        except ValueError as error:
            return f"caught {error}"
        return "not reached"

    with quiet() as runner:
        info = runner.run_sync(careful)
    assert info.answer == "caught boom"
    statuses = [(n.name, n.status) for n in info.nodes]
    assert statuses == [("careful", "succeeded"), ("boom", "failed")]
    error = info.nodes[1].error
    assert error is not None and error.type == "ValueError" and "boom" in error.traceback


def test_uncaught_exception_reaches_the_top_level_call() -> None:
    async def boom() -> None:
        raise KeyError("missing")

    with quiet() as runner, pytest.raises(KeyError, match="missing"):
        runner.run_sync(boom)
    assert runner.info.nodes[0].status == "failed"


def test_wrong_constructor_arguments_are_a_recorded_creation_error() -> None:
    async def parent() -> None:
        await rc.call(Sum, [1], "extra")

    with quiet() as runner, pytest.raises(rc.NodeCreationError) as caught:
        runner.run_sync(parent)
    message = str(caught.value)
    assert "'Sum'" in message and "'extra'" in message and "positional argument" in message
    child = runner.info.nodes[1]
    assert (child.name, child.status, child.parent_id) == ("Sum", "failed", 0)
    assert child.error is not None and child.error.type == "NodeCreationError"


def test_wrong_function_arguments_are_a_creation_error() -> None:
    with quiet() as runner, pytest.raises(rc.NodeCreationError, match="unexpected keyword"):
        runner.run_sync(double, y=3)
    with quiet() as runner, pytest.raises(rc.NodeCreationError, match="triple"):
        runner.run_sync(triple)  # a sync function: checked before it goes to a thread


def test_not_a_node_is_a_creation_error() -> None:
    with quiet() as runner:
        with pytest.raises(rc.NodeCreationError, match="not a node"):
            runner.run_sync(42)
        with pytest.raises(rc.NodeCreationError, match="not an instance"):
            runner.run_sync(Sum([1]))


def test_call_without_a_runner_uses_a_temporary_one() -> None:
    rc.set_config(logging_setting="NONE", save_state=False)
    assert asyncio.run(rc.call(Sum, [1, 2])) == 6
    assert rc.call_sync(double, 4) == 8
    assert asyncio.run(rc.batch(double, [1, 2])) == [2, 4]


def test_top_level_call_inside_a_session_returns_the_result() -> None:
    async def main() -> tuple[int, int]:
        async with quiet() as runner:
            info = await runner.run(double, 1)
            again = await rc.call(double, 2)
            return info.answer, again

    assert asyncio.run(main()) == (2, 4)


def test_batch_keeps_input_order_and_returns_exceptions() -> None:
    async def maybe(x: int, y: str) -> str:
        await asyncio.sleep(0.001 * (3 - x))  # finish in reverse order
        if x == 2:
            raise ValueError(y)
        return y * x

    async def top() -> list[object]:
        return await rc.batch(maybe, [1, 2, 3], "abc")

    with quiet() as runner:
        result = runner.run_sync(top).answer
    assert result[0] == "a" and result[2] == "ccc"
    assert isinstance(result[1], ValueError)

    async def uneven() -> list[object]:
        return await rc.batch(maybe, [1, 2], "abc")

    with quiet() as runner, pytest.raises(ValueError, match=r"shorter|longer"):
        runner.run_sync(uneven)


class Probe(rc.Node[bool]):
    """Notes whether the cyclic collector was on when the node was created."""

    def __init__(self, x: int) -> None:
        super().__init__()
        if x < 0:
            raise ValueError("negative")
        self.collector_on = gc.isenabled()

    async def invoke(self) -> bool:
        return self.collector_on


def test_a_big_batch_pauses_the_collector_only_while_it_spawns() -> None:
    big = list(range(PAUSE_COLLECTOR_FROM))

    async def spawn(xs: list[int], return_exceptions: bool) -> tuple[list[object], bool]:
        outcomes = await rc.batch(Probe, xs, return_exceptions=return_exceptions)
        return outcomes, gc.isenabled()

    assert gc.isenabled()
    with quiet() as runner:
        outcomes, after = runner.run_sync(spawn, big, True).answer
        assert outcomes == [False] * len(big) and after  # off while spawning, back on
        outcomes, after = runner.run_sync(spawn, [1, 2, 3], True).answer
        assert outcomes == [True] * 3 and after  # a small batch leaves it alone
        with pytest.raises(rc.NodeCreationError):
            runner.run_sync(spawn, [*big, -1], False)  # a creation error aborts the spawn
        assert gc.isenabled()
        gc.disable()  # the program's own choice is kept
        try:
            outcomes, after = runner.run_sync(spawn, big, True).answer
            assert outcomes == [False] * len(big) and not after and not gc.isenabled()
        finally:
            gc.enable()


def test_deep_recursion_does_not_hit_the_recursion_limit() -> None:
    async def down(depth: int) -> int:
        return 0 if depth == 0 else 1 + await rc.call(down, depth - 1)

    with quiet() as runner:
        assert runner.run_sync(down, 1500).answer == 1500
    assert runner.info.nodes[-1].parent_id == 1499


def test_misuse_outside_a_runner_is_a_context_error() -> None:
    with pytest.raises(rc.ContextError, match=r"rc\.stream"):
        rc.stream("x")
    with pytest.raises(rc.ContextError, match=r"rc\.context\.get"):
        rc.context.get("x")
    with pytest.raises(rc.ContextError):
        rc.context.put("x", 1)


def test_call_sync_inside_a_running_loop_is_a_context_error() -> None:
    async def main() -> None:
        rc.call_sync(double, 1)

    with pytest.raises(rc.ContextError, match="running event loop"):
        asyncio.run(main())

    with quiet() as runner:

        async def inside() -> None:
            runner.run_sync(double, 1)

        with pytest.raises(rc.ContextError, match=r"await runner\.run"):
            runner.run_sync(inside)


def test_a_runner_inside_an_active_runner_is_refused() -> None:
    with quiet() as runner, pytest.raises(rc.RunnerCreationError, match="already active"), quiet():
        pass
    assert runner.info.nodes == []

    async def opens_runner() -> None:
        with quiet():
            pass

    with quiet() as runner, pytest.raises(rc.RunnerCreationError):
        runner.run_sync(opens_runner)


def test_a_runner_cannot_be_used_after_it_closed() -> None:
    with quiet() as runner:
        pass
    with pytest.raises(rc.ContextError, match="not open"):
        runner.run_sync(double, 1)
    with pytest.raises(rc.RunnerCreationError, match="already opened"), runner:
        pass


def test_context_is_shared_by_the_nodes_of_a_runner() -> None:
    async def writer() -> None:
        rc.context.put("seen", True)
        rc.context.update({"a": 1}, b=2)

    async def reader() -> list[str]:
        await rc.call(writer)
        rc.context.delete("a")
        return sorted(rc.context.keys())

    with quiet(context={"user": "ada"}) as runner:
        assert runner.run_sync(reader).answer == ["b", "seen", "user"]
        with pytest.raises(KeyError, match="nope"):
            runner.run_sync(lambda: rc.context.delete("nope"))
    assert runner.variables == {}


def test_two_runners_in_two_threads_never_see_each_other() -> None:
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    async def who() -> str:
        await asyncio.to_thread(barrier.wait)  # both runners are open at once
        return str(rc.context.get("user"))

    def work(user: str) -> None:
        with quiet(context={"user": user}) as runner:
            results[user] = (runner.run_sync(who).answer, len(runner.info.nodes))

    threads = [threading.Thread(target=work, args=(u,)) for u in ("ada", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"ada": ("ada", 1), "bob": ("bob", 1)}


def test_two_runners_in_two_tasks_never_see_each_other() -> None:
    async def who() -> str:
        await asyncio.sleep(0)
        return str(rc.context.get("user"))

    async def one(user: str, started: asyncio.Event, other: asyncio.Event) -> tuple[str, int]:
        async with quiet(context={"user": user}) as runner:
            started.set()
            await other.wait()
            info = await runner.run(who)
            return info.answer, len(info.nodes)

    async def main() -> list[tuple[str, int]]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(one("ada", a, b), one("bob", b, a)))

    assert asyncio.run(main()) == [("ada", 1), ("bob", 1)]


def test_stream_reaches_the_config_subscriber_sync_and_async() -> None:
    got: list[object] = []
    got_async: list[object] = []

    async def talker() -> str:
        await rc.stream("one")
        await rc.stream({"two": 2})
        return "done"

    with quiet(subscriber=got.append) as runner:
        runner.run_sync(talker)
    assert got == ["one", {"two": 2}]

    async def collect(item: object) -> None:
        got_async.append(item)

    async def main() -> None:
        async with quiet(subscriber=collect) as runner:
            await runner.run(talker)

    asyncio.run(main())
    assert got_async == ["one", {"two": 2}]


def test_info_views_a_subtree_and_the_logical_clock() -> None:
    async def inner(x: int) -> int:
        return await rc.call(double, x)

    async def outer() -> list[int]:
        return [await rc.call(inner, 1), await rc.call(inner, 2)]

    with quiet() as runner:
        runner.run_sync(outer)
        runner.run_sync(double, 5)
    info = runner.info
    assert [n.id for n in info.insertion_requests] == [0, 5]
    second = info.get_info(3)  # the second `inner` and its child
    assert [(n.id, n.name) for n in second.nodes] == [(3, "inner"), (4, "double")]
    assert info.answer == 10
    stamps = info.all_stamps
    assert [s.step for s in stamps] == list(range(1, 13))
    assert [s.message for s in stamps[:4]] == [
        "outer started",
        "inner started",
        "double started",
        "double succeeded",
    ]
    with pytest.raises(KeyError, match="99"):
        info.get_info(99)
