"""RCPublisher: delivers a run's events to its subscribers without slowing the run.

Publishing appends the event to a buffer (a list append; nothing else happens on
the node's path). The per-call events are not even built there: `defer(build,
record)` buffers the record and the function that makes its event, and each
subscriber's worker builds the event just before handing it over, so a run
never holds thousands of event objects at once. The first event after a quiet
spell schedules one flush on the runner's loop; a flush hands the whole batch
to every subscriber's own worker:

* a sync callback gets a thread of its own, fed batches through a queue, so a
  callback that blocks (sleeps, writes to a slow disk) never blocks the loop;
* an async callback gets a task of its own on the runner's loop.

So each subscriber sees every event in publication order, a slow one only falls
behind (it never holds up the run or the others), and one that raises is logged
and kept. Nothing polls: threads block on their queue, tasks await a future.
Closing the publisher flushes, then waits (up to `drain_timeout`) for every
worker to finish what it was given.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from queue import SimpleQueue
from typing import Any

from .events import Event

__all__ = ["RCPublisher"]

logger = logging.getLogger("RC.pubsub")

Callback = Callable[[Event], Any]
Filter = Callable[[Event], bool]
Builder = Callable[[Any], Event]
_STOP: Any = object()


def _ready(event: Any) -> Any:
    """The builder of an event that was built already."""
    return event


_STOP_PAIR = [_ready, _STOP]


class RCPublisher:
    """The event bus of one run. See the module docstring for how delivery works."""

    drain_timeout: float = 10.0

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.active = False  # any subscriber at all? (checked before building an event)
        self._subscriptions: dict[int, _Subscription] = {}
        self._retired: list[_Subscription] = []
        self._next_id = 0
        self._buffer: list[Any] = []  # (builder, subject) pairs, flat
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    # --- subscribing ---------------------------------------------------------

    def subscribe(
        self, callback: Callback, *, filter: Filter | None = None, name: str | None = None
    ) -> int:
        """Call `callback(event)` for every event (that `filter` accepts), in order.

        Args:
            callback: a function or an `async def`; sync ones run on a thread of
                their own, async ones as a task on the runner's loop.
            filter: optional predicate; events it rejects are skipped.
            name: shown in logs when the callback fails.

        Returns:
            An id for `unsubscribe`.
        """
        if not callable(callback):
            raise TypeError(f"subscribe needs a callable, not {callback!r}")
        label = name or str(getattr(callback, "__qualname__", None) or repr(callback))
        kind = _TaskDelivery if _is_async(callback) else _ThreadDelivery
        return self._add(kind(callback, filter, label))

    def unsubscribe(self, subscription_id: int) -> None:
        """Stop delivering to a subscriber; events already handed to it are still delivered."""
        subscription = self._remove(subscription_id)
        if subscription is None:
            raise KeyError(f"no subscription with id {subscription_id!r}")
        subscription.deliver(_STOP_PAIR)
        self._retired.append(subscription)  # closing still waits for what it was handed

    def events(self) -> AsyncIterator[Event]:
        """Iterate over the run's events as they happen, until the run closes.

        The subscription starts now, not at the first `__anext__`, so nothing
        published between this call and the loop's first step is missed.
        """
        stream = _StreamDelivery(self)
        stream.sub_id = self._add(stream)
        return stream

    def _remove(self, subscription_id: int) -> _Subscription | None:
        subscription = self._subscriptions.pop(subscription_id, None)
        self.active = bool(self._subscriptions)
        return subscription

    def _add(self, subscription: _Subscription) -> int:
        self._next_id += 1
        self._subscriptions[self._next_id] = subscription
        self.active = True
        return self._next_id

    # --- publishing ----------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver from `loop` from now on (the loop the run's requests run on)."""
        if loop is self._loop:
            return
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._flush_scheduled = False
        if self._buffer:
            self._schedule_flush(loop)

    def publish(self, event: Event) -> None:
        """Queue `event` for every subscriber. Safe to call from any thread."""
        self.defer(_ready, event)

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
        if batch:
            for subscription in list(self._subscriptions.values()):
                subscription.deliver(batch)

    # --- closing -------------------------------------------------------------

    async def aclose(self) -> None:
        """Flush, then wait until every subscriber has handled everything (bounded)."""
        self.flush()
        subscriptions = self._stop_all()
        # Most workers are done by now, or within a moment: only the others are
        # awaited (a task and a timer each, which a short run would feel).
        waits = [asyncio.ensure_future(s.wait_async()) for s in subscriptions if not s.settle()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.drain_timeout)
            for waiter in pending:
                waiter.cancel()
            if pending:
                await asyncio.wait(pending)
        self._report_stragglers(subscriptions)

    def close(self) -> None:
        """Like `aclose`, from sync code. Async subscribers not yet done are cancelled."""
        self.flush()
        subscriptions = self._stop_all()
        for subscription in subscriptions:
            subscription.wait_sync(self.drain_timeout)
        self._report_stragglers(subscriptions)

    def _stop_all(self) -> list[_Subscription]:
        subscriptions = list(self._subscriptions.values())
        self._subscriptions.clear()
        self.active = False
        for subscription in subscriptions:
            subscription.deliver(_STOP_PAIR)
        retired, self._retired = self._retired, []
        return retired + subscriptions

    def _report_stragglers(self, subscriptions: list[_Subscription]) -> None:
        for subscription in subscriptions:
            left = subscription.abandon()
            if left:
                logger.warning(
                    "subscriber %r was still busy when the run closed; %d event(s) not delivered",
                    subscription.name,
                    left,
                )


def _is_async(callback: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(callback):
        return True
    call = getattr(type(callback), "__call__", None)  # noqa: B004 - an object with async __call__
    return inspect.iscoroutinefunction(call)


class _Subscription:
    """One subscriber's worker. `deliver` is called on the loop's thread."""

    name = "subscription"

    def deliver(self, batch: list[Any]) -> None:
        """Take a batch of (builder, subject) pairs, flat."""
        raise NotImplementedError

    def settle(self) -> bool:
        """Whether everything delivered has been handled (waiting a moment at most)."""
        return True

    async def wait_async(self) -> None:
        """Return once everything delivered has been handled."""

    def wait_sync(self, timeout: float) -> None:
        """Like `wait_async`, blocking, for at most `timeout` seconds."""

    def abandon(self) -> int:
        """Give up on what is left; return how many events were not handled."""
        return 0


class _ThreadDelivery(_Subscription):
    """A sync callback, run on a thread of its own so it can never block the loop."""

    def __init__(self, callback: Callback, filter: Filter | None, name: str) -> None:
        self.callback, self.filter, self.name = callback, filter, name
        self.queue: SimpleQueue[list[Any]] = SimpleQueue()
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.pending = 0  # events handed over, not yet handled
        self.abandoned = False
        self.loop_done: asyncio.Future[None] | None = None

    def deliver(self, batch: list[Any]) -> None:
        if self.thread is None:
            if batch[1] is _STOP:  # never started: nothing to wait for
                self.done.set()
                return
            self.thread = threading.Thread(target=self._work, name=f"rc-subscriber-{self.name}")
            self.thread.daemon = True  # a callback stuck forever must not hang interpreter exit
            self.thread.start()
        self.pending += len(batch) // 2
        self.queue.put(batch)

    def _work(self) -> None:
        try:
            while True:
                pairs = iter(self.queue.get())  # (builder, subject) pairs, flat
                for build in pairs:
                    event = build(next(pairs))
                    if event is _STOP or self.abandoned:
                        return
                    self.pending -= 1
                    try:
                        if self.filter is None or self.filter(event):
                            self.callback(event)
                    except Exception:
                        logger.exception("subscriber %r raised; the run goes on", self.name)
        finally:
            self.done.set()
            if self.loop_done is not None:
                fut = self.loop_done
                try:
                    fut.get_loop().call_soon_threadsafe(_resolve, fut)
                except RuntimeError:
                    pass

    def settle(self) -> bool:
        # Usually the last batch is handled within a moment: block briefly for it
        # rather than pay a loop wake-up; a slow subscriber is awaited instead.
        if self.thread is not None and not self.done.wait(0.002):
            return False
        self._join(1.0)
        return True

    async def wait_async(self) -> None:
        self.loop_done = asyncio.get_running_loop().create_future()
        if not self.done.is_set():  # it may have finished while the future was made
            await self.loop_done
        self._join(1.0)

    def wait_sync(self, timeout: float) -> None:
        self._join(timeout)

    def _join(self, timeout: float) -> None:
        if self.thread is not None and self.done.wait(timeout):
            self.thread.join(timeout)  # only its `finally` is left to run

    def abandon(self) -> int:
        if self.done.is_set():
            return 0
        self.abandoned = True
        return max(self.pending - 1, 0)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _TaskDelivery(_Subscription):
    """An async callback, run as a task of its own on the runner's loop."""

    def __init__(self, callback: Callback, filter: Filter | None, name: str) -> None:
        self.callback, self.filter, self.name = callback, filter, name
        self.queue: deque[Any] = deque()  # (builder, subject) pairs, flat
        self.wakeup: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def deliver(self, batch: list[Any]) -> None:
        self.queue.extend(batch)
        if self.task is None:
            if batch[1] is _STOP:
                return
            self.task = asyncio.get_running_loop().create_task(self._work())
        elif self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def _work(self) -> None:
        while True:
            while self.queue:
                build = self.queue.popleft()
                event = build(self.queue.popleft())
                if event is _STOP:
                    return
                try:
                    if self.filter is None or self.filter(event):
                        await self.callback(event)
                except Exception:
                    logger.exception("subscriber %r raised; the run goes on", self.name)
            self.wakeup = asyncio.get_running_loop().create_future()
            await self.wakeup

    def settle(self) -> bool:
        return self.task is None or self.task.done()

    async def wait_async(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task)

    def wait_sync(self, timeout: float) -> None:
        pass  # a task cannot be waited for without its loop; abandon() cancels it

    def abandon(self) -> int:
        if self.task is None or self.task.done():
            return 0
        self.task.cancel()
        return sum(subject is not _STOP for subject in list(self.queue)[1::2])


class _StreamDelivery(_Subscription):
    """The async iterator `RCPublisher.events()` returns; its caller drives it."""

    name = "events()"

    def __init__(self, publisher: RCPublisher) -> None:
        self.publisher = publisher
        self.sub_id = 0
        self.queue: deque[Any] = deque()  # (builder, subject) pairs, flat
        self.wakeup: asyncio.Future[None] | None = None

    def deliver(self, batch: list[Any]) -> None:
        self.queue.extend(batch)
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def __aiter__(self) -> _StreamDelivery:
        return self

    async def __anext__(self) -> Event:
        while not self.queue:
            self.wakeup = asyncio.get_running_loop().create_future()
            await self.wakeup
        build = self.queue.popleft()
        event: Event = build(self.queue.popleft())
        if event is _STOP:
            self.queue.extendleft(reversed(_STOP_PAIR))
            await self.aclose()
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        """Stop listening."""
        self.publisher._remove(self.sub_id)
