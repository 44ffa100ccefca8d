"""Ctrl-C, SIGTERM and SIGKILL sent to a real process in the middle of a run.

Each test starts `signal_child.py`, waits for the READY line it prints once
three nodes are stuck, sends the signal, and reads what the run left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import requestcompletion as rc
from helpers import signal_when_ready

CHILD = Path(__file__).parent / "signal_child.py"


def stopped(mode: str, state_dir: Path, signum: int) -> subprocess.CompletedProcess[str]:
    return signal_when_ready([sys.executable, str(CHILD), mode, str(state_dir)], signum)


@pytest.mark.parametrize(
    ("mode", "signum"),
    [
        ("sync", signal.SIGINT),
        ("asyncio", signal.SIGINT),
        ("sync", signal.SIGTERM),
        ("asyncio", signal.SIGTERM),
    ],
)
def test_ctrl_c_and_sigterm_cancel_record_save_and_reraise(
    tmp_path: Path, mode: str, signum: int
) -> None:
    done = stopped(mode, tmp_path, signum)
    assert "KeyboardInterrupt" in done.stderr
    assert done.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.json"]  # no journal left
    info = rc.ExecutionInfo.load(tmp_path / "sig.json")
    assert info.outcome == "cancelled"
    statuses = {n.name: set() for n in info.nodes}
    for node in info.nodes:
        statuses[node.name].add(node.status)
    assert statuses == {
        "workflow": {"cancelled"},
        "fan": {"succeeded"},
        "leaf": {"succeeded"},
        "stuck": {"cancelled"},
    }
    assert len(info.nodes) == 8
    assert all(n.end is not None for n in info.nodes)


def test_sigkill_leaves_the_journal_up_to_its_last_flush(tmp_path: Path) -> None:
    done = stopped("kill", tmp_path, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.journal"]
    info = rc.ExecutionInfo.load(tmp_path / "sig.journal")
    assert info.outcome == "interrupted"
    # the first request returned, so all of it was written before the second began
    first = info.get_info(info.insertion_requests[0].id).nodes
    assert [(n.name, n.status) for n in first] == [("fan", "succeeded")] + [
        ("leaf", "succeeded")
    ] * 3
    assert info.answer is None or info.insertion_requests[0].output == [0, 2, 4]
    rest = info.nodes[len(first) :]
    assert all(n.status == "running" for n in rest)  # what got written of the second


def test_a_program_with_its_own_sigterm_handler_keeps_it(tmp_path: Path) -> None:
    done = stopped("own", tmp_path, signal.SIGTERM)
    assert done.stdout == "READY\nMINE\n"
    assert done.returncode == 3


# --- in this process: the SIGINT handler run_sync sets and puts back ------------------------


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, as in a terminal (a background run inherits it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_run_sync_cancels_on_ctrl_c_and_puts_the_default_handler_back(tmp_path: Path) -> None:
    async def interrupted() -> None:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # rc's
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to this (the main) thread
        await asyncio.Event().wait()

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with (
        pytest.raises(KeyboardInterrupt),
        rc.Runner(run_identifier="ctrl-c", state_dir=tmp_path, logging_setting="NONE") as r,
    ):
        r.run_sync(interrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    info = rc.ExecutionInfo.load(tmp_path / "ctrl-c.json")
    assert info.outcome == "cancelled"
    assert [n.status for n in info.nodes] == ["cancelled"]


def test_run_sync_keeps_a_programs_own_sigint_handler(tmp_path: Path) -> None:
    seen: list[int] = []

    def mine(signum: int, frame: object) -> None:
        seen.append(signum)

    async def reads_the_handler() -> object:
        return signal.getsignal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with rc.Runner(state_dir=tmp_path, logging_setting="NONE") as runner:
            assert runner.run_sync(reads_the_handler).answer is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)
