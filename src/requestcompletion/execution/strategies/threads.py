"""ThreadedExecutionStrategy: run a plain `def` node on a thread, off the event loop.

The node's context (current runner and node, so `rc.call_sync`, `rc.stream` and
`rc.context` work inside it) is copied into the thread. When the node is
cancelled or times out, the caller stops waiting and the node is recorded as
cancelled, but Python cannot stop a running thread: the function runs on until
it returns, and its result is dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Awaitable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..strategy import ExecutionStrategy, NodeTask

__all__ = ["ThreadedExecutionStrategy"]

logger = logging.getLogger("RC.execution")


class ThreadedExecutionStrategy(ExecutionStrategy):
    """A bounded thread pool, started on first use and shut down with the runner.

    Args:
        max_workers: threads in the pool; default `ThreadPoolExecutor`'s.
    """

    name = "threads"
    grace = 2.0  # seconds shutdown waits for thread nodes still running

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._active = 0
        self._idle = threading.Condition()

    def execute(self, task: NodeTask) -> Awaitable[Any]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="rc-node")
        with self._idle:
            self._active += 1
        future = self._pool.submit(contextvars.copy_context().run, task.work)
        future.add_done_callback(self._done)
        return asyncio.wrap_future(future)

    def _done(self, _: Future[Any]) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with self._idle:  # give nodes that were cancelled a moment to return
            self._idle.wait_for(lambda: not self._active, timeout=self.grace)
        if self._active:
            logger.warning(
                "%d thread node(s) still running when the runner closed; Python cannot stop "
                "a thread, so they finish on their own and their results are dropped",
                self._active,
            )
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown(wait=True)
