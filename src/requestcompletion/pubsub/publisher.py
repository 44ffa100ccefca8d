"""RCPublisher: delivers a run's events to its subscribers without slowing the run.

Publishing appends the event to a buffer (a list append; nothing else happens on
the node's path). The per-call events are not even built there: `defer(build,
record)` buffers the record and the function that makes its event, and each
subscriber's worker builds the event just before handing it over, so a run
never holds thousands of event objects at once. The first event after a quiet
spell schedules one flush on the runner's loop; a flush hands the whole batch
to every subscriber's own worker:

* a sync callback is served by the process's delivery thread (`delivery.py`:
  one daemon thread shared by all runners, so a callback that blocks never
  blocks a loop, and a stuck one is left behind rather than waited on);
* an async callback gets a task of its own on the runner's loop, and an
  inline one (`subscribe_inline`: rc's REGULAR and QUIET logging) is called in
  the flush itself (`subscriptions.py`).

Every subscriber's first event is the run's `RunStarted`, however late it
subscribes, and its last is `RunFinished`.

So each subscriber sees every event in publication order, a slow one only falls
behind (it never holds up the run or the others), and one that raises is logged
and kept. Nothing polls: threads block on a condition, tasks await a future.
Closing the publisher hands each subscriber its last events and its end in one
batch, then waits (`drain_timeout` in all, for every subscriber together) for
every worker to finish what it was given; a close
called on a thread whose event loop is running never blocks that loop for a
stuck subscriber: it hands it a deadline instead.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from .delivery import SyncDelivery, wait_all
from .events import Event, RunStarted
from .subscriptions import (
    STOP_PAIR,
    Builder,
    Callback,
    Filter,
    InlineDelivery,
    LoopSubscription,
    StreamDelivery,
    TaskDelivery,
    is_async,
    ready,
)

__all__ = ["RCPublisher"]

Subscription = SyncDelivery | LoopSubscription
_is_async = is_async  # the runner imports it from here
# How long a close blocks its thread for sync subscribers that are nearly done:
# shorter than a loop round trip's cost, far shorter than any stuck callback.
_SETTLE_SECONDS = 0.002


class RCPublisher:
    """The event bus of one run. See the module docstring for how delivery works."""

    drain_timeout: float = 10.0

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.active = False  # any subscriber at all? (checked before building an event)
        self._subscriptions: dict[int, Subscription] = {}
        self._retired: list[Subscription] = []
        self._next_id = 0
        self._buffer: list[Any] = []  # (builder, subject) pairs, flat
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._start: list[Any] | None = None  # RunStarted's (builder, time) pair
        self._start_sent = False  # flushed: later subscribers get it on their own

    # --- subscribing ---------------------------------------------------------

    def subscribe(
        self, callback: Callback, *, filter: Filter | None = None, name: str | None = None
    ) -> int:
        """Call `callback(event)` for every event (that `filter` accepts), in order.

        Args:
            callback: a function or an `async def`; sync ones run on the process's
                delivery thread, async ones as a task on the runner's loop.
            filter: optional predicate; events it rejects are skipped.
            name: shown in logs when the callback fails.

        Returns:
            An id for `unsubscribe`.
        """
        if not callable(callback):
            raise TypeError(f"subscribe needs a callable, not {callback!r}")
        label = name or str(getattr(callback, "__qualname__", None) or repr(callback))
        kind = TaskDelivery if is_async(callback) else SyncDelivery
        return self._add(kind(callback, filter, label))

    def subscribe_inline(
        self, callback: Callback, *, filter: Filter | None = None, name: str | None = None
    ) -> int:
        """Like `subscribe` for a sync callback that never blocks: no thread hop.

        The callback runs where the events are handed over (on the runner's loop,
        or in the closing thread), so it must be quick and must not block. rc's
        own logging at REGULAR and QUIET uses it.
        """
        if not callable(callback):
            raise TypeError(f"subscribe needs a callable, not {callback!r}")
        return self._add(InlineDelivery(callback, filter, name or "inline"))

    def unsubscribe(self, subscription_id: int) -> None:
        """Stop delivering to a subscriber; events already handed to it are still delivered."""
        subscription = self._remove(subscription_id)
        if subscription is None:
            raise KeyError(f"no subscription with id {subscription_id!r}")
        subscription.deliver(STOP_PAIR)
        self._retired.append(subscription)  # closing still waits for what it was handed

    def events(self) -> AsyncIterator[Event]:
        """Iterate over the run's events as they happen, until the run closes.

        The subscription starts now, not at the first `__anext__`, so nothing
        published between this call and the loop's first step is missed.
        """
        stream = StreamDelivery(self._remove)
        stream.sub_id = self._add(stream)
        return stream

    def _remove(self, subscription_id: int) -> Subscription | None:
        subscription = self._subscriptions.pop(subscription_id, None)
        self.active = bool(self._subscriptions)
        return subscription

    def _add(self, subscription: Subscription) -> int:
        loop = self._loop
        on_loop = (
            loop is not None and threading.get_ident() == self._loop_thread and loop.is_running()
        )
        if self._start_sent and self._start is not None:  # before any later batch
            (subscription.deliver if on_loop else subscription.preload)(self._start)
        self._next_id += 1
        self._subscriptions[self._next_id] = subscription
        self.active = True
        if on_loop and loop is not None and self._buffer and not self._flush_scheduled:
            self._schedule_flush(loop)  # what was published before anyone listened goes now
        return self._next_id

    # --- publishing ----------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver from `loop` from now on (the loop the run's requests run on)."""
        if loop is self._loop:
            return
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._flush_scheduled = False
        if self._buffer and self.active:  # else it waits for a subscriber, or the close
            self._schedule_flush(loop)

    def start(self, time: float) -> None:
        """Publish the run's `RunStarted` (at `time`): every subscriber's first event.

        It is built only if someone listens. A subscriber added later (inside the
        runner's block, whatever the logging setting) still gets it first.
        """
        self._start = [self._run_started, time]
        self.defer(self._run_started, time)

    def _run_started(self, time: float) -> Event:
        return RunStarted(self.run_id, None, None, None, time)

    def publish(self, event: Event) -> None:
        """Queue `event` for every subscriber. Safe to call from any thread."""
        self.defer(ready, event)

    def defer(self, build: Builder, subject: Any) -> None:
        """Queue the event `build(subject)`, built later by each subscriber's worker.

        `subject` must not change in ways the event shows once deferred (a
        finished call's record, say). Safe to call from any thread.
        """
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            try:
                loop.call_soon_threadsafe(self.defer, build, subject)
                return
            except RuntimeError:  # the loop is closed: keep it for close()
                pass
        buffer = self._buffer
        buffer.append(build)
        buffer.append(subject)
        if not self._flush_scheduled and loop is not None and loop.is_running():
            self._schedule_flush(loop)

    def _schedule_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand every buffered event to the subscribers' workers now."""
        self._flush_scheduled = False
        batch, self._buffer = self._buffer, []
        self._start_sent = self._start is not None
        if batch:
            for subscription in list(self._subscriptions.values()):
                subscription.deliver(batch)

    # --- closing -------------------------------------------------------------

    async def aclose(self) -> None:
        """Flush, then wait until every subscriber has handled everything (bounded)."""
        if not self._subscriptions and not self._retired:
            self._buffer = []  # nobody to hand anything to, or to wait for
            return
        subscriptions = self._stop_all()
        # Most are done within a moment: only the others are awaited (a future and
        # a timer each, which a short run would feel).
        wait_all(_sync_ones(subscriptions), _SETTLE_SECONDS)
        await _wait_together([s for s in subscriptions if not s.finished()], self.drain_timeout)
        _abandon(subscriptions)

    def close(self) -> None:
        """Like `aclose`, from sync code. Async subscribers not yet done are cancelled.

        Sync subscribers are waited for together, `drain_timeout` in all, but never
        on a thread whose event loop is running (a `with rc.Runner()` inside async
        code): there the ones not done within a moment keep their events until
        `drain_timeout` has passed, then are abandoned, while the loop runs on.
        """
        subscriptions = self._stop_all()
        syncs = _sync_ones(subscriptions)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            wait_all(syncs, self.drain_timeout)
        else:
            left = wait_all(syncs, _SETTLE_SECONDS)
            if left:
                deadline = time.monotonic() + self.drain_timeout
                for subscription in left:  # the worker drops the rest, should this loop end first
                    subscription.deadline = deadline
                loop.call_later(self.drain_timeout, _abandon, left)
                subscriptions = [s for s in subscriptions if s not in left]
        _abandon(subscriptions)

    def _stop_all(self) -> list[Subscription]:
        """Hand every subscriber the last events and its STOP, in one batch (one hand-over
        to the delivery thread, not two); return every subscription to wait for."""
        self._flush_scheduled = False
        last, self._buffer = self._buffer, []
        self._start_sent = self._start is not None
        last += STOP_PAIR
        subscriptions = list(self._subscriptions.values())
        self._subscriptions.clear()
        self.active = False
        for subscription in subscriptions:
            subscription.deliver(last)
        retired, self._retired = self._retired, []
        return retired + subscriptions


def _sync_ones(subscriptions: list[Subscription]) -> list[SyncDelivery]:
    return [s for s in subscriptions if isinstance(s, SyncDelivery)]


async def _wait_together(subscriptions: list[Subscription], within: float) -> None:
    """Await every subscription's end, `within` seconds in all (not each)."""
    if not subscriptions:
        return
    waits = [asyncio.ensure_future(s.wait_async()) for s in subscriptions]
    _, pending = await asyncio.wait(waits, timeout=within)
    for waiter in pending:
        waiter.cancel()
    if pending:
        await asyncio.wait(pending)


def _abandon(subscriptions: list[Any]) -> None:
    """Give up on what each subscription has left (each logs what it dropped)."""
    for subscription in subscriptions:
        subscription.abandon()
