"""The seed's own usage (DESIGN §1) runs as written, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import requestcompletion as rc
from helpers import leftovers
from requestcompletion.state import RCState


class Greet(rc.Node[str]):  # a class node; Node is generic in its output
    def __init__(self, name: str):
        super().__init__()
        self.name = name

    @classmethod
    def pretty_name(cls) -> str:  # optional; defaults to the class name
        return "Greet"

    async def invoke(self) -> str:  # may also be a plain `def` (runs on a thread)
        await rc.stream(f"greeting {self.name}")  # goes to the streaming subscriber
        shout = await rc.call(upper, self.name)  # call a child node
        return f"hello {shout}"


def upper(text: str) -> str:  # any function is a node: rc.call(upper, ...)
    """Upper-case a text.

    Args:
        text: the text to change
    """
    return text.upper()


Upper = rc.function_node(upper)  # explicit node type (also usable as a tool)


async def who_am_i() -> str:  # context: shared by all nodes of one runner
    rc.context.put("seen", True)
    return rc.context.get("user", default="nobody")


def test_the_seed_usage_runs_as_written(tmp_path: Path) -> None:
    # --- running ----------------------------------------------------------
    with rc.Runner() as runner:  # rc.Session is the same class
        info = runner.run_sync(Greet, "ada")  # -> rc.ExecutionInfo
        assert info.answer == "hello ADA"

    async def main() -> tuple[str, str]:
        with rc.Session(executor_config=rc.ExecutorConfig(timeout=30.0)) as runner:
            info = await runner.run(Greet, "ada")
            again = await rc.call(Greet, "bob")  # top-level call inside a session: the result
            return info.answer, again

    assert asyncio.run(main()) == ("hello ADA", "hello BOB")

    updates: list[object] = []
    config = rc.ExecutorConfig(
        logging_setting="VERBOSE",
        log_file="run.log",
        timeout=30.0,
        end_on_error=True,
        save_state=True,
        run_identifier="nightly-42",
        subscriber=lambda item: updates.append(("update:", item)),
        prompt_injection=True,
    )
    rc.set_config(config)  # global default for later runners
    with rc.Runner(context={"user": "ada"}) as runner:
        assert runner.run_sync(who_am_i).answer == "ada"
        assert runner.run_sync(Upper, "x").answer == "X"
        runner.run_sync(Greet, "cy")

    assert updates == [("update:", "greeting cy")]
    saved = json.loads((tmp_path / ".covailence" / "nightly-42.json").read_text())
    assert saved["run_id"] == "nightly-42" and saved["outcome"] == "succeeded"
    log = (tmp_path / "run.log").read_text()
    assert "who_am_i (node 0) started" in log and "-> 'ada'" in log
    assert leftovers() == []


def test_async_with_leaves_no_task_behind() -> None:
    async def main() -> set[asyncio.Task[object]]:
        async with rc.Session(save_state=False, subscriber=print) as runner:
            await runner.run(Greet, "ada")
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(main()) == set()
    assert leftovers() == []


def test_registration_and_completion_never_scan_the_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """O(1) per event: a run of many nodes never calls the one scanning helper."""

    def refuse(self: object) -> list[object]:
        raise AssertionError("scanned all records during the run")

    async def fan() -> int:
        return len(await rc.batch(upper_async, ["a"] * 500))

    with rc.Runner(save_state=False, logging_setting="NONE") as runner:
        monkeypatch.setattr(RCState, "running_records", refuse)
        assert runner.run_sync(fan).answer == 500
        monkeypatch.undo()


async def upper_async(text: str) -> str:
    return text.upper()
