"""Logging: the `RC` logger tree, and the handlers runners add and remove.

A runner with a `logging_setting` other than NONE subscribes a logging callback
to its publisher. Its lines go to stderr through one handler all logging runners
share (on the `RC` logger while any is open; each run's lines at its own level),
and to a file handler of its own for `log_file`, filtered to its run. `detach`
removes exactly what `attach` added.

    VERBOSE  every event, with inputs and outputs      (DEBUG)
    REGULAR  one line per node start and finish         (INFO)
    QUIET    failures only                              (WARNING)
    NONE     nothing

No setting needs a thread of the runner's own. At REGULAR and QUIET the lines are
written where the run's events are handed over (on the runner's loop, batched, or
in its close): a line or two per node costs less than handing a short run's
events to another thread and waiting for it at close. VERBOSE formats every
input and output, which can take long, so it is written on the process's
delivery thread like any sync subscriber's callback.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from .._text import escape_controls
from ..config import ExecutorConfig
from ..pubsub import events as ev
from ..pubsub.publisher import RCPublisher
from ..state.records import error_text

__all__ = ["RunLogging"]

logger = logging.getLogger("RC")
LEVELS = {"VERBOSE": logging.DEBUG, "REGULAR": logging.INFO, "QUIET": logging.WARNING}
_FORMAT = "%(asctime)s %(levelname)-7s [RC %(rc_short)s] %(message)s"

_lock = threading.Lock()
_level_before: int | None = None


def _short(text: Any, limit: int = 200) -> str:
    try:
        out = repr(text)
    except Exception:
        out = "<unrepresentable>"
    return out if len(out) <= limit else out[: limit - 3] + "..."


_MAX_LINE = 2_000


def _one_line(text: str) -> str:
    """`text` as one log line: user data cannot forge a line (newlines and other control
    characters escaped) nor flood the log (cut; the saved run keeps the whole text)."""
    text = escape_controls(text)
    if len(text) <= _MAX_LINE:
        return text
    return f"{text[:_MAX_LINE]}… ({len(text) - _MAX_LINE:,} more characters in the saved run)"


class _RunFilter(logging.Filter):
    """Let through this run's records, and rc's records that belong to no run."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.short = run_id[:8]

    def filter(self, record: logging.LogRecord) -> bool:
        run = getattr(record, "rc_run", None)
        if run is None:
            record.rc_short = self.short
            return True
        return bool(run == self.run_id)


class _Stderr(logging.StreamHandler[Any]):
    """The one stderr handler every logging runner shares, while any is open.

    A handler per runner cost a short run more than its lines (a lock, a
    registration with `logging` and a formatter each). This one is made once and
    is on the `RC` logger only while some runner logs. It writes to whatever
    `sys.stderr` is when a line is written (a redirect made between two runs is
    followed), each run's records at that run's own level, and rc's records of no
    run once, at the lowest level open. A record that a handler of the program's
    own writes to the same stream is left to it (no line twice).
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
        self.open: list[tuple[str, int]] = []  # (run id, level) of each logging runner
        self.runs: dict[str, int] = {}  # run id -> its lowest level: made from `open`

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ sets it
        pass

    def alone(self) -> bool:
        """Whether a line of rc's would reach this handler and no other, nor any filter:
        the `RC` logger has no other handler (but rc's `NullHandler`) and no filter, and
        nothing above it handles what it passes on (no logging configured). Then
        `write_line` writes it as the formatter would, without the record, filters and
        locks of `logging`: a tenth of the cost, for the program that left logging alone."""
        if logger.filters or self.filters or (logger.propagate and logging.root.handlers):
            return False
        for handler in logger.handlers:
            if handler is not self and type(handler) is not logging.NullHandler:
                return False
        return True

    def write_line(self, level: int, text: str, short: str) -> bool:
        """Write one line as the formatter would; False (nothing written) on any error,
        for `logging` to report the usual way."""
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime())
            line = f"{stamp} {logging.getLevelName(level):<7} [RC {short}] {text}\n"
            with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
                stream = sys.stderr
                stream.write(line)
                stream.flush()
        except Exception:
            return False
        return True

    def filter(self, record: logging.LogRecord) -> bool:
        if _echoed(record):
            return False
        run = getattr(record, "rc_run", None)
        if run is None:
            runs = self.runs
            record.rc_short = next(iter(runs))[:8] if len(runs) == 1 else "-"
            return True
        level = self.runs.get(run)
        return level is not None and record.levelno >= level


def _echoed(record: logging.LogRecord) -> bool:
    """Whether a handler of the program's own writes `record` to this `sys.stderr`
    already (`logging.basicConfig()` adds one): rc's line would show it twice."""
    stream = sys.stderr
    for owner in (logger, logging.root) if logger.propagate else (logger,):
        for handler in owner.handlers:
            if (
                handler is not _stderr
                and isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and handler.stream is stream
                and record.levelno >= handler.level
            ):
                return True
    return False


_stderr = _Stderr()


class RunLogging:
    """The logging a runner added: handlers on `RC` and a subscriber that writes to them."""

    def __init__(self, run_id: str, level: int, verbose: bool) -> None:
        self.run_id = run_id
        self.level = level
        self.verbose = verbose
        self.file: logging.Handler | None = None
        self.extra = {"rc_run": run_id, "rc_short": run_id[:8]}

    @classmethod
    def attach(
        cls, config: ExecutorConfig, run_id: str, publisher: RCPublisher
    ) -> RunLogging | None:
        """Add handlers and the logging subscriber for a run; None for logging_setting NONE."""
        level = LEVELS.get(config.logging_setting)
        if level is None:
            return None
        self = cls(run_id, level, config.logging_setting == "VERBOSE")
        if config.log_file is not None:  # first: the one that can fail
            handler = logging.FileHandler(os.fspath(config.log_file), encoding="utf-8")
            handler.setLevel(level)
            handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
            handler.addFilter(_RunFilter(run_id))
            logger.addHandler(handler)
            self.file = handler
        _admit(run_id, level)
        subscribe = publisher.subscribe if self.verbose else publisher.subscribe_inline
        subscribe(self.log_event, name="RC logging")
        return self

    def detach(self) -> None:
        """Remove (and close) every handler `attach` added."""
        handler, self.file = self.file, None
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()
        _release(self.run_id)

    def log_event(self, event: ev.Event) -> None:
        """Write one event as a log line."""
        level, message = self.describe(event)
        if level < self.level or not logger.isEnabledFor(level):
            return
        text = _one_line(message)
        if _stderr.alone() and _stderr.write_line(level, text, self.extra["rc_short"]):
            return
        # the record made here, not by logger.log: its caller lookup walks the stack
        # for a place in rc's own code, which tells a reader nothing
        record = logger.makeRecord(
            logger.name, level, __file__, 0, text, (), None, None, self.extra
        )
        logger.handle(record)

    def describe(self, event: ev.Event) -> tuple[int, str]:
        who = f"{event.node_name} (node {event.node_id})"
        verbose = self.verbose
        match event:
            case ev.RequestCreated(args=args, kwargs=kwargs):
                inputs = (
                    f" with args={_short(args)} kwargs={_short(kwargs or {})}" if verbose else ""
                )
                return logging.INFO, f"{who} started{inputs}"
            case ev.RequestSucceeded(output=output, duration=duration):
                result = f" -> {_short(output)}" if verbose else ""
                return logging.INFO, f"{who} succeeded in {duration * 1000:.2f} ms{result}"
            case ev.RequestFailed(error=error, duration=duration):
                return logging.WARNING, (
                    f"{who} failed after {duration * 1000:.2f} ms: {error_text(error)}"
                )
            case ev.RequestCreationFailed(error=error):
                return logging.WARNING, f"{who} could not be created: {error}"
            case ev.RequestCancelled(reason=reason, duration=duration):
                return logging.INFO, f"{who} cancelled after {duration * 1000:.2f} ms ({reason})"
            case ev.FatalFailure(error=error):
                return logging.ERROR, f"the run ended because of {error_text(error)}"
            case ev.RunStarted():
                return logging.INFO, f"run {event.run_id} started"
            case ev.RunFinished(outcome=outcome):
                return logging.INFO, f"run {event.run_id} finished: {outcome}"
            case ev.Streamed(item=item):
                return logging.DEBUG, f"{who} streamed {_short(item)}"
            case ev.LLMResponseReceived():
                return logging.INFO, (
                    f"{who} got a reply from {event.provider}:{event.model} in "
                    f"{event.latency * 1000:.0f} ms ({event.input_tokens} in, "
                    f"{event.output_tokens} out tokens)"
                )
        return logging.DEBUG, f"{type(event).__name__} {who}"


def _admit(run_id: str, level: int) -> None:
    global _level_before
    with _lock:
        if not _stderr.open:
            _level_before = logger.level
            logger.addHandler(_stderr)
        _stderr.open.append((run_id, level))
        _levels_changed()


def _release(run_id: str) -> None:
    with _lock:
        entries = _stderr.open
        for at, (run, _) in enumerate(entries):
            if run == run_id:
                del entries[at]
                break
        else:
            return
        if not entries:
            logger.removeHandler(_stderr)
        _levels_changed()


def _levels_changed() -> None:
    """(under _lock) Each run's level for the stderr handler; the lowest for the logger."""
    runs: dict[str, int] = {}
    for run, level in _stderr.open:
        runs[run] = min(level, runs.get(run, level))
    _stderr.runs = runs  # replaced, not changed: other threads' filters read it unlocked
    lowest = min(runs.values()) if runs else (_level_before or logging.NOTSET)
    if logger.level != lowest:  # setLevel clears every logger's cache: only on a change
        logger.setLevel(lowest)
