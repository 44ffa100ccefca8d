"""Logging: the `RC` logger tree, and the per-run handlers a runner adds and removes.

A runner with a `logging_setting` other than NONE subscribes a logging callback
to its publisher and adds a stderr handler (and a file handler for `log_file`)
to the `RC` logger, filtered to its own run. `detach` removes exactly what
`attach` added.

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
_active_levels: list[int] = []  # one entry per attached runner; the RC logger admits the lowest
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


class RunLogging:
    """The logging a runner added: handlers on `RC` and a subscriber that writes to them."""

    def __init__(self, run_id: str, level: int, verbose: bool) -> None:
        self.run_id = run_id
        self.level = level
        self.verbose = verbose
        self.handlers: list[logging.Handler] = []
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
        formatter = logging.Formatter(_FORMAT, "%H:%M:%S")
        handlers: list[logging.Handler] = []
        if config.log_file is not None:  # first: the one that can fail
            handlers.append(logging.FileHandler(os.fspath(config.log_file), encoding="utf-8"))
        handlers.append(logging.StreamHandler(sys.stderr))
        for handler in handlers:
            handler.setLevel(level)
            handler.setFormatter(formatter)
            handler.addFilter(_RunFilter(run_id))
            logger.addHandler(handler)
        self.handlers = handlers
        _admit(level)
        subscribe = publisher.subscribe if self.verbose else publisher.subscribe_inline
        subscribe(self.log_event, name="RC logging")
        return self

    def detach(self) -> None:
        """Remove and close every handler `attach` added."""
        for handler in self.handlers:
            logger.removeHandler(handler)
            handler.close()
        self.handlers = []
        _release(self.level)

    def log_event(self, event: ev.Event) -> None:
        """Write one event as a log line."""
        level, message = self.describe(event)
        if level >= self.level:
            logger.log(level, _one_line(message), extra=self.extra)

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


def _admit(level: int) -> None:
    global _level_before
    with _lock:
        if not _active_levels:
            _level_before = logger.level
        _active_levels.append(level)
        logger.setLevel(min(_active_levels))


def _release(level: int) -> None:
    with _lock:
        if level in _active_levels:
            _active_levels.remove(level)
        logger.setLevel(
            min(_active_levels) if _active_levels else (_level_before or logging.NOTSET)
        )
