"""Coordinator: runs one registered call on its strategy and records how it ended.

`submit` is the frame every node runs inside. It sets the current node, picks
the strategy, applies the node's own timeout, and turns the outcome into a
state change: finished, failed, or cancelled. It is also where the run's
cancellations stop: a cancellation aimed at this node by `runner.cancel` is
absorbed here and becomes a `NodeCancelledError` for the caller; any other
cancellation (a timeout above, the run ending) passes on up.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import TYPE_CHECKING, Any

from ..context import current_node
from ..errors import FatalError, NodeCancelledError, NodeTimeoutError
from ..state.records import NodeRecord
from ..state.state import RCState
from .strategies import AsyncioStrategy, ThreadedExecutionStrategy
from .strategy import ExecutionStrategy

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["Coordinator"]

# Inline calls nest coroutine frames; every so many levels a node starts in a
# fresh task, whose stack starts empty, so deep recursion never hits the limit.
FRESH_TASK_EVERY = 64

if sys.version_info < (3, 12):
    # On 3.11 asyncio.current_task() is Python code that looks the loop up again;
    # the loop's entry in this (C) dict is the same answer at a fifth of the cost.
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

    def _task_of(loop: asyncio.AbstractEventLoop | None) -> asyncio.Task[Any] | None:
        task: asyncio.Task[Any] | None = _current_tasks.get(loop)
        return task

else:  # pragma: no cover - C-accelerated there

    def _task_of(loop: asyncio.AbstractEventLoop | None) -> asyncio.Task[Any] | None:
        return asyncio.current_task(loop)


class Coordinator:
    """Routes calls to execution strategies and records their outcomes."""

    def __init__(self, runner: Runner, state: RCState) -> None:
        self.runner = runner
        self.state = state
        self.end_on_error = runner.config.end_on_error
        self.strategies: dict[str, ExecutionStrategy] = {"asyncio": AsyncioStrategy()}
        config = runner.config
        # The runner's default mode matters for "distributed" (everything to the
        # cluster); "asyncio" and "threads" are what each kind of node gets anyway.
        self.default_mode = "distributed" if config.execution_mode == "distributed" else None
        self.limit = (
            None if config.max_concurrency is None else asyncio.Semaphore(config.max_concurrency)
        )
        self._holding: set[int] = set()  # ids of nodes holding a max_concurrency slot
        self._waiting_on: dict[int, int] = {}  # node id -> children of it still alive

    def strategy(self, mode: str) -> ExecutionStrategy:
        """The strategy for an execution mode, started on first use."""
        strategy = self.strategies.get(mode)
        if strategy is None:
            config = self.runner.config
            if mode == "threads":
                strategy = ThreadedExecutionStrategy(config.max_threads)
            elif mode == "distributed":  # imported here: Ray is an optional extra
                ray_strategies = importlib.import_module(".strategies.ray", __package__)
                strategy = ray_strategies.DistributedExecutionStrategy.from_config(config)
            else:
                raise NotImplementedError(f"unknown execution mode {mode!r}")
            self.strategies[mode] = strategy
        return strategy

    async def submit(self, record: NodeRecord) -> Any:
        """Run a registered call to its end; return its output or raise its error."""
        spec = record.spec
        mode = spec.mode if self.default_mode is None or spec.explicit_mode else self.default_mode
        limited = self.limit is not None and await self._take_slot(record)
        token = current_node.set(record)
        task = record.task = _task_of(self.runner.loop)
        try:
            # inside the try: a strategy that cannot start (Ray missing) fails this node
            strategy = self.strategies.get(mode) or self.strategy(mode)
            if record.cancel_requested:  # cancelled between registration and now
                raise asyncio.CancelledError
            if spec.timeout is not None:
                output = await self._with_timeout(strategy, record, spec.timeout)
            elif record.depth % FRESH_TASK_EVERY or not record.depth:
                output = await strategy.execute(record)
            else:
                output = await asyncio.create_task(_awaited(strategy.execute(record)))
        except asyncio.CancelledError:
            if record.cancel_requested:  # aimed at this node: the cancellation stops here
                if task is not None and task.cancelling():
                    task.uncancel()
                error = NodeCancelledError(
                    f"node {spec.name!r} (id {record.id}) was cancelled by runner.cancel"
                )
                self.state.cancel(record, "cancelled by runner.cancel", error)
                raise error from None
            self.state.cancel(record, self.runner.cancel_reason())
            raise
        except BaseException as error:
            self.state.fail(record, error)
            if self.end_on_error or isinstance(error, FatalError):
                self.runner.end_run(error)
            raise
        finally:
            current_node.reset(token)
            if limited:
                await self._give_slot(record)
        if self.runner.fatal is not None:  # the run ended while this node was finishing
            self.state.cancel(record, self.runner.cancel_reason())
            raise asyncio.CancelledError
        self.state.finish(record, output)
        return output

    async def _take_slot(self, record: NodeRecord) -> bool:
        """Wait for a max_concurrency slot.

        A node waiting on children it called is not running its own code, so
        its slot is lent out while any child it called is alive, and taken back
        when the last one ends: chains deeper than the limit cannot deadlock.
        """
        assert self.limit is not None
        parent = record.parent
        if parent is not None:
            waiting = self._waiting_on
            waiting[parent.id] = waiting.get(parent.id, 0) + 1
            if parent.id in self._holding:
                self._holding.discard(parent.id)
                self.limit.release()
        try:
            await self.limit.acquire()
        except asyncio.CancelledError:
            self.state.cancel(record, self.runner.cancel_reason())
            await self._give_slot(record)
            raise
        self._holding.add(record.id)
        return True

    async def _give_slot(self, record: NodeRecord) -> None:
        """Free this node's slot; the caller takes one back when its last child ends."""
        assert self.limit is not None
        if record.id in self._holding:
            self._holding.discard(record.id)
            self.limit.release()
        parent = record.parent
        if parent is None:
            return
        left = self._waiting_on[parent.id] - 1
        if left:
            self._waiting_on[parent.id] = left
            return
        del self._waiting_on[parent.id]
        if parent.status == "running":
            await self.limit.acquire()
            self._holding.add(parent.id)

    async def _with_timeout(
        self, strategy: ExecutionStrategy, record: NodeRecord, seconds: float
    ) -> Any:
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await strategy.execute(record)
        except TimeoutError:
            if not scope.expired():
                raise  # the node's own TimeoutError, not ours
            raise NodeTimeoutError(
                f"node {record.spec.name!r} (id {record.id}) ran past its timeout of "
                f"{seconds}s; raise the node's timeout or make it faster"
            ) from None

    def shutdown(self) -> None:
        """Shut every strategy down."""
        for strategy in self.strategies.values():
            strategy.shutdown()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
