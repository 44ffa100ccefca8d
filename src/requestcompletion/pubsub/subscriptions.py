"""The subscriptions that run on the runner's loop: async callbacks, inline ones, events().

Each takes batches of (builder, subject) pairs, flat, from the publisher's flush
and builds each event just before handing it over. Sync callbacks are served
elsewhere, on the process's delivery thread (`delivery.py`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Callable
from typing import Any

from .delivery import STOP, hand_over, log_failure, report_dropped
from .events import Event

__all__ = [
    "STOP_PAIR",
    "Builder",
    "Callback",
    "Filter",
    "InlineDelivery",
    "LoopSubscription",
    "StreamDelivery",
    "TaskDelivery",
    "is_async",
    "ready",
]

Callback = Callable[[Event], Any]
Filter = Callable[[Event], bool]
Builder = Callable[[Any], Event]


def ready(event: Any) -> Any:
    """The builder of an event that was built already."""
    return event


STOP_PAIR = [ready, STOP]  # a subscription's last pair


def is_async(callback: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(callback):
        return True
    call = getattr(type(callback), "__call__", None)  # noqa: B004 - an object with async __call__
    return inspect.iscoroutinefunction(call)


class LoopSubscription:
    """A subscriber on the runner's loop. `deliver` is called on the loop's thread.

    `SyncDelivery` (the sync subscribers) has the same four methods.
    """

    name = "subscription"

    def deliver(self, batch: list[Any]) -> None:
        """Take a batch of (builder, subject) pairs, flat."""
        raise NotImplementedError

    def preload(self, batch: list[Any]) -> None:
        """Take a batch before any other, from any thread (RunStarted for a late subscriber)."""
        self.deliver(batch)

    def finished(self) -> bool:
        """Whether everything delivered has been handled."""
        return True

    async def wait_async(self) -> None:
        """Return once everything delivered has been handled."""

    def abandon(self) -> int:
        """Give up on what is left; log and return how many events were not handled."""
        return 0


class TaskDelivery(LoopSubscription):
    """An async callback, run as a task of its own on the runner's loop."""

    def __init__(self, callback: Callback, filter: Filter | None, name: str) -> None:
        self.callback, self.filter, self.name = callback, filter, name
        self.queue: deque[Any] = deque()  # (builder, subject) pairs, flat
        self.wakeup: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def preload(self, batch: list[Any]) -> None:
        self.queue.extend(batch)  # handled once the task starts, at the next batch

    def deliver(self, batch: list[Any]) -> None:
        self.queue.extend(batch)
        if self.task is None:
            if batch[1] is STOP and len(self.queue) == 2:  # nothing ever came
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # closed from sync code: it cannot run without its loop
                return
            self.task = loop.create_task(self._work())
        elif self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def _work(self) -> None:
        while True:
            while self.queue:
                build = self.queue.popleft()
                event = build(self.queue.popleft())
                if event is STOP:
                    return
                try:
                    if self.filter is None or self.filter(event):
                        await self.callback(event)
                except Exception:
                    log_failure(self.name)
            self.wakeup = asyncio.get_running_loop().create_future()
            await self.wakeup

    def finished(self) -> bool:
        return self.task is None or self.task.done()

    async def wait_async(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task)

    def abandon(self) -> int:
        if self.task is None or self.task.done():
            return 0
        self.task.cancel()  # from sync code it cannot be waited for without its loop
        return report_dropped(
            self.name, sum(subject is not STOP for subject in list(self.queue)[1::2])
        )


class InlineDelivery(LoopSubscription):
    """A sync callback that never blocks, run right where its batches are handed over."""

    def __init__(self, callback: Callback, filter: Filter | None, name: str) -> None:
        self.callback, self.filter, self.name = callback, filter, name

    def deliver(self, batch: list[Any]) -> None:
        callback, accept = self.callback, self.filter
        pairs = iter(batch)
        for build in pairs:
            subject = next(pairs)
            if subject is STOP:
                return
            hand_over(build, subject, accept, callback, self.name)


class StreamDelivery(LoopSubscription):
    """The async iterator `RCPublisher.events()` returns; its caller drives it."""

    name = "events()"

    def __init__(self, remove: Callable[[int], object]) -> None:
        self.remove = remove  # the publisher's: ends this subscription
        self.sub_id = 0
        self.queue: deque[Any] = deque()  # (builder, subject) pairs, flat
        self.wakeup: asyncio.Future[None] | None = None

    def deliver(self, batch: list[Any]) -> None:
        self.queue.extend(batch)
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def __aiter__(self) -> StreamDelivery:
        return self

    async def __anext__(self) -> Event:
        while not self.queue:
            self.wakeup = asyncio.get_running_loop().create_future()
            await self.wakeup
        build = self.queue.popleft()
        event: Event = build(self.queue.popleft())
        if event is STOP:
            self.queue.extendleft(reversed(STOP_PAIR))
            await self.aclose()
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        """Stop listening."""
        self.remove(self.sub_id)
