"""The process's journal writer: one thread for every runner's journal.

It starts on first need, ends by itself after a while idle (the next journal
starts a new one), and a runner's close waits for its own journal only, at most
`CLOSE_TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from requestcompletion.state import _journal_writer as writer_module
from requestcompletion.state import journal as journal_module
from requestcompletion.state._journal_lines import expand
from requestcompletion.state.journal import Journal

QUIET: dict[str, Any] = {"logging_setting": "NONE"}


def journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(writer_module.THREAD_NAME)]


async def child(i: int) -> int:
    return i + 1


def test_runners_open_at_once_share_one_writer_thread(tmp_path: Path) -> None:
    async def main() -> list[int]:
        opened: list[rc.Runner] = []
        all_open = asyncio.Event()

        async def one(name: str) -> int:
            async with rc.Runner(run_identifier=name, state_dir=tmp_path, **QUIET) as runner:
                info = await runner.run(child, 1)  # its barrier: its own lines are written
                opened.append(runner)
                if len(opened) == 3:
                    all_open.set()
                await all_open.wait()  # every runner (and its journal) open at once here
                if runner is opened[-1]:
                    check(opened)
            return int(info.answer)

        return list(await asyncio.gather(*(one(name) for name in "abc")))

    def check(runners: list[rc.Runner]) -> None:
        threads = journal_threads()
        assert [t.name for t in threads] == [writer_module.THREAD_NAME]
        assert threads[0].daemon
        for runner in runners:
            journal = runner.state.journal
            assert journal is not None
            text = journal.path.read_text()
            rows = [row for line in text.splitlines() for row in expand(json.loads(line))]
            assert rows[0][0] == "H" and rows[0][1]["run_id"] == runner.state.run_id
            assert any(row[0] == "N" for row in rows)

    assert asyncio.run(main()) == [2, 2, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "c.json"]


def test_the_writer_ends_when_idle_and_the_next_journal_starts_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "IDLE_SECONDS", 0.05)
    with rc.Runner(run_identifier="first", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(child, 1)
    threads = journal_threads()
    for thread in threads:
        thread.join(timeout=10)  # it leaves by itself: nothing is left to write
        assert not thread.is_alive()
    with rc.Runner(run_identifier="second", state_dir=tmp_path, **QUIET) as runner:
        assert int(runner.run_sync(child, 2).answer) == 3
        assert journal_threads()  # a new one, for the new journal
    assert (tmp_path / "second.json").exists() and not (tmp_path / "second.journal").exists()


def test_a_close_waits_for_its_own_lines_only_and_at_most_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stuck_now, release = threading.Event(), threading.Event()
    real_write = Journal._write

    def hangs_on_the_writer(self: Journal, text: str) -> None:
        if self.path.stem == "stuck" and threading.current_thread().name == "rc-journal":
            stuck_now.set()
            release.wait(timeout=30)  # a disk that hangs while the writer writes this journal
        real_write(self, text)

    monkeypatch.setattr(Journal, "_write", hangs_on_the_writer)
    monkeypatch.setattr(journal_module, "CLOSE_TIMEOUT", 0.1)
    other = Journal(tmp_path / "other.journal", {"journal_version": 1}, [], 0.0, False)
    stuck = Journal(tmp_path / "stuck.journal", {"journal_version": 1}, [], 0.0, False)
    stuck.add(("Q", 1))  # the writer takes it, and hangs
    assert stuck_now.wait(timeout=10)
    other.add(("Q", 2))
    other.close({"outcome": "success"})  # its own lines: not held up by the stuck one
    rows = [json.loads(line) for line in (tmp_path / "other.journal").read_text().splitlines()]
    assert [row[0] for row in rows] == ["H", "Q", "Z"]
    with caplog.at_level(logging.WARNING, logger="RC.journal"):
        stuck.close({"outcome": "success"})  # returns after CLOSE_TIMEOUT, saying why
    assert "stuck.journal" in caplog.text and "was not written within 0.1 s" in caplog.text
    release.set()
    deadline = time.monotonic() + 10  # the writer finishes it once the disk answers
    while not stuck._closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stuck._closed
    rows = [json.loads(line) for line in (tmp_path / "stuck.journal").read_text().splitlines()]
    assert [row[0] for row in rows] == ["H", "Q", "Z"]


def test_a_failing_journal_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failed, written = threading.Event(), threading.Event()
    real_queued, real_write = Journal.write_queued, Journal._write

    def write_queued(self: Journal) -> bool:
        if self.path.stem == "bad":
            failed.set()
            raise RuntimeError("writer bug")
        return real_queued(self)

    def spy(self: Journal, text: str) -> None:
        real_write(self, text)
        if '"Q"' in text:
            written.set()

    monkeypatch.setattr(Journal, "write_queued", write_queued)
    monkeypatch.setattr(Journal, "_write", spy)
    with caplog.at_level(logging.WARNING, logger="RC.journal"):
        bad = Journal(tmp_path / "bad.journal", {"journal_version": 1}, [], 0.0, False)
        good = Journal(tmp_path / "good.journal", {"journal_version": 1}, [], 0.0, False)
        bad.add(("Q", 1))
        assert failed.wait(timeout=10)
        good.add(("Q", 2))  # no flush: the writer, still there, writes it in its window
        assert written.wait(timeout=10)
        bad.close({"outcome": None})
        good.close({"outcome": None})
    assert isinstance(bad.error, RuntimeError) and good.error is None
    assert "writer bug" in caplog.text
    rows = [json.loads(line) for line in (tmp_path / "good.journal").read_text().splitlines()]
    assert [row[0] for row in rows] == ["H", "Q", "Z"]
