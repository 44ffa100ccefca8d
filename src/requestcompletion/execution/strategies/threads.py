"""ThreadedExecutionStrategy: run a plain `def` node on a thread, off the event loop.

The node's context (current runner and node, so `rc.call_sync`, `rc.stream` and
`rc.context` work inside it) is copied into the thread. When the node is
cancelled or times out, the caller stops waiting and the node is recorded as
cancelled, but Python cannot stop a running thread: the function runs on until
it returns, and its result is dropped.

The pool's threads are daemon threads, so a node still running (or sleeping)
after the runner closed never keeps the interpreter from exiting: at exit it is
simply stopped where it is, without running its `finally` blocks or context
managers. (`ThreadPoolExecutor`'s own threads are joined at exit, so one stuck
node would hang the program.)
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import queue
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
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
        self._pool: _DaemonPool | None = None
        self._active = 0
        self._idle = threading.Condition()

    def execute(self, task: NodeTask) -> Awaitable[Any]:
        if self._pool is None:
            self._pool = _DaemonPool(self.max_workers)
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
            pool.shutdown(wait=False)
        else:
            pool.shutdown(wait=True)


class _DaemonPool:
    """A bounded pool of daemon threads, started one by one as work arrives."""

    def __init__(self, max_workers: int | None) -> None:
        # the same default as ThreadPoolExecutor's
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, run: Callable[..., Any], work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, lambda: run(work)))
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"rc-node_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # whatever it is, the awaiting node gets it
                    future.set_exception(error)
            del item, future, call  # drop the result before waiting for the next one
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool) -> None:
        """Stop the threads once their current work ends (wait for that, or not)."""
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
