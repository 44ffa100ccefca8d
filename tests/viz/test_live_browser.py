"""Live: a run going on in another process appears and grows on open pages, pushed by SSE."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from viz_runs import copy_fixture, shot

from requestcompletion.viz import Viewer

WRITER = Path(__file__).with_name("live_writer.py")
JOURNAL_WRITER = Path(__file__).with_name("journal_writer.py")


@pytest.fixture
def writer(runs_dir: Path) -> Iterator[Callable[[int], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(steps: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WRITER), str(runs_dir), "live-run", str(steps)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def _said(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == expected


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()


def test_a_running_workflow_appears_and_updates_in_two_browsers(
    open_browser: Callable[[], Any],
    viewer: Viewer,
    writer: Callable[[int], subprocess.Popen[str]],
) -> None:
    pages = []
    for _ in range(2):
        page = open_browser().new_page()
        page.goto(viewer.url)
        page.wait_for_function("() => window.rcListening === true")  # subscribed to changes
        pages.append(page)
    process = writer(3)
    _said(process, "started 0")
    for page in pages:  # the new run shows up in the list, still running
        page.wait_for_selector("tr[data-run='live-run'] .st-running")
        page.click("a[href='#/run/live-run']")
        page.wait_for_selector(".row[data-id='1'].st-running")
    shot(pages[0], "live")
    for i in range(3):
        if i:
            _said(process, f"started {i}")
            for page in pages:
                page.wait_for_selector(f".row[data-id='{i + 1}'].st-running")
        _go(process)
        _said(process, f"finished {i}")
        for page in pages:
            page.wait_for_selector(f".row[data-id='{i + 1}'].st-succeeded")
    _said(process, "closed")
    assert process.wait(timeout=30) == 0
    for page in pages:
        page.wait_for_function(
            "() => document.querySelector('#summary').textContent.includes('succeeded')"
        )
        page.wait_for_selector(".row[data-id='0'].st-succeeded")


def test_a_run_deleted_while_its_page_is_open_says_so(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    path = copy_fixture("simple-v1", runs_dir)
    page.goto(viewer.url + "#/run/simple-v1")
    page.wait_for_selector(".row[data-id='2']")
    page.wait_for_function("() => window.rcListening === true")
    path.unlink()
    page.wait_for_function(
        "() => document.querySelector('#banner').textContent.includes('deleted')"
    )
    assert page.locator(".row[data-id='2']").count() == 1  # the last version stays readable
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('#summary').textContent.includes('There is no run')"
    )


def test_a_half_written_file_is_reported_and_the_page_recovers(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    path = copy_fixture("simple-v1", runs_dir)
    whole = path.read_text()
    page.goto(viewer.url + "#/run/simple-v1")
    page.wait_for_selector(".row[data-id='2']")
    page.wait_for_function("() => window.rcListening === true")
    path.write_text(whole[: len(whole) // 2])  # written in place, not renamed: torn
    page.wait_for_function(
        "() => document.querySelector('#banner').textContent.includes('cannot be read')"
    )
    path.write_text(whole)
    page.wait_for_function("() => document.querySelector('#banner').textContent === ''")
    page.wait_for_selector(".row[data-id='2']")


def test_a_run_fed_by_its_journal_appears_running_and_ends_saved(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    page.goto(viewer.url)
    page.wait_for_function("() => window.rcListening === true")
    process = subprocess.Popen(
        [sys.executable, str(JOURNAL_WRITER), str(runs_dir), "journaled", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _said(process, "started 0")
        # the journal's process is alive, so the run is running, not interrupted
        page.wait_for_selector("tr[data-run='journaled'] .st-running")
        page.click("a[href='#/run/journaled']")
        page.wait_for_selector(".row[data-id='1'].st-running")
        _go(process)
        _said(process, "started 1")
        page.wait_for_selector(".row[data-id='1'].st-succeeded")
        page.wait_for_selector(".row[data-id='2'].st-running")
        _go(process)
        _said(process, "closed")
        assert process.wait(timeout=30) == 0
        page.wait_for_selector(".row[data-id='0'].st-succeeded")  # from the final JSON
        page.wait_for_function(
            "() => document.querySelector('#summary').textContent.includes('succeeded')"
        )
        assert not (runs_dir / "journaled.journal").exists()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
