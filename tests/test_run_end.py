"""How a run ends when a node fails it: the user gets the real error, never a bare
CancelledError, and every node still unfinished is recorded ``cancelled`` at once.

Ctrl-C and SIGTERM under run_sync and asyncio.run are in test_signals.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

import requestcompletion as rc

QUIET = {"save_state": False, "logging_setting": "NONE"}


class Boom(Exception):
    pass


async def child_forever() -> None:
    await asyncio.Event().wait()


async def starts_child_then_fails(kind: str) -> None:
    background = asyncio.ensure_future(rc.call(child_forever))
    await asyncio.sleep(0)  # the child is running now
    assert not background.done()
    raise rc.FatalError("fatal") if kind == "fatal" else Boom("boom")


def statuses(runner: rc.Runner) -> dict[str, str]:
    return {record.spec.name: record.status for record in runner.state.records}


@pytest.mark.parametrize(
    ("kind", "end_on_error", "expected"),
    [("fatal", False, rc.FatalError), ("plain", True, Boom), ("plain", False, Boom)],
)
def test_a_failing_node_with_a_background_child_gives_its_own_error_to_run_sync(
    kind: str, end_on_error: bool, expected: type[BaseException]
) -> None:
    with rc.Runner(end_on_error=end_on_error, **QUIET) as runner:
        with pytest.raises(expected):
            runner.run_sync(starts_child_then_fails, kind)
        assert statuses(runner) == {
            "starts_child_then_fails": "failed",
            "child_forever": "cancelled",
        }


@pytest.mark.parametrize("kind", ["fatal", "plain"])
def test_the_same_under_asyncio_run(kind: str) -> None:
    async def main() -> dict[str, str]:
        async with rc.Runner(end_on_error=True, **QUIET) as runner:
            with pytest.raises(rc.FatalError if kind == "fatal" else Boom):
                await runner.run(starts_child_then_fails, kind)
            return statuses(runner)

    assert asyncio.run(main()) == {
        "starts_child_then_fails": "failed",
        "child_forever": "cancelled",
    }


async def bad() -> None:
    await asyncio.sleep(0)
    raise Boom("bad")


async def slow() -> None:
    await asyncio.Event().wait()


def test_gathered_requests_all_get_the_real_error_and_the_slow_one_is_cancelled_at_once() -> None:
    async def main() -> None:
        with rc.Runner(end_on_error=True, **QUIET) as runner:
            results = await asyncio.gather(
                runner.run(bad), runner.run(slow), return_exceptions=True
            )
            assert [type(result) for result in results] == [Boom, Boom]
            assert statuses(runner) == {"bad": "failed", "slow": "cancelled"}  # before close
            assert runner.state.running == 0

    asyncio.run(main())


def test_a_thread_node_still_sleeping_after_close_does_not_keep_the_interpreter_alive() -> None:
    program = textwrap.dedent(
        """
        import threading, requestcompletion as rc
        forever = threading.Event()
        def sleeper() -> None:
            forever.wait()
        node = rc.function_node(sleeper, timeout=0.05)
        async def parent() -> None:
            await rc.call(node)
        with rc.Runner(save_state=False, logging_setting="NONE") as runner:
            try:
                runner.run_sync(parent)
            except rc.NodeTimeoutError:
                print("timed out")
        print("closed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["timed", "out", "closed"]
