"""RunControl: the run-control state of one run, given to the coordinator instead of the runner.

Whoever runs nodes needs a few facts about the run as a whole: whether it has
ended (and by which error), why running nodes are being cancelled, which
top-level request tasks it owns, and on which loop it runs. They live here, in
one object, so that the coordinator and the strategies depend on this small
thing and never on the `Runner` above them (whose job is the lifecycle: open,
close, save).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import GlobalTimeOutError
from ..pubsub.events import FatalFailure
from ..pubsub.publisher import RCPublisher
from ..state.records import NodeRecord, error_text
from ..state.state import RCState

__all__ = ["Interrupt", "RunControl", "carried"]

T = TypeVar("T")


class Interrupt(Exception):
    """Carries a `KeyboardInterrupt` or `SystemExit` a node raised out of a task rc owns.

    asyncio lets those two break out of the event loop from whichever task
    raised them: the loop stops mid-step, the task's exception is never
    retrieved ("Task exception was never retrieved") and the run could not be
    closed. So inside rc they travel in this ordinary exception, and the runner
    raises `error` again, unchanged, in the frame of whoever made the request.

    Args:
        error: the exception the node raised.
    """

    def __init__(self, error: KeyboardInterrupt | SystemExit) -> None:
        super().__init__(error)
        self.error = error


async def carried(awaitable: Awaitable[T]) -> T:
    """Await `awaitable` in a task of rc's own: an interrupt comes out in an `Interrupt`."""
    try:
        return await awaitable
    except (KeyboardInterrupt, SystemExit) as error:
        raise Interrupt(error) from None


_STOPPED = (asyncio.CancelledError, KeyboardInterrupt)  # a run stopped from outside


class RunControl:
    """The run's fatal error, its owned request tasks, cancellation and its loop.

    Args:
        run_id: the run's id (for events).
        publisher: where `FatalFailure` is published when the run ends.
        state: the run's records (to find what is still running).
        variables: the run's `rc.context` variables.
    """

    def __init__(
        self, run_id: str, publisher: RCPublisher, state: RCState, variables: dict[str, Any]
    ) -> None:
        self.run_id = run_id
        self.publisher = publisher
        self.state = state
        self.variables = variables
        self.fatal: BaseException | None = None  # the error that ended the run, if any
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        # the top-level request tasks while they run (their runner adds and removes them)
        self.requests: set[asyncio.Task[Any]] = set()
        self.timed_out = False  # a top-level request ran past the runner's timeout

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on `loop` from now on (the loop the run's requests run on)."""
        if self.loop is not loop:
            self.loop = loop
            self.loop_thread = threading.get_ident()
            self.publisher.bind(loop)

    def end_run(self, error: BaseException) -> None:
        """End the whole run because of `error`: cancel every top-level request."""
        if self.fatal is not None:
            return
        self.fatal = error
        if self.publisher.active:
            self.publisher.publish(
                FatalFailure(self.run_id, None, None, None, time.perf_counter(), error)
            )
        for task in list(self.requests):
            task.cancel()

    def cancel_reason(self) -> str:
        """Why running nodes are being cancelled now."""
        if self.fatal is not None:
            return f"the run ended: {error_text(self.fatal)}"  # safe from a raising __str__
        return "cancelled"

    def outcome(self, exc: BaseException | None) -> str:
        """How the run ended, for its saved file: `exc` is what left the runner's block."""
        if self.timed_out or isinstance(exc, GlobalTimeOutError):
            return "timeout"
        state = self.state
        if state.extras and any(q.get("status") == "open" for q in state.questions()):
            return "waiting"  # rc.ask: a question is left for a human to answer
        if isinstance(self.fatal, KeyboardInterrupt):
            return "cancelled"  # raised in a node: the same as Ctrl-C
        stopped = isinstance(exc, _STOPPED)
        if self.fatal is not None or (exc is not None and not stopped):
            return "failed"
        records = state.records
        statuses = {records[i].status for i in state.roots}
        if "failed" in statuses:
            return "failed"
        if "cancelled" in statuses or stopped:
            return "cancelled"
        return "succeeded"

    async def request(
        self,
        record: NodeRecord,
        submit: Callable[[NodeRecord], Awaitable[Any]],
        seconds: float | None,
    ) -> Any:
        """Run a registered top-level request (in a task of its own) within `seconds`.

        Args:
            record: the request's registered call.
            submit: what runs it (`Coordinator.submit`).
            seconds: the runner's timeout; None for no limit.

        Raises:
            Whatever the node raised; the run's fatal error if the run ended;
            GlobalTimeOutError past `seconds` (everything under it cancelled).
        """
        scope = None if seconds is None else asyncio.timeout(seconds)
        try:
            if scope is None:  # no limit: no timeout scope to enter and leave
                return await submit(record)
            async with scope:
                return await submit(record)
        except BaseException as error:
            if self.state.running:
                await self._reap_after(record)
            fatal = self.fatal
            if isinstance(fatal, KeyboardInterrupt | SystemExit):
                raise Interrupt(fatal) from None  # out of this task only in a carrier
            if fatal is not None and error is not fatal:
                raise fatal from None
            if scope is not None and isinstance(error, TimeoutError) and scope.expired():
                self.timed_out = True
                raise GlobalTimeOutError(
                    f"request {record.spec.name!r} (node {record.id}) ran past the runner's "
                    f"timeout of {seconds}s; everything under it was cancelled. "
                    f"Raise ExecutorConfig.timeout, or set it to None for no limit"
                ) from None
            raise

    async def _reap_after(self, record: NodeRecord) -> None:
        """Stop what is still running under `record`, even if the run's end cancelled us.

        A node of this very task that ends the run (end_on_error, FatalError)
        cancels this task too; that cancellation is still pending while the error
        unwinds, and would land on the first await here: the user would get a
        bare CancelledError instead of the run's error, and the children would
        not be waited for. So it is taken once, and the reaping finished.
        """
        try:
            await self.reap(record)
        except asyncio.CancelledError:
            if self.fatal is None:
                raise  # a cancellation from outside the run: honour it
            await self.reap(record)

    def cancel(self, record: NodeRecord) -> None:
        """Cancel a running node and everything under it, from any thread."""
        loop = self.loop
        if loop is not None and threading.get_ident() != self.loop_thread:
            loop.call_soon_threadsafe(_cancel_record, record)
        else:
            _cancel_record(record)

    async def reap(self, root: NodeRecord | None = None) -> None:
        """Cancel nodes still running (under `root`, or all) and wait for them to stop."""
        current = asyncio.current_task()
        tasks = set()
        for record in self.state.running_records():
            if root is not None and _root_of(record) is not root:
                continue
            task = record.task
            if task is None or task.done():
                self.state.cancel(record, self.cancel_reason())
            elif task is not current:
                task.cancel()
                tasks.add(task)
        if tasks:
            await asyncio.wait(tasks)


def _cancel_record(record: NodeRecord) -> None:
    if record.status == "running":
        record.cancel_requested = True
        if record.task is not None:  # else it is cancelled as soon as it starts
            record.task.cancel()


def _root_of(record: NodeRecord) -> NodeRecord:
    while record.parent is not None:
        record = record.parent
    return record
