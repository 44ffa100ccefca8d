"""Helpers shared by the tests."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from requestcompletion.context import current_runner
from requestcompletion.human import DEFER
from requestcompletion.pubsub.delivery import THREAD_NAME as DELIVERY_THREAD
from requestcompletion.state._journal_writer import THREAD_NAME as JOURNAL_THREAD


def leftovers() -> list[str]:
    """What a closed runner must not leave behind: rc threads and rc logging handlers.

    The delivery thread of sync subscribers (`rc-delivery`) and the journal writer
    (`rc-journal`) are the process's, not a runner's: they idle out by themselves
    (tests/test_delivery.py and tests/test_journal_writer.py check that they do).
    """
    found = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("rc-")
        and t.name not in (DELIVERY_THREAD, JOURNAL_THREAD)
        and t.is_alive()
    ]
    found += [
        repr(h) for h in logging.getLogger("RC").handlers if not isinstance(h, logging.NullHandler)
    ]
    return found


DOCS = Path(__file__).resolve().parent.parent / "docs"


def docs_code(page: str) -> str:
    """The ```python blocks of a page of docs/, joined: what the page tells users to run.

    A block marked for a special run (``<!-- docs: ray -->`` and the like, see
    tests/docs/markdown_examples.py) is left out: tests/docs runs it on its own.
    """
    text = (DOCS / page).read_text(encoding="utf-8")
    found = re.findall(
        r"(^<!--\s*docs:.*?-->\s*\n(?:\s*\n)*)?^```python\n(.*?)^```$",
        text,
        flags=re.DOTALL | re.MULTILINE,
    )
    blocks = [code for mark, code in found if not mark]
    assert blocks, f"docs/{page} has no python block"
    return "\n\n".join(blocks)


def docs_module(page: str, name: str) -> ModuleType:
    """The code of a docs page as an importable module (its `__main__` block does not run)."""
    module = sys.modules.get(name)
    if module is None:
        module = ModuleType(name)
        sys.modules[name] = module  # dataclasses and pickling look classes up here
        exec(compile(docs_code(page), f"docs/{page}", "exec"), module.__dict__)
    return module


def signal_when_ready(
    command: list[str], signum: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Start `command`, wait for the ``READY`` line it prints, send it `signum`, and
    return how it ended (its output includes the READY line). A child still alive at
    the end is killed, so a test that fails leaves no process behind."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # blocks until the child is ready, or EOF if it died
        assert ready == "READY\n", process.communicate(timeout=60)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, ready + out, err)


def copying_journal_while_waiting(journal: Path, copy: Path) -> Any:
    """A human handler that leaves every question open, first copying the run's
    `journal` (flushed up to the question) to `copy`: the journal a process that
    died waiting would leave."""

    async def human(question: Any) -> Any:
        runner = current_runner.get()
        assert runner is not None and runner.state.journal is not None
        await runner.state.journal.barrier()
        shutil.copy(journal, copy)
        return DEFER

    return human


def fresh_python(code: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `code` (dedented) in a fresh interpreter that imports what this one does.

    A Ray driver joins one cluster per process, so a test that needs its own
    connection runs it here; RAY_ADDRESS is dropped so the code says where it connects.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def priced(monkeypatch: Any, model: str, dollars_per_million: float) -> Iterator[None]:
    """A price for `model`, input and output alike, only while the block runs.

    The price table remembers which prices it already looked up (`_FOUND`), so that
    memory is cleared on both sides.
    """
    from requestcompletion.llm import pricing

    price = pricing.Price(dollars_per_million, dollars_per_million)
    monkeypatch.setitem(pricing._PRICES, model, price)
    pricing._FOUND.clear()
    try:
        yield
    finally:
        pricing._FOUND.clear()
