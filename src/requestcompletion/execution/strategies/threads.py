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
import contextlib
import contextvars
import logging
import os
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ..strategy import ExecutionStrategy, NodeTask

__all__ = ["DaemonPool", "ThreadedExecutionStrategy", "lending_slot"]

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
        self._pool: DaemonPool | None = None
        self._active = 0
        self._idle = threading.Condition()

    def execute(self, task: NodeTask) -> Awaitable[Any]:
        if self._pool is None:
            self._pool = DaemonPool(self.max_workers)
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


_here = threading.local()  # `.pool`: the DaemonPool a thread works for


@contextlib.contextmanager
def lending_slot() -> Iterator[None]:
    """Around a thread node's blocking wait for a child (`rc.call_sync`): while it
    waits, its thread does not count against the pool's bound, so the child (or any
    queued node) gets a thread even when every thread is a parent that waits. A
    pool of N threads whose N nodes each wait on a thread child would deadlock."""
    pool: DaemonPool | None = getattr(_here, "pool", None)
    if pool is None:
        yield
        return
    with pool._lock:
        pool._blocked += 1
    try:
        yield
    finally:
        with pool._lock:
            pool._blocked -= 1


class DaemonPool:
    """A bounded pool of daemon threads, started one by one as work arrives.

    The bound counts threads running a node's own code: one blocked in
    `lending_slot` does not count, and once it is back, the first thread to run
    out of work while there are too many leaves.
    """

    def __init__(self, max_workers: int | None) -> None:
        # the same default as ThreadPoolExecutor's
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for work
        self._pending = 0  # work queued, not taken yet
        self._blocked = 0  # threads waiting in lending_slot
        self._left: list[threading.Thread] = []  # threads that left (joined at shutdown)
        self._lock = threading.Lock()

    def submit(self, run: Callable[..., Any], work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, lambda: run(work)))
        with self._lock:
            self._pending += 1
            # a thread for it unless one waits for work already (a thread that is
            # blocked lending its slot does not count against the bound)
            if self._pending > self._idle and len(self._threads) - self._blocked < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"rc-node_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        _here.pool = self
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is None:
                    return
                self._pending -= 1
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # whatever it is, the awaiting node gets it
                    future.set_exception(error)
            del item, future, call  # drop the result before waiting for the next one
            with self._lock:
                if len(self._threads) - self._blocked > self.max_workers:
                    me = threading.current_thread()  # one too many now: leave
                    self._threads.remove(me)
                    self._left.append(me)
                    return

    def shutdown(self, wait: bool) -> None:
        """Stop the threads once their current work ends (wait for that, or not)."""
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads + self._left:
                thread.join()
