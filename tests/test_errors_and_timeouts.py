"""end_on_error, FatalError, the global timeout, per-node timeouts and runner.cancel.

Each scenario also checks that nothing the runner started is left afterwards.
"""

from __future__ import annotations

import asyncio

import pytest

import requestcompletion as rc
from helpers import leftovers


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


async def forever() -> None:
    await asyncio.Event().wait()


async def fails(message: str = "boom") -> None:
    await asyncio.sleep(0)
    raise ValueError(message)


async def swallows_failure() -> str:
    try:
        await rc.call(fails)
    except ValueError:
        pass
    await asyncio.sleep(0)
    return "carried on"


def statuses(info: rc.ExecutionInfo) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in info.nodes:
        found.setdefault(node.name, set()).add(node.status)
    return found


def test_without_end_on_error_a_caught_failure_lets_the_run_go_on() -> None:
    with quiet() as runner:
        assert runner.run_sync(swallows_failure).answer == "carried on"
    assert statuses(runner.info) == {"swallows_failure": {"succeeded"}, "fails": {"failed"}}
    assert runner.info.outcome == "succeeded"


def test_end_on_error_ends_the_run_even_when_the_caller_would_catch() -> None:
    async def top() -> None:
        await asyncio.gather(rc.call(swallows_failure), *(rc.call(forever) for _ in range(20)))

    with quiet(end_on_error=True) as runner, pytest.raises(ValueError, match="boom"):
        runner.run_sync(top)
    found = statuses(runner.info)
    assert found["fails"] == {"failed"}
    assert found["forever"] == {"cancelled"}
    assert found["swallows_failure"] == {"cancelled"}
    assert runner.info.outcome == "failed"
    assert not any(n.status == "running" for n in runner.info.nodes)
    assert leftovers() == []


def test_end_on_error_cancels_every_top_level_request() -> None:
    async def main(runner: rc.Runner) -> list[object]:
        return await asyncio.gather(
            runner.run(forever), runner.run(forever), runner.run(fails), return_exceptions=True
        )

    async def go() -> list[object]:
        async with quiet(end_on_error=True) as runner:
            return await main(runner)

    results = asyncio.run(go())
    assert all(isinstance(r, ValueError) for r in results)


def test_a_run_that_ended_refuses_new_requests() -> None:
    with quiet(end_on_error=True) as runner:
        with pytest.raises(ValueError, match="boom"):
            runner.run_sync(fails)
        with pytest.raises(ValueError, match="boom"):
            runner.run_sync(swallows_failure)
    assert len(runner.info.nodes) == 1


def test_fatal_error_always_ends_the_run() -> None:
    async def fatal() -> None:
        await asyncio.sleep(0)  # let the sibling start first
        raise rc.FatalError("stop everything")

    async def catches_fatal() -> str:
        try:
            await rc.call(fatal)
        except rc.FatalError:
            pass
        await asyncio.sleep(0)
        return "not reached"

    async def top() -> None:
        await asyncio.gather(rc.call(catches_fatal), rc.call(forever))

    with quiet() as runner, pytest.raises(rc.FatalError, match="stop everything"):
        runner.run_sync(top)
    found = statuses(runner.info)
    assert found["fatal"] == {"failed"} and found["forever"] == {"cancelled"}
    assert leftovers() == []


def test_global_timeout_cancels_a_thousand_pending_children() -> None:
    async def fan_out() -> None:
        await rc.batch(forever_with_arg, range(1000))

    with quiet(timeout=0.2) as runner, pytest.raises(rc.GlobalTimeOutError, match=r"0\.2s") as hit:
        runner.run_sync(fan_out)
    assert hit.value.info is not None and hit.value.info.run_id == runner.run_id  # RunError.info
    nodes = runner.info.nodes
    assert len(nodes) == 1001
    assert {n.status for n in nodes} == {"cancelled"}
    assert runner.info.outcome == "timeout"
    assert leftovers() == []
    assert isinstance(rc.GlobalTimeOutError("x"), TimeoutError)


async def forever_with_arg(_: int) -> None:
    await forever()


def test_user_timeout_error_is_not_mistaken_for_the_global_timeout() -> None:
    async def own_timeout() -> None:
        async with asyncio.timeout(0.001):
            await forever()

    with quiet(timeout=30) as runner, pytest.raises(TimeoutError) as caught:
        runner.run_sync(own_timeout)
    assert not isinstance(caught.value, rc.GlobalTimeOutError)
    assert runner.info.nodes[0].status == "failed"


def test_per_node_timeout_cancels_the_node_and_its_children() -> None:
    Slow = rc.function_node(forever_with_arg, name="Slow", timeout=0.05)

    async def parent() -> str:
        try:
            await rc.call(Slow, 1)
        except rc.NodeTimeoutError as error:
            return str(error)
        return "not reached"

    with quiet() as runner:
        message = runner.run_sync(parent).answer
    assert "'Slow'" in message and "0.05" in message
    nodes = runner.info.nodes
    assert [(n.name, n.status) for n in nodes] == [("parent", "succeeded"), ("Slow", "failed")]
    assert nodes[1].error is not None and nodes[1].error.type == "NodeTimeoutError"


def test_class_attribute_timeout_applies() -> None:
    class Sleepy(rc.Node[None]):
        timeout = 0.05

        async def invoke(self) -> None:
            await rc.call(forever)

    with quiet() as runner, pytest.raises(rc.NodeTimeoutError):
        runner.run_sync(Sleepy)
    assert [n.status for n in runner.info.nodes] == ["failed", "cancelled"]


def test_runner_cancel_cancels_a_node_and_everything_under_it() -> None:
    started = asyncio.Event()

    async def worker() -> None:
        await asyncio.gather(rc.call(forever), rc.call(forever), announce(started))

    async def boss(runner: rc.Runner) -> str:
        task = asyncio.ensure_future(rc.call(worker))
        await started.wait()
        worker_id = next(n.id for n in runner.info.nodes if n.name == "worker")
        assert runner.cancel(worker_id)
        try:
            await task
        except rc.NodeCancelledError as error:
            return f"worker cancelled: {error}"
        return "not reached"

    async def main() -> rc.Runner:
        async with quiet() as runner:
            info = await runner.run(boss, runner)
            assert "runner.cancel" in info.answer
            return runner

    runner = asyncio.run(main())
    found = statuses(runner.info)
    assert found == {
        "boss": {"succeeded"},
        "worker": {"cancelled"},
        "forever": {"cancelled"},
    }
    assert not runner.cancel(0)  # no longer running
    with pytest.raises(KeyError, match="no node with id 99"):
        runner.cancel(99)


async def announce(event: asyncio.Event) -> None:
    event.set()


def test_leaving_the_block_cancels_nodes_still_running() -> None:
    left: list[asyncio.Future[None]] = []

    async def fire_and_forget() -> str:
        left.append(asyncio.ensure_future(rc.call(forever)))
        await asyncio.sleep(0)
        return "left one behind"

    with quiet() as runner:
        runner.run_sync(fire_and_forget)
    assert statuses(runner.info) == {"fire_and_forget": {"succeeded"}, "forever": {"cancelled"}}
    assert leftovers() == []


def test_errors_carry_their_traceback_into_the_records() -> None:
    with quiet() as runner, pytest.raises(ValueError, match="deep"):
        runner.run_sync(fails, "deep")
    error = runner.info.nodes[0].error
    assert error is not None
    assert error.message == "deep"
    assert "raise ValueError(message)" in error.traceback
