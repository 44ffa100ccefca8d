"""What opening a runner sets up outside its own objects, and how it is given back.

A runner's own objects (its config, publisher, state, coordinator) are plain
Python objects that go away with it. Opening it also reaches outside: handlers on
the `RC` logger, the config's `subscriber`, the run's journal file, the process's
SIGTERM handler (`_signals`), and whatever the hooks of extras add. `RunSetup`
does these in turn and remembers each one done, so that a failure half-way gives
back exactly what was set up (`undo`) and a close gives back all of it
(`release`). It also runs the close's steps in order (`close_async`/`close_sync`:
stop what runs, call the `on_close` callbacks, write the run's end, drain the
subscribers, release) and writes what the saved run says about the run as a
whole: the config summary, the resources used, and the file itself.
"""

from __future__ import annotations

import inspect
import os
import resource
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from . import _signals
from .config import ExecutorConfig
from .context import current_node
from .errors import ConfigError
from .execution.control import RunControl
from .execution.coordinator import Coordinator
from .observability.logging import RunLogging
from .pubsub.events import RunFinished, Streamed
from .pubsub.publisher import RCPublisher, _is_async
from .state.info import ExecutionInfo
from .state.journal import Journal, JournaledVariables
from .state.state import RCState

__all__ = ["RunSetup", "new_run_id"]


class RunSetup:
    """The outside things one runner opened: log handlers, journal, SIGTERM hold.

    Args:
        config: the run's config.
        control: the run's control state (its publisher, state and variables).
        coordinator: the run's coordinator (its modes go into the config summary).
        run: the run's fields, as the saved run shows them (filled at the end).
    """

    def __init__(
        self,
        config: ExecutorConfig,
        control: RunControl,
        coordinator: Coordinator,
        run: dict[str, Any],
    ) -> None:
        self.config = config
        self.control = control
        self.coordinator = coordinator
        self.run = run
        self.logging: RunLogging | None = None
        self.sigterm = False  # whether this runner holds SIGTERM (see _signals)
        self.cpu0 = 0.0
        self.saved_to: Path | None = None
        self.closed = False  # set as the close begins its end: no more requests
        self.closers: list[Callable[[], Awaitable[Any] | None]] = []  # runner.on_close

    @property
    def publisher(self) -> RCPublisher:
        return self.control.publisher

    @property
    def state(self) -> RCState:
        return self.control.state

    def open(self, runner: Any, hooks: Iterable[Callable[[Any], None]]) -> None:
        """Set everything up in order; after a failure, `undo` gives back what was done.

        Args:
            runner: the runner being opened, handed to each hook.
            hooks: called with the runner before its first event (`runner.open_hooks`).

        Raises:
            ConfigError: the log file cannot be opened.
        """
        config, publisher, run_id = self.config, self.publisher, self.control.run_id
        self.cpu0 = time.process_time()
        try:
            self.logging = RunLogging.attach(config, run_id, publisher)
        except OSError as error:
            raise ConfigError(
                f"log_file {os.fspath(config.log_file or '')!r} cannot be opened: "
                f"{error}; give a writable file path, or log_file=None"
            ) from error
        subscriber = config.subscriber
        if subscriber is not None:
            publisher.subscribe(
                _items_to(subscriber), filter=_is_streamed, name="ExecutorConfig.subscriber"
            )
        if config.save_state:
            self._open_journal()
        self.sigterm = _signals.hold_sigterm()
        for hook in hooks:
            hook(runner)
        publisher.start(self.state.t0)

    def _open_journal(self) -> None:
        state, config, control = self.state, self.config, self.control
        journal = Journal.start(
            Path(config.state_dir), state, self.config_summary(), config.journal_fsync
        )
        state.journal = journal
        if journal is not None:  # what nodes read and write, journaled
            control.variables = JournaledVariables(control.variables, journal, _node_writing)

    def undo(self) -> None:
        """Give back what a failed `open` set up: the runner never opened."""
        self._let_go()
        journal = self.state.journal
        if journal is not None:
            journal.close({"outcome": "failed"})
            journal.remove()
        self.publisher.close()

    # --- closing -----------------------------------------------------------------

    async def close_async(self, exc: BaseException | None) -> None:
        """Close on the run's loop: stop what runs, call the closers, drain, release.

        Args:
            exc: what left the runner's block, if anything.
        """
        if self.state.running:
            await self.control.reap()
        closers, self.closers = self.closers, []
        for callback in closers:
            result = callback()
            if result is not None:
                await result
        self.finish(exc)
        await self.publisher.aclose()
        self.release()

    def close_sync(self, exc: BaseException | None) -> None:
        """Close with no loop to wait on: what still runs is cancelled, not waited for."""
        state = self.state
        for record in state.running_records():
            if record.task is not None:
                record.task.cancel()
            state.cancel(record, "the runner closed")
        closers, self.closers = self.closers, []
        for callback in closers:
            result = callback()
            if inspect.iscoroutine(result):
                result.close()  # nothing here can wait for it
        self.finish(exc)
        self.publisher.close()
        self.release()

    def finish(self, exc: BaseException | None) -> None:
        """Mark the runner closed, write the run's end into its fields, publish it."""
        self.closed = True
        outcome = self.control.outcome(exc)
        state = self.state
        wall = time.perf_counter() - state.t0
        self.run.update(
            outcome=outcome,
            ended_at=state.wall0 + wall,
            config=self.config_summary(),
            resources={
                "wall_time_s": wall,
                "cpu_time_s": time.process_time() - self.cpu0,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            },
        )
        publisher = self.publisher
        if publisher.active:
            run_id = self.control.run_id
            publisher.publish(RunFinished(run_id, None, None, None, time.perf_counter(), outcome))

    def release(self) -> None:
        """After the run's nodes and subscribers are done: shut down, save, give back."""
        try:
            self.coordinator.shutdown()
            if self.config.save_state:
                self._save()
        finally:
            self._let_go()
            self.control.variables.clear()

    def _let_go(self) -> None:
        if self.sigterm:
            self.sigterm = False
            _signals.release_sigterm()
        logging, self.logging = self.logging, None
        if logging is not None:
            logging.detach()

    def _save(self) -> None:
        journal, run, run_id = self.state.journal, self.run, self.control.run_id
        if journal is not None:
            journal.close({k: run.get(k) for k in ("outcome", "ended_at", "resources")})
        target = Path(self.config.state_dir) / f"{run_id}.json"
        try:
            # overwrite=False: a second runner with this run_identifier gets {id}.2.json
            self.saved_to = ExecutionInfo(self.state, run).save(
                target, overwrite=False, fsync=self.config.journal_fsync
            )
            if journal is not None:
                journal.remove()  # only once the JSON is there: until then it is the run
        except Exception as error:  # saving must never turn a run's end into a crash
            kept = "" if journal is None else f" (its journal {os.fspath(journal.path)!r} is kept)"
            warnings.warn(
                f"could not save run {run_id!r} to {os.fspath(target)!r}: {error}. "
                f"The run's result is unaffected{kept}; set state_dir to a writable folder "
                f"or save_state=False",
                RuntimeWarning,
                stacklevel=3,  # _save < release < close_async / close_sync
            )

    def config_summary(self) -> dict[str, Any]:
        """The config as the saved run shows it, with the run id and the runner's modes."""
        summary = self.config.summary()
        summary["run_identifier"] = self.control.run_id
        summary["execution_modes"] = list(self.coordinator.modes)
        return summary


def new_run_id() -> str:
    """A fresh run id: `str(uuid.uuid4())` without making a `UUID` (about half the cost)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _is_streamed(event: Any) -> bool:
    return isinstance(event, Streamed)


def _node_writing() -> int | None:
    """The id of the node running here (for the journal's context writes)."""
    record = current_node.get()
    return None if record is None else record.id


def _items_to(subscriber: Any) -> Any:
    """Adapt the config's `subscriber` (which gets stream items) to an event callback."""
    if _is_async(subscriber):

        async def deliver_async(event: Any) -> None:
            await subscriber(event.item)

        return deliver_async

    def deliver(event: Any) -> None:
        subscriber(event.item)

    return deliver
