"""Runner (also Session): the lifecycle of a run — wire, run, save, close.

Opening a runner wires a config, a publisher, a state and a coordinator, and
makes the runner current for the code inside its block. Each top-level request
runs in a task the runner owns, under the runner's `timeout` (`RunControl.request`).
Closing cancels whatever is still running, waits for it, drains the subscribers,
shuts the strategies down, saves the run and removes what opening added: after
`__exit__`, nothing the runner started is left (`_opening.RunSetup` does both).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextvars import Token
from pathlib import Path
from types import TracebackType
from typing import Any

from . import _signals
from ._opening import RunSetup, new_run_id
from .config import ExecutorConfig, resolve_config
from .context import Host, current_host, current_runner, loop_running
from .errors import ContextError, RunError, RunnerCreationError
from .execution.control import Interrupt, RunControl
from .execution.coordinator import Coordinator
from .execution.strategy import ExecutionStrategy
from .pubsub.events import Event
from .pubsub.publisher import RCPublisher
from .state.info import ExecutionInfo
from .state.records import NodeRecord
from .state.replay import Replay, load_saved
from .state.state import RCState

__all__ = ["Runner", "Session", "open_hooks", "request", "request_sync"]

# Called with every runner as it opens, before its first event: extras that watch
# every run (rc.observability.otel.instrument) add themselves here. A tuple, replaced
# whole, so opening a runner reads it without a lock.
open_hooks: tuple[Callable[[Runner], None], ...] = ()


class Runner:
    """Runs nodes, records everything they do, and saves it.

    Args:
        executor_config: the run's config; fields it does not give come from
            `rc.set_config`, then the defaults.
        context: initial values of `rc.context`.
        execution_modes: strategies by mode name, merged over the built-ins
            ("asyncio", "threads", "distributed"; those are made on first use): a
            node whose `execution_mode` is "gpu" runs on ``execution_modes["gpu"]``.
            The runner calls each strategy's `shutdown` when it closes.
        **overrides: any `ExecutorConfig` field, taking precedence over both.

    Use it as `with rc.Runner() as runner:` (or `async with`, which also waits
    for async subscribers when it closes).

    Ctrl-C (and SIGTERM, while a runner is open in the main thread) cancels every
    running node, records them ``cancelled``, saves the run ``cancelled`` and
    re-raises `KeyboardInterrupt`. A program with a SIGTERM handler of its own
    keeps it: install it before opening the runner, and rc leaves SIGTERM alone.

    A node that raises `SystemExit` (`sys.exit()`) or `KeyboardInterrupt` ends the
    whole run, whatever `end_on_error` says: the node is recorded ``failed`` (a
    KeyboardInterrupt: ``cancelled``, as Ctrl-C), every other running node
    ``cancelled``, and the request (`run_sync`, `run`, a top-level `rc.call` or
    `rc.batch`) raises that very exception, so the program stops as it would in
    plain Python once the block has saved the run. Any other BaseException fails
    its node and is raised like an ordinary exception.

    Raises:
        ConfigError: a config value is not allowed.
    """

    def __init__(
        self,
        executor_config: ExecutorConfig | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        execution_modes: Mapping[str, ExecutionStrategy] | None = None,
        **overrides: Any,
    ) -> None:
        self.config = resolve_config(executor_config, overrides)
        if context is not None and not isinstance(context, Mapping):
            raise TypeError(f"context must be a mapping of names to values, not {context!r}")
        self.run_id: str = self.config.run_identifier or new_run_id()
        self.publisher = RCPublisher(self.run_id)
        self.state = RCState(self.run_id, self.publisher)
        self.control = RunControl(self.run_id, self.publisher, self.state, dict(context or {}))
        self.coordinator = Coordinator(self.control, self.state, self.config, execution_modes)
        self._run: dict[str, Any] = {}
        self._setup = RunSetup(self.config, self.control, self.coordinator, self._run)
        self._loop_runner: asyncio.Runner | None = None
        self._sync = threading.Lock()  # held while run_sync runs the run's loop
        self._token: Token[Runner | None] | None = None
        self._host_token: Token[Host | None] | None = None
        self._opened = False

    # --- opening -----------------------------------------------------------------

    def __enter__(self) -> Runner:
        self._open()
        return self

    async def __aenter__(self) -> Runner:
        self._open()
        self.control.bind(asyncio.get_running_loop())
        return self

    def _open(self) -> None:
        if self._opened:
            raise RunnerCreationError(
                f"runner {self.run_id!r} was already opened; make a new Runner for a new run"
            )
        other = current_runner.get()
        if other is not None and not other._setup.closed:
            raise RunnerCreationError(
                f"a runner ({other.run_id!r}) is already active here; runners do not nest. "
                f"Use rc.call inside the active runner, or open the new one in another "
                f"thread or task"
            )
        self._opened = True
        self._token = current_runner.set(self)
        self._host_token = current_host.set(self.coordinator)
        try:
            self._setup.open(self, open_hooks)
        except BaseException:
            # whatever failed, the runner that could not open is not current, and
            # nothing it started (handlers, journal, SIGTERM hold) stays behind
            self._setup.closed = True
            try:
                self._setup.undo()
            finally:
                self._forget()
            raise

    @property
    def variables(self) -> dict[str, Any]:
        """The run's `rc.context` variables (journaled while the run keeps a journal)."""
        return self.control.variables

    @property
    def saved_to(self) -> Path | None:
        """Where the run was saved when it closed (None before, or without `save_state`)."""
        return self._setup.saved_to

    @property
    def fatal(self) -> BaseException | None:
        """The error that ended the run (with `end_on_error`, or a `FatalError`), if any."""
        return self.control.fatal

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the run's requests run on, once one has run."""
        return self.control.loop

    # --- running ---------------------------------------------------------------

    def events(self) -> AsyncIterator[Event]:
        """`async for event in runner.events():` the run's events from now until it closes.

        It delivers the run's `RunStarted` first (whenever it is called), then
        every event published from the moment `events()` is called (not from the
        first step of the loop, so nothing in between is missed), in publication
        order, and ends after `RunFinished` when the runner closes. Other events
        published before the call are not replayed: read `runner.info` for what
        the run had already done.

        Raises:
            ContextError: the runner is closed (its events are over).
        """
        if self._setup.closed:
            raise ContextError(
                f"runner {self.run_id!r} is closed, so it has no more events; call "
                f"runner.events() before or while it runs, and read runner.info afterwards"
            )
        return self.publisher.events()

    @property
    def info(self) -> ExecutionInfo:
        """What the run has done so far (live)."""
        return ExecutionInfo(self.state, self._run)

    async def run(self, node: Any, /, *args: Any, **kwargs: Any) -> ExecutionInfo:
        """Run `node` as a top-level request; return the run's info (`info.answer` is its output).

        Raises:
            Whatever the node raised; GlobalTimeOutError past `timeout`.
        """
        record, _ = await self._request(node, args, kwargs)
        return ExecutionInfo(self.state, self._run, answer_of=record.id)

    def run_sync(self, node: Any, /, *args: Any, **kwargs: Any) -> ExecutionInfo:
        """`run` from synchronous code (no event loop may be running in this thread)."""
        record, _ = self._run_on_own_loop(self._request(node, args, kwargs))
        return ExecutionInfo(self.state, self._run, answer_of=record.id)

    def _run_on_own_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            self._check_open()
            if loop_running():
                raise ContextError(
                    "run_sync was called inside a running event loop; use `await runner.run(...)`"
                )
            # The run's loop busy in another thread (a thread node, or any other
            # thread): asyncio would schedule the request there anyway and then fail,
            # leaving it to run unseen. One run_sync at a time, from a thread that
            # is not inside the run.
            loop = self.control.loop
            if (loop is not None and loop.is_running()) or not self._sync.acquire(blocking=False):
                raise ContextError(
                    f"run_sync was called while runner {self.run_id!r} is already running "
                    f"requests on another thread (from a thread node, or a second thread); "
                    f"inside a node use rc.call_sync(...), and from another thread "
                    f"asyncio.run_coroutine_threadsafe(runner.run(...), runner.loop)"
                )
        except ContextError:
            coro.close()
            raise
        try:
            if self._loop_runner is None:
                self._loop_runner = asyncio.Runner()
            ok, value = _signals.run_interruptible(
                self._loop_runner, _boxed(coro), contextvars.copy_context()
            )
        finally:
            self._sync.release()
        if not ok:
            raise value
        return value

    async def _request(
        self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[NodeRecord, Any]:
        self._check_open()
        control = self.control
        if control.fatal is not None:
            raise control.fatal
        control.bind(asyncio.get_running_loop())
        record = self.coordinator.register(node, args, kwargs or None, None)
        task = asyncio.create_task(
            control.request(record, self.coordinator.submit, self.config.timeout)
        )
        requests = control.requests
        requests.add(task)  # while it runs, ending the run cancels it
        journal = self.state.journal
        try:
            output = await task
        except Interrupt as carried:
            stop = carried.error
        except BaseException as error:
            self._unwound(record)
            if isinstance(error, RunError) and error.info is None:
                error.info = self.info  # the run it ended, for whoever catches it
            raise
        else:
            if journal is not None:
                await journal.barrier()  # what a request did is with the OS before it returns
            return record, output
        finally:
            requests.discard(task)  # here, not in a done-callback: one loop callback less
        self._unwound(record)
        raise stop  # here, not in the except: its own __context__ stays as the node left it

    def _unwound(self, record: NodeRecord) -> None:
        """A request ended by an exception: its record is final and its journal flushed.

        The run's end (end_on_error, an interrupt) can cancel a request's task
        before its first step, and then none of its code ran to record that.
        """
        if record.status == "running" and record.task is None:
            self.state.cancel(record, self.control.cancel_reason())
        if self.state.journal is not None:
            self.state.journal.flush()

    def _check_open(self) -> None:
        if not self._opened or self._setup.closed:
            raise ContextError(
                f"runner {self.run_id!r} is not open; use it inside `with rc.Runner() as runner:`"
            )

    def cancel(self, node_id: int) -> bool:
        """Cancel a running node and everything under it; its caller gets NodeCancelledError.

        Safe to call from any thread. Returns False if the node is not running.

        Raises:
            KeyError: no node has that id.
        """
        records = self.state.records
        if not isinstance(node_id, int) or not 0 <= node_id < len(records):
            raise KeyError(f"run {self.run_id!r} has no node with id {node_id!r}")
        record = records[node_id]
        if record.status != "running":
            return False
        self.control.cancel(record)
        return True

    # --- closing ---------------------------------------------------------------

    def on_close(self, callback: Callable[[], Awaitable[Any] | None]) -> None:
        """Call `callback()` when the runner closes, once its nodes have stopped.

        For what a node opened lazily and the run shares (an MCP connection, say).
        An awaitable it returns is awaited when the runner closes on its loop; a
        runner closed with no loop to wait on only makes the call.
        """
        self._setup.closers.append(callback)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._loop_runner is not None:
                try:
                    # Not Runner.run: its SIGINT handler's install and removal (an enum
                    # conversion that formats the task's repr) cost 20-30 us, a fifth
                    # of a short run_sync, for a close that is over in microseconds.
                    self._loop_runner.get_loop().run_until_complete(self._setup.close_async(exc))
                finally:
                    self._loop_runner.close()
                    self._loop_runner = None
            else:
                self._setup.close_sync(exc)  # nothing ran on a loop of ours (or we are in one)
        finally:
            self._forget()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._setup.close_async(exc)
        finally:
            self._forget()

    def _forget(self) -> None:
        """Stop being the current runner (in the context that opened it)."""
        if self._token is not None and self._host_token is not None:
            try:
                current_host.reset(self._host_token)
                current_runner.reset(self._token)
            except ValueError:  # closed in another context than it was opened in
                current_host.set(None)
                current_runner.set(None)
            self._token = self._host_token = None

    @classmethod
    def from_state(
        cls,
        saved: str | os.PathLike[str] | ExecutionInfo,
        *,
        rerun: Any = (),
        answers: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Runner:
        """A new runner (a new run id) that replays the run `saved` where it still matches.

        A call whose parent matched and whose node type and inputs match a recorded
        call that succeeded, at the same place, returns the recorded output without
        running; an agent's model call whose request matches a recorded one gets the
        recorded response without reaching the provider. Everything else runs live.
        See docs/guides/resume.md for what must be deterministic for this to match.

        Args:
            saved: the path of a saved run (``.json``) or of the journal of one whose
                process died (``.journal``), or an `ExecutionInfo`.
            rerun: ids of recorded nodes to run live, with their ancestors (so the new
                outputs flow up); the rest replays where it still matches.
            answers: answers to the saved run's open questions, by their recorded ids
                (``"{node id}.{k}"``, as `requestcompletion show` lists them): the
                node that asked gets its answer, validated into the question's schema
                when it asks again. Questions without an answer stay open.
            **overrides: as for `Runner` (`executor_config`, `context`, any config field).

        Raises:
            SavedRunError: the file is missing, corrupt or from a newer schema version.
            KeyError: `rerun` names an id the saved run does not have, or `answers`
                one that is not an open question of it (the message lists them).
            HumanInputError: an answer cannot fit its question's saved JSON schema (or,
                at the ask, the node's own type).
            TypeError: `answers` is not a mapping of question ids (strings) to answers.
        """
        replay = Replay(load_saved(saved), rerun, answers)
        runner = cls(**overrides)
        runner._run["resumed_from"] = replay.source
        runner.state.replay = replay
        runner.coordinator.submit = replay.wrap(runner.coordinator.submit, runner.state)  # type: ignore[method-assign]
        return runner

    def __repr__(self) -> str:
        state = "closed" if self._setup.closed else "open" if self._opened else "new"
        return f"<Runner {self.run_id!r} {state}, {len(self.state.records)} nodes>"


Session = Runner


async def _boxed(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the exception): the loop's main task never ends with a
    user's exception, which is raised from `run_sync` itself instead. A BaseException
    is boxed too (the loop would let a SystemExit or KeyboardInterrupt break out of
    `run_until_complete`, leaving this task's exception unretrieved); only
    cancellation (Ctrl-C) passes through."""
    try:
        return True, await coro
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return False, exc


async def request(runner: Runner, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A top-level request of `runner`, in a task of its own, under its timeout; its output.

    For `rc.call` at the top of a runner block (not a method: it is not the
    runner's public face).
    """
    return (await runner._request(node, args, kwargs))[1]


def request_sync(runner: Runner, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`request` from synchronous code, on the runner's own loop: for `rc.call_sync`."""
    return runner._run_on_own_loop(runner._request(node, args, kwargs))[1]
