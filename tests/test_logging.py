"""Run logging: what each logging_setting writes, log_file, and handler clean-up.

A runner logs through a subscriber (REGULAR and QUIET where its events are handed
over, VERBOSE on the delivery thread); the runner drains it before its `with`
block ends, so every line is in the file (and in caplog) by then. Each
runner adds handlers to the `RC` logger, filtered to its own run, and must remove
exactly those when it closes, however the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from helpers import fresh_python

RC_LOGGER = logging.getLogger("RC")
NO_SAVE: dict[str, Any] = {"save_state": False}


# --- nodes ------------------------------------------------------------------------


def halve(x: int) -> float:
    if x < 0:
        raise ValueError(f"cannot halve {x}")
    return x / 2


class Halver(rc.Node[str]):
    """Streams, calls `halve` twice and catches the second call failing."""

    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> str:
        await rc.stream(f"halving {self.x}")
        half = await rc.call(halve, self.x)
        try:
            await rc.call(halve, -self.x)
        except ValueError:
            pass
        return f"half is {half}"


async def wait_forever() -> None:
    await asyncio.Event().wait()


async def fatal() -> None:
    raise rc.FatalError("stop everything")


def run_halver(tmp_path: Path, setting: str, run_identifier: str = "logged") -> list[str]:
    """Run Halver(4) with this setting; the lines of its log file ([] if none was made)."""
    log = tmp_path / "run.log"
    with rc.Runner(
        run_identifier=run_identifier, logging_setting=setting, log_file=log, **NO_SAVE
    ) as runner:
        assert runner.run_sync(Halver, 4).answer == "half is 2.0"
    return log.read_text().splitlines() if log.exists() else []


def added_during(block: Callable[[], Any]) -> tuple[list[logging.Handler], list[logging.Handler]]:
    """(handlers on RC added while `block` ran, handlers left on RC after it) — by identity."""
    before = list(RC_LOGGER.handlers)
    seen: list[logging.Handler] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            for handler in RC_LOGGER.handlers:
                if handler not in before and handler is not self and handler not in seen:
                    seen.append(handler)

    spy = Spy()
    RC_LOGGER.addHandler(spy)
    before.append(spy)
    try:
        block()
    finally:
        RC_LOGGER.removeHandler(spy)
    before.remove(spy)
    left = [h for h in RC_LOGGER.handlers if h not in before]
    return seen, left


# --- what each setting writes -----------------------------------------------------

LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +\[RC logged\] \S.*$")


def test_verbose_logs_every_event_with_inputs_and_outputs(tmp_path: Path) -> None:
    lines = run_halver(tmp_path, "VERBOSE")
    assert all(LINE.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert "run logged started" in text
    assert "Halver (node 0) started with args=(4,) kwargs={}" in text
    assert "DEBUG   [RC logged] Halver (node 0) streamed 'halving 4'" in text
    assert re.search(r"halve \(node 1\) succeeded in \d+\.\d\d ms -> 2\.0$", text, re.M)
    assert re.search(
        r"WARNING \[RC logged\] halve \(node 2\) failed after \d+\.\d\d ms: "
        r"ValueError: cannot halve -4$",
        text,
        re.M,
    )
    assert re.search(r"Halver \(node 0\) succeeded in .* -> 'half is 2\.0'$", text, re.M)
    assert lines[-1].endswith("run logged finished: succeeded")


def test_regular_logs_one_line_per_start_and_finish_without_values(tmp_path: Path) -> None:
    lines = run_halver(tmp_path, "REGULAR")
    assert all(LINE.match(line) for line in lines), lines
    messages = [line.split("] ", 1)[1] for line in lines]
    assert messages[0] == "run logged started"
    assert messages[-1] == "run logged finished: succeeded"
    node_lines = messages[1:-1]
    assert [m.split(" in ")[0].split(" after ")[0] for m in node_lines] == [
        "Halver (node 0) started",
        "halve (node 1) started",
        "halve (node 1) succeeded",
        "halve (node 2) started",
        "halve (node 2) failed",
        "Halver (node 0) succeeded",
    ]
    assert re.fullmatch(r"halve \(node 1\) succeeded in \d+\.\d\d ms", node_lines[2])
    assert not any("DEBUG" in line for line in lines)
    assert "streamed" not in "\n".join(lines)
    assert "args=" not in "\n".join(lines)
    assert "->" not in "\n".join(lines)


def test_quiet_logs_failures_only(tmp_path: Path) -> None:
    lines = run_halver(tmp_path, "QUIET")
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d WARNING \[RC logged\] halve \(node 2\) failed after \d+\.\d\d ms: "
        r"ValueError: cannot halve -4",
        lines[0],
    )


def test_none_logs_nothing_and_adds_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    level = RC_LOGGER.level
    seen, left = added_during(lambda: run_halver(tmp_path, "NONE"))
    assert seen == []
    assert left == []
    assert not (tmp_path / "run.log").exists()
    assert [r for r in caplog.records if r.name.startswith("RC")] == []
    assert RC_LOGGER.level == level


def test_quiet_logs_the_error_that_ended_the_run(tmp_path: Path) -> None:
    log = tmp_path / "fatal.log"
    with (
        pytest.raises(rc.FatalError),
        rc.Runner(run_identifier="fatal", logging_setting="QUIET", log_file=log, **NO_SAVE) as r,
    ):
        r.run_sync(fatal)
    text = log.read_text()
    assert "ERROR   [RC fatal] the run ended because of FatalError: stop everything" in text
    assert "WARNING [RC fatal] fatal (node 0) failed after" in text
    assert "INFO" not in text


def test_regular_logs_cancelled_nodes_on_timeout(tmp_path: Path) -> None:
    log = tmp_path / "timeout.log"
    with (
        pytest.raises(rc.GlobalTimeOutError),
        rc.Runner(run_identifier="late", timeout=0.05, log_file=log, **NO_SAVE) as runner,
    ):
        runner.run_sync(wait_forever)
    text = log.read_text()
    assert re.search(r"wait_forever \(node 0\) cancelled after \d+\.\d\d ms", text)
    assert text.rstrip().endswith("run late finished: timeout")


def test_caplog_sees_the_lines_when_the_block_ends(caplog: pytest.LogCaptureFixture) -> None:
    with rc.Runner(run_identifier="captured", **NO_SAVE) as runner:
        runner.run_sync(Halver, 2)
    ours = [r for r in caplog.records if getattr(r, "rc_run", None) == "captured"]
    assert [r.name for r in ours] == ["RC"] * len(ours)
    messages = [r.getMessage() for r in ours]
    assert messages[0] == "run captured started"
    assert messages[-1] == "run captured finished: succeeded"
    assert [r.levelname for r in ours if "failed" in r.getMessage()] == ["WARNING"]
    assert len(messages) == 8


def test_log_file_is_appended_to_not_replaced(tmp_path: Path) -> None:
    first = run_halver(tmp_path, "REGULAR", run_identifier="first")
    both = run_halver(tmp_path, "REGULAR", run_identifier="second")
    assert both[: len(first)] == first
    assert both[-1].endswith("run second finished: succeeded")


# --- handlers are removed ------------------------------------------------------------


@pytest.mark.parametrize("setting", ["VERBOSE", "REGULAR", "QUIET"])
def test_handlers_added_are_removed_on_close(tmp_path: Path, setting: str) -> None:
    level = RC_LOGGER.level
    seen, left = added_during(lambda: run_halver(tmp_path, setting))
    assert len(seen) == 2  # stderr and the log file
    assert sum(isinstance(h, logging.FileHandler) for h in seen) == 1
    assert left == []
    assert RC_LOGGER.level == level
    for handler in seen:
        if isinstance(handler, logging.FileHandler):
            assert handler.stream is None  # closed, not just detached


def test_handlers_are_removed_when_the_block_exits_by_exception(tmp_path: Path) -> None:
    def run_then_raise() -> None:
        with rc.Runner(log_file=tmp_path / "x.log", **NO_SAVE) as runner:
            runner.run_sync(Halver, 2)
            raise RuntimeError("user code")

    def block() -> None:
        with pytest.raises(RuntimeError, match="user code"):
            run_then_raise()

    seen, left = added_during(block)
    assert len(seen) == 2
    assert left == []


def test_handlers_are_removed_when_nothing_ran(tmp_path: Path) -> None:
    before = list(RC_LOGGER.handlers)
    during: list[logging.Handler] = []

    def raise_at_once() -> None:
        with rc.Runner(log_file=tmp_path / "x.log", **NO_SAVE):
            during.extend(RC_LOGGER.handlers)
            raise RuntimeError("before any run")

    with pytest.raises(RuntimeError, match="before any run"):
        raise_at_once()
    assert len(during) == len(before) + 2
    assert RC_LOGGER.handlers == before


def test_handlers_are_removed_when_a_node_raises(tmp_path: Path) -> None:
    def block() -> None:
        with (
            pytest.raises(rc.FatalError),
            rc.Runner(log_file=tmp_path / "x.log", **NO_SAVE) as runner,
        ):
            runner.run_sync(fatal)

    seen, left = added_during(block)
    assert len(seen) == 2
    assert left == []


async def test_handlers_are_removed_by_async_with(tmp_path: Path) -> None:
    before = list(RC_LOGGER.handlers)
    async with rc.Runner(run_identifier="async", log_file=tmp_path / "a.log", **NO_SAVE) as runner:
        await runner.run(Halver, 6)
        assert len(RC_LOGGER.handlers) == len(before) + 2
    assert RC_LOGGER.handlers == before
    assert "run async finished: succeeded" in (tmp_path / "a.log").read_text()


def test_unopenable_log_file_leaves_no_handler_and_no_active_runner(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    before = list(RC_LOGGER.handlers)

    def body() -> None:
        with (
            pytest.raises(rc.ConfigError, match=r"log_file .*run\.log"),
            rc.Runner(log_file=blocker / "run.log", **NO_SAVE),
        ):
            pass
        assert RC_LOGGER.handlers == before
        # the failed runner must not stay "active" in this context
        with rc.Runner(logging_setting="NONE", **NO_SAVE) as runner:
            assert runner.run_sync(halve, 8).answer == 4.0

    contextvars.copy_context().run(body)  # whatever it breaks stays in this copy


# --- two runners at once -----------------------------------------------------------------


def test_two_runners_in_two_threads_log_only_their_own_run(tmp_path: Path) -> None:
    def alpha(n: int) -> int:
        return n + 1

    def beta(n: int) -> int:
        return n - 1

    both_open = threading.Barrier(2, timeout=30)
    both_ran = threading.Barrier(2, timeout=30)
    logged = {"run-alpha": threading.Event(), "run-beta": threading.Event()}

    class Seen(logging.Handler):
        """Tells each thread when its run's node line has gone out to the handlers."""

        def emit(self, record: logging.LogRecord) -> None:
            run = getattr(record, "rc_run", None)
            if run in logged and "(node 0) succeeded" in record.getMessage():
                logged[run].set()

    results: dict[str, Any] = {}
    failures: list[BaseException] = []

    def work(run_id: str, node: Any, setting: str) -> None:
        try:
            with rc.Runner(
                run_identifier=run_id,
                logging_setting=setting,
                log_file=tmp_path / f"{run_id}.log",
                **NO_SAVE,
            ) as runner:
                both_open.wait()
                results[run_id] = runner.run_sync(node, 10).answer
                assert logged[run_id].wait(timeout=30)  # logged while the other runner is open
                both_ran.wait()
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            both_open.abort()
            both_ran.abort()

    before = list(RC_LOGGER.handlers)
    seen = Seen()
    RC_LOGGER.addHandler(seen)
    try:
        threads = [
            threading.Thread(target=work, args=("run-alpha", alpha, "VERBOSE")),
            threading.Thread(target=work, args=("run-beta", beta, "REGULAR")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        RC_LOGGER.removeHandler(seen)
    assert failures == []
    assert results == {"run-alpha": 11, "run-beta": 9}

    alpha_lines = (tmp_path / "run-alpha.log").read_text().splitlines()
    beta_lines = (tmp_path / "run-beta.log").read_text().splitlines()
    assert alpha_lines
    assert beta_lines
    assert all("[RC run-alph]" in line for line in alpha_lines), alpha_lines
    assert all("[RC run-beta]" in line for line in beta_lines), beta_lines
    assert not any("beta" in line for line in alpha_lines)
    assert not any("alpha" in line for line in beta_lines)
    assert "alpha (node 0) started with args=(10,) kwargs={}" in "\n".join(alpha_lines)
    assert "beta (node 0) started" in "\n".join(beta_lines)
    assert "args=" not in "\n".join(beta_lines)  # beta is REGULAR, though alpha is VERBOSE
    assert alpha_lines[-1].endswith("run run-alpha finished: succeeded")
    assert beta_lines[-1].endswith("run run-beta finished: succeeded")
    assert RC_LOGGER.handlers == before


# --- the shared stderr handler ------------------------------------------------------------


def test_stderr_lines_follow_a_redirect_made_between_runs() -> None:
    first, second = io.StringIO(), io.StringIO()
    for stream, run_id in ((first, "to-first"), (second, "to-second")):
        with contextlib.redirect_stderr(stream), rc.Runner(run_identifier=run_id, **NO_SAVE) as r:
            r.run_sync(halve, 4)
    assert "run to-first finished: succeeded" in first.getvalue()
    assert "to-second" not in first.getvalue()
    assert "run to-second finished: succeeded" in second.getvalue()
    assert "to-first" not in second.getvalue()


def open_together(settings: dict[str, str], body: Callable[[rc.Runner], Any]) -> dict[str, Any]:
    """Open a runner per (run id -> logging_setting) in threads of their own, all open at
    once; each calls `body(runner)` while all are open. Returns what each body returned."""
    opened = threading.Barrier(len(settings), timeout=30)
    ran = threading.Barrier(len(settings), timeout=30)
    results: dict[str, Any] = {}

    def work(run_id: str, setting: str) -> None:
        with rc.Runner(run_identifier=run_id, logging_setting=setting, **NO_SAVE) as runner:
            opened.wait()
            results[run_id] = body(runner)
            ran.wait()

    threads = [threading.Thread(target=work, args=item) for item in settings.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_open_runners_write_stderr_each_at_its_own_level() -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        answers = open_together(
            {"loud": "REGULAR", "hush": "QUIET"}, lambda r: r.run_sync(Halver, 4).answer
        )
    assert answers == {"loud": "half is 2.0", "hush": "half is 2.0"}
    lines = err.getvalue().splitlines()
    loud_lines = [line for line in lines if "[RC loud]" in line]
    hush_lines = [line for line in lines if "[RC hush]" in line]
    assert len(loud_lines) == 8, lines  # run start and end, three nodes' starts and ends
    assert len(hush_lines) == 1, lines  # QUIET: the one failure only, written once
    assert "halve (node 2) failed" in hush_lines[0]
    assert len(lines) == 9


def test_rc_records_of_no_run_are_written_once_with_two_runners_open() -> None:
    err = io.StringIO()

    def say(runner: rc.Runner) -> None:
        if runner.run_id == "one":
            logging.getLogger("RC.test").warning("about no run in particular")

    with contextlib.redirect_stderr(err):
        open_together({"one": "REGULAR", "two": "REGULAR"}, say)
    lines = [line for line in err.getvalue().splitlines() if "no run in particular" in line]
    assert len(lines) == 1
    assert "[RC -]" in lines[0]  # it belongs to neither run


# A program that configured no logging gets its lines written by the shared handler
# itself (no LogRecord); one that did gets them through logging. pytest configures
# logging, so both are run in a fresh interpreter, and must print the same lines.
WORKFLOW = """
    import logging, sys
    import requestcompletion as rc
    SETUP
    def fails():
        raise ValueError("no\\nway")
    with rc.Runner(run_identifier="logged", save_state=False) as runner:
        runner.run_sync(len, "abc")
        try:
            runner.run_sync(fails)
        except ValueError:
            pass
"""


def logged_run(setup: str) -> subprocess.CompletedProcess[str]:
    """WORKFLOW (two calls, the second failing) in a fresh interpreter, after `setup`
    (one line of logging configuration)."""
    return fresh_python(WORKFLOW.replace("SETUP", setup), timeout=60)


@pytest.mark.parametrize("configured", [False, True])
def test_the_same_lines_whether_or_not_the_program_configured_logging(configured: bool) -> None:
    # a root handler: records pass it too
    done = logged_run("logging.basicConfig(stream=sys.stdout)" if configured else "pass")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    messages = [line.split("] ", 1)[1] for line in lines]
    assert [m.split(" in ")[0].split(" after ")[0] for m in messages] == [
        "run logged started",
        "len (node 0) started",
        "len (node 0) succeeded",
        "fails (node 1) started",
        "fails (node 1) failed",
        "run logged finished: failed",  # its last request failed
    ]
    assert messages[4].endswith("ValueError: no\\nway")  # the newline escaped: one line
    # through logging (the root handler got every record too), or not at all
    assert len(done.stdout.splitlines()) == (6 if configured else 0), done.stdout


BROKEN_STDERR = """
    import io, sys
    import requestcompletion as rc
    out = sys.stdout
    if STDERR == "closed":
        sys.stderr = io.StringIO()
        sys.stderr.close()
    else:
        sys.stderr = None  # pythonw, or a daemon that dropped it
    with rc.Runner(run_identifier="no-stderr", state_dir=STATE_DIR) as runner:
        out.write(repr(runner.run_sync(len, "abcd").answer))
"""


@pytest.mark.parametrize("stderr", ["closed", "None"])
def test_a_run_goes_on_and_is_saved_when_stderr_cannot_be_written(
    tmp_path: Path, stderr: str
) -> None:
    program = BROKEN_STDERR.replace("STDERR", repr(stderr)).replace(
        "STATE_DIR", repr(str(tmp_path))
    )
    done = fresh_python(program, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4"
    assert rc.ExecutionInfo.load(tmp_path / "no-stderr.json").answer == 4


@pytest.mark.parametrize("level", ["NOTSET", "WARNING"])
def test_a_line_the_programs_own_stderr_handler_writes_is_not_written_twice(level: str) -> None:
    # to sys.stderr, as logging.basicConfig() makes, with a format of the program's own
    done = logged_run(
        f"handler = logging.StreamHandler(); handler.setLevel(logging.{level}); "
        "handler.setFormatter(logging.Formatter('mine %(levelname)s %(message)s')); "
        "logging.root.addHandler(handler)"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    failed = [line for line in lines if "fails (node 1) failed" in line]
    assert len(failed) == 1, lines  # once, in the program's own format
    assert failed[0].startswith("mine WARNING ")
    ours = [line for line in lines if "[RC logged]" in line]
    # what the program's handler does not write (below its level) rc still writes
    assert len(ours) == (0 if level == "NOTSET" else 5), lines
    assert len(lines) == 6, lines
