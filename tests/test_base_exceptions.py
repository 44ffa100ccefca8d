"""A node raising a BaseException: `sys.exit()`, `KeyboardInterrupt`, `GeneratorExit`, its own.

`SystemExit` and `KeyboardInterrupt` end the whole run: the node that raised is
recorded (failed / cancelled), every other node still running is cancelled and
recorded, the run is saved, and the exception reaches the caller unchanged, so
the program ends as it would in plain Python (tested on real processes). Any
other BaseException fails its node and travels up like an ordinary exception.
Nothing asyncio would complain about is left behind (checked by `quiet`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from helpers import leftovers


class Boom(BaseException):
    """A user's own BaseException subclass."""


raised: list[BaseException] = []  # what the nodes raised, to check the caller gets that object


def throw(error: BaseException) -> None:
    raised.append(error)
    raise error


@pytest.fixture(autouse=True)
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No 'Task exception was never retrieved' (asyncio logs it when the task is collected),
    no pending task destroyed, no rc thread or handler left over."""
    raised.clear()
    yield
    gc.collect()
    noise = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert noise == []
    assert leftovers() == []


def statuses(info: rc.ExecutionInfo) -> list[tuple[str, str]]:
    return [(node.name, node.status) for node in info.nodes]


def saved(runner: rc.Runner) -> rc.ExecutionInfo:
    assert runner.saved_to is not None
    return rc.ExecutionInfo.load(runner.saved_to)


# --- a real program: sys.exit() and KeyboardInterrupt inside a node -------------------------

PROGRAM = """
import asyncio, sys
import requestcompletion as rc

@rc.function_node
async def leaf():
    {raise_it}

@rc.function_node
def thread_leaf():
    {raise_it}

@rc.function_node
async def mid():
    return await rc.call(leaf)

@rc.function_node
async def top():
    try:
        return await rc.call(mid)
    except Exception:  # neither an exit nor Ctrl-C is an error a caller handles
        return "swallowed"

NODE = {{"async": leaf, "thread": thread_leaf, "grandchild": top}}[sys.argv[1]]
OPTIONS = dict(run_identifier="run", logging_setting="NONE")

if sys.argv[2] == "sync":
    with rc.Runner(**OPTIONS) as runner:
        runner.run_sync(NODE)
else:
    async def main():
        async with rc.Runner(**OPTIONS) as runner:
            await runner.run(NODE)
    asyncio.run(main())
print("not reached")
"""


def run_program(
    tmp_path: Path, raise_it: str, shape: str, how: str
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(PROGRAM.format(raise_it=raise_it)))
    return subprocess.run(
        [sys.executable, str(script), shape, how],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


SHAPES = {
    "async": [("leaf", "failed")],
    "thread": [("thread_leaf", "failed")],
    "grandchild": [("top", "cancelled"), ("mid", "cancelled"), ("leaf", "failed")],
}


@pytest.mark.parametrize("how", ["sync", "asyncio"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_sys_exit_in_a_node_ends_the_program_after_the_run_is_saved(
    tmp_path: Path, shape: str, how: str
) -> None:
    done = run_program(tmp_path, "sys.exit(3)", shape, how)
    assert (done.returncode, done.stdout, done.stderr) == (3, "", "")  # as plain Python's exit
    assert sorted(p.name for p in (tmp_path / ".covailence").iterdir()) == ["run.json"]
    info = rc.ExecutionInfo.load(tmp_path / ".covailence" / "run.json")
    assert info.outcome == "failed"
    assert statuses(info) == SHAPES[shape]
    leaf = info.nodes[-1]
    assert leaf.error is not None and leaf.error.type == "SystemExit"
    assert all(node.end is not None for node in info.nodes)


@pytest.mark.parametrize("how", ["sync", "asyncio"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_keyboard_interrupt_in_a_node_is_ctrl_c(tmp_path: Path, shape: str, how: str) -> None:
    done = run_program(tmp_path, "raise KeyboardInterrupt", shape, how)
    assert done.returncode == -signal.SIGINT  # how Python ends on an uncaught Ctrl-C
    assert done.stdout == ""
    assert done.stderr.rstrip().endswith("KeyboardInterrupt")
    assert "never retrieved" not in done.stderr and "Exception ignored" not in done.stderr
    info = rc.ExecutionInfo.load(tmp_path / ".covailence" / "run.json")
    assert info.outcome == "cancelled"
    assert {status for _, status in statuses(info)} == {"cancelled"}
    leaf = info.nodes[-1]
    assert leaf.error is not None and leaf.error.type == "KeyboardInterrupt"


# --- in one process: siblings, threads, depth, other BaseExceptions -------------------------


@rc.function_node
async def waits() -> None:
    await asyncio.Event().wait()  # until cancelled


@rc.function_node
async def exits(code: int) -> None:
    throw(SystemExit(code))


@rc.function_node
async def interrupts() -> None:
    throw(KeyboardInterrupt())


@rc.function_node
async def either(i: int) -> None:
    if i == 1:
        throw(SystemExit(7))
    await asyncio.Event().wait()


@rc.function_node
async def fans_out() -> list[Any]:
    return await rc.batch(either, range(3))


def test_sys_exit_in_a_batch_cancels_and_records_its_siblings() -> None:
    with pytest.raises(SystemExit) as caught, rc.Runner(run_identifier="b") as runner:
        runner.run_sync(fans_out)
    assert caught.value is raised[0] and caught.value.code == 7
    assert statuses(runner.info) == [
        ("fans_out", "cancelled"),
        ("either", "cancelled"),
        ("either", "failed"),
        ("either", "cancelled"),
    ]
    assert saved(runner).outcome == "failed"


async def test_sys_exit_in_a_top_level_batch_cancels_its_siblings_before_it_returns() -> None:
    async with rc.Runner(run_identifier="t") as runner:
        with pytest.raises(SystemExit) as caught:
            await rc.batch(either, range(3))
        # the run ended: every call is final when batch raises, not only at close
        assert statuses(runner.info) == [
            ("either", "cancelled"),
            ("either", "failed"),
            ("either", "cancelled"),
        ]
    assert caught.value is raised[0]
    assert saved(runner).outcome == "failed"


async def test_end_on_error_records_requests_cancelled_before_they_started() -> None:
    @rc.function_node
    async def fails_second(i: int) -> None:
        if i == 1:
            raise ValueError("second")
        await asyncio.Event().wait()

    async with rc.Runner(end_on_error=True, save_state=False) as runner:
        with pytest.raises(ValueError, match="second"):
            await rc.batch(fails_second, range(3), return_exceptions=False)
        assert [status for _, status in statuses(runner.info)] == [
            "cancelled",
            "failed",
            "cancelled",
        ]


def test_keyboard_interrupt_beside_running_siblings_cancels_the_run() -> None:
    @rc.function_node
    async def parent() -> Any:
        try:
            return await asyncio.gather(rc.call(waits), rc.call(interrupts))
        except Exception:
            return "swallowed"

    with pytest.raises(KeyboardInterrupt) as caught, rc.Runner(run_identifier="k") as runner:
        runner.run_sync(parent)
    assert caught.value is raised[0]
    assert statuses(runner.info) == [
        ("parent", "cancelled"),
        ("waits", "cancelled"),
        ("interrupts", "cancelled"),
    ]
    assert saved(runner).outcome == "cancelled"


def test_a_thread_nodes_child_that_exits_ends_the_run() -> None:
    @rc.function_node
    def in_thread() -> Any:
        return rc.call_sync(exits, 9)

    with pytest.raises(SystemExit) as caught, rc.Runner(run_identifier="th") as runner:
        runner.run_sync(in_thread)
    assert caught.value is raised[0]
    assert statuses(runner.info) == [("in_thread", "cancelled"), ("exits", "failed")]
    assert saved(runner).outcome == "failed"


async def test_sys_exit_deeper_than_a_fresh_task_reaches_the_caller() -> None:
    @rc.function_node
    async def down(n: int) -> None:
        if n == 0:
            throw(SystemExit(2))
        await rc.call(down, n - 1)

    async with rc.Runner(run_identifier="deep") as runner:
        with pytest.raises(SystemExit) as caught:
            await runner.run(down, 70)  # past coordinator.FRESH_TASK_EVERY
    assert caught.value is raised[0]
    info = saved(runner)
    assert [n.status for n in info.nodes] == ["cancelled"] * 70 + ["failed"]
    assert info.outcome == "failed"


def test_a_run_stopped_by_an_interrupt_refuses_further_requests() -> None:
    runner = rc.Runner(save_state=False)
    with runner:
        with pytest.raises(SystemExit):
            runner.run_sync(exits, 1)
        with pytest.raises(SystemExit) as again:
            runner.run_sync(waits)  # the run has ended: its error, not a hang
    assert again.value is raised[0]
    assert runner.info.outcome == "failed"


@pytest.mark.parametrize(
    "make", [lambda: Boom("boom"), GeneratorExit], ids=["Boom", "GeneratorExit"]
)
@pytest.mark.parametrize("how", ["sync", "asyncio"])
def test_other_base_exceptions_fail_the_node_and_are_raised(make: Any, how: str) -> None:
    @rc.function_node
    async def leaf(_: int) -> None:
        throw(make())

    @rc.function_node
    def thread_leaf() -> None:
        throw(make())

    @rc.function_node
    async def parent() -> list[Any]:
        caught = await rc.batch(leaf, [0], return_exceptions=True)  # in its slot, like any error
        assert caught == raised
        await rc.call(thread_leaf)
        return caught

    def run() -> rc.Runner:
        with rc.Runner(run_identifier=f"o-{how}") as runner:
            runner.run_sync(parent)
        return runner

    async def arun() -> rc.Runner:
        async with rc.Runner(run_identifier=f"o-{how}") as runner:
            await runner.run(parent)
        return runner

    with pytest.raises((Boom, GeneratorExit)) as caught:
        run() if how == "sync" else asyncio.run(arun())
    assert caught.value is raised[1]
    info = rc.ExecutionInfo.load(Path(".covailence") / f"o-{how}.json")
    assert info.outcome == "failed"
    assert statuses(info) == [("parent", "failed"), ("leaf", "failed"), ("thread_leaf", "failed")]
    assert [n.error.type for n in info.nodes if n.error] == [type(raised[1]).__name__] * 3


def test_a_raising_repr_on_a_base_exception_does_not_break_the_close() -> None:
    class Ugly(BaseException):
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @rc.function_node
    async def ugly() -> None:
        throw(Ugly())

    with pytest.raises(Ugly), rc.Runner(run_identifier="u") as runner:
        runner.run_sync(ugly)
    assert saved(runner).outcome == "failed"
    assert json.loads(Path(".covailence/u.json").read_text())["outcome"] == "failed"
