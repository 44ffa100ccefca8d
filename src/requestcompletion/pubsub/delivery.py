"""Sync subscribers: their events are delivered on one thread shared by the process.

A thread per runner costs about as much as a short run itself, so every runner's
sync subscribers are served by one daemon thread, ``rc-delivery``. It starts when
a sync subscriber first has events to take, and it ends by itself once it has had
nothing to do for `IDLE_SECONDS` (1 s); the next event starts a new one. It is the
process's, not any runner's: a runner's close waits for the runner's own events,
never for the thread.

Each subscription keeps its own queue and is handled by one worker at a time, so
it sees its events in publication order; subscriptions with work take turns, one
handful of batches each.

A callback that does not return must not hold up the other subscriptions (other
runners' among them). When the worker has taken no event for `STALL_SECONDS`
(0.1 s; it is inside one callback) while other subscriptions wait, a new worker takes over
and the stuck one leaves as soon as its callback returns. So there is one thread,
plus one for each callback that is stuck right now. Nothing polls: a stall is
noticed when more work arrives, by one timer on the loop that published it, or by
a runner's close while it waits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from queue import Empty, SimpleQueue
from typing import Any

from .events import Event

__all__ = [
    "IDLE_SECONDS",
    "STALL_SECONDS",
    "STOP",
    "THREAD_NAME",
    "SyncDelivery",
    "report_dropped",
    "wait_all",
]

logger = logging.getLogger("RC.pubsub")

IDLE_SECONDS = 1.0
STALL_SECONDS = 0.1
THREAD_NAME = "rc-delivery"
STOP: Any = object()  # the subject of a subscription's last pair
_now = time.monotonic


class SyncDelivery:
    """One sync subscriber: its queue of batches and how far it got.

    `deliver` may be called from any thread. It is done (`finished`) once it has
    handled its STOP pair or was abandoned.
    """

    def __init__(
        self, callback: Callable[[Event], Any], filter: Callable[[Event], bool] | None, name: str
    ) -> None:
        self.callback, self.filter, self.name = callback, filter, name
        self.batches: deque[list[Any]] = deque()  # each: (builder, subject) pairs, flat
        self.scheduled = False  # queued for a worker, or being handled (hub lock)
        self.given = 0  # pairs handed over (hub lock)
        self.taken = 0  # pairs handled or dropped (the handling worker only)
        # Done: the flag, then the lock released (held from here until then). A C lock,
        # not a threading.Event: an Event's Condition is Python code on both threads,
        # a few us of every short run with a sync subscriber.
        self.is_done = False
        self._pending = threading.Lock()
        self._pending.acquire()
        self.abandoned = False
        self.deadline: float | None = None  # set by a close that could not wait
        self.loop_done: asyncio.Future[None] | None = None

    def finished(self) -> bool:
        """Whether everything delivered has been handled (or dropped)."""
        return self.is_done

    def wait(self, timeout: float) -> bool:
        """Block until done, at most `timeout` seconds; whether it is done."""
        if self.is_done:
            return True
        if self._pending.acquire(timeout=timeout):
            self._pending.release()  # for the next waiter
            return True
        return self.is_done

    def preload(self, batch: list[Any]) -> None:
        """Queue a batch before any other: `deliver` is safe from any thread."""
        self.deliver(batch)

    def deliver(self, batch: list[Any]) -> None:
        """Queue a batch of (builder, subject) pairs."""
        if self.given == 0 and batch[1] is STOP:  # never had anything: nothing to deliver
            self._finish()
            return
        _hub.submit(self, batch)

    def handle(self, batches: list[list[Any]]) -> None:
        """Run the callback on every event of `batches` (on a worker thread)."""
        callback, accept = self.callback, self.filter
        for batch in batches:
            pairs = iter(batch)
            for build in pairs:
                subject = next(pairs)
                if subject is STOP:
                    self.taken += 1
                    self._finish()
                    return
                if self.abandoned or (self.deadline is not None and _now() > self.deadline):
                    self.abandon()
                    return
                self.taken += 1  # before the callback: a stuck one shows no progress
                hand_over(build, subject, accept, callback, self.name)

    def abandon(self) -> int:
        """Give up on what is left (once); log and return how many events were dropped."""
        with _hub.lock:
            if self.is_done or self.abandoned:
                return 0
            self.abandoned = True
            left = self.given - self.taken - 1  # the STOP pair is no event
            self.batches.clear()
        self._finish()
        return report_dropped(self.name, left)

    def _finish(self) -> None:
        with _hub.lock:  # the worker's STOP and a close's abandon may meet here
            if self.is_done:
                return
            self.is_done = True
        self._pending.release()
        fut = self.loop_done
        if fut is not None:
            try:
                fut.get_loop().call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that loop is closed: nobody awaits the future
                pass

    async def wait_async(self) -> None:
        """Return once done, without blocking the loop."""
        self.loop_done = asyncio.get_running_loop().create_future()
        if not self.is_done:  # it may have finished while the future was made
            await self.loop_done


def hand_over(
    build: Callable[[Any], Event],
    subject: Any,
    accept: Callable[[Event], bool] | None,
    callback: Callable[[Event], Any],
    name: str,
) -> None:
    """Build one event and give it to a sync callback; one that raises is logged and kept."""
    try:
        event = build(subject)
        if accept is None or accept(event):
            callback(event)
    except Exception:
        log_failure(name)


def log_failure(name: str) -> None:
    """Log that subscriber `name` raised (call it in the `except`). Logging can fail
    too (`sys.stderr` closed, a handler that raises): the run must go on all the same."""
    try:
        logger.exception("subscriber %r raised; the run goes on", name)
    except Exception:
        pass


def report_dropped(name: str, left: int) -> int:
    """Log that subscriber `name` lost `left` events to the run's close; return `left`."""
    if left > 0:
        logger.warning(
            "subscriber %r was still busy when the run closed; %d event(s) not delivered",
            name,
            left,
        )
    return left


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def wait_all(subscriptions: Iterable[SyncDelivery], timeout: float) -> list[SyncDelivery]:
    """Block until every subscription is done, for `timeout` seconds in all.

    While it waits it lets the hub replace a stuck worker. Returns those not done.
    """
    deadline = _now() + timeout
    waiting = [s for s in subscriptions if not s.is_done]
    while waiting:
        left = deadline - _now()
        if left <= 0:
            break
        if not waiting[0].wait(min(left, STALL_SECONDS)):
            _hub.unstick()  # a stall is only looked at while work waits behind it
        waiting = [s for s in waiting if not s.is_done]
    return waiting


class _Worker:
    """A delivery thread's bookkeeping (read and written under the hub's lock)."""

    def __init__(self) -> None:
        self.current: SyncDelivery | None = None
        self.replaced = False
        self.idle = False
        # the last look at its progress: (subscription, events it had taken, when)
        self.seen: tuple[SyncDelivery | None, int, float] = (None, 0, 0.0)


class _Hub:
    """The process's delivery threads and the subscriptions that have work.

    A plain lock guards the state and a C-level queue wakes an idle worker: both
    cost a fraction of a `threading.Condition` on a path taken once per flush.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Start from nothing (also in a forked child, which has none of the threads)."""
        self.lock = threading.Lock()
        self.wakeups: SimpleQueue[None] = SimpleQueue()
        self.ready: deque[SyncDelivery] = deque()
        self.live: _Worker | None = None  # the one worker that takes new work
        self.threads = 0
        self.timer_due = 0.0  # when the timer armed last fires (0: none armed)

    def submit(self, sub: SyncDelivery, batch: list[Any]) -> None:
        with self.lock:
            sub.batches.append(batch)
            sub.given += len(batch) // 2
            if sub.scheduled:
                return
            sub.scheduled = True
            self.ready.append(sub)
            live = self.live
            if live is not None and not live.idle:
                self._check(live)
            else:
                self._wake()

    def _wake(self) -> None:
        """(under the lock) Have a worker take the waiting work: start or wake the live one."""
        live = self.live
        if live is None:
            self._start()
        elif live.idle:
            live.idle = False  # claimed: later submits need not wake it again
            self.wakeups.put(None)

    def unstick(self) -> None:
        """Replace the live worker if it is stuck while work waits."""
        with self.lock:
            if self.ready and self.live is not None and not self.live.idle:
                self._check(self.live)

    def _check(self, live: _Worker) -> None:
        """The live worker is busy and work waits: replace it if stuck, else look later.

        Stuck means no event taken since a look at least `STALL_SECONDS` ago.
        """
        sub = live.current
        if sub is None:
            return  # between two subscriptions: it takes the next one at once
        now = _now()
        seen_sub, seen_taken, seen_at = live.seen
        if seen_sub is not sub or seen_taken != sub.taken:
            live.seen = (sub, sub.taken, now)
            due = now + STALL_SECONDS
        elif now - seen_at >= STALL_SECONDS:
            live.replaced = True
            self._start()
            due = now + STALL_SECONDS  # the new worker may meet another stuck callback
        else:
            due = seen_at + STALL_SECONDS
        if self.timer_due > now:
            return  # a timer is on its way (one that never fires is late: re-armed)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on a loop: a waiting close calls unstick itself
            return
        self.timer_due = due
        loop.call_later(due - now, self._timer)

    def _timer(self) -> None:
        self.timer_due = 0.0
        self.unstick()

    def _start(self) -> None:
        worker = _Worker()
        self.live = worker
        self.threads += 1
        thread = threading.Thread(target=self._work, args=(worker,), name=THREAD_NAME, daemon=True)
        thread.start()

    def _work(self, worker: _Worker) -> None:
        lock = self.lock
        sub: SyncDelivery | None = None
        batches: list[list[Any]] = []
        while True:
            with lock:  # one lock round per turn: settle the last subscription, take the next
                if sub is not None:
                    worker.current = None
                    if sub.batches and not sub.is_done:
                        self.ready.append(sub)
                    else:
                        sub.scheduled = False
                if self.ready and not worker.replaced:
                    sub = self.ready.popleft()
                    batches = list(sub.batches)
                    sub.batches.clear()
                    worker.current, worker.idle = sub, False
                elif worker.replaced:
                    self._leave(worker)
                    if self.ready:  # what it handed back, or what came meanwhile
                        self._wake()
                    return
                else:
                    sub, worker.idle = None, True
            if sub is not None:
                sub.handle(batches)
                continue
            try:
                self.wakeups.get(timeout=IDLE_SECONDS)
            except Empty:
                with lock:
                    if worker.idle and not self.ready:  # nobody woke it meanwhile
                        self._leave(worker)
                        return

    def _leave(self, worker: _Worker) -> None:
        """(under the lock) A worker ends: idle long enough, or replaced and done."""
        self.threads -= 1
        if self.live is worker:
            self.live = None


_hub = _Hub()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_hub.clear)
