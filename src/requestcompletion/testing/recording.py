"""RecordingSubscriber: keeps every event (and streamed item) a run hands it, for assertions."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

from ..pubsub.events import Event, Streamed

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["RecordingSubscriber"]

E = TypeVar("E", bound=Event)


class RecordingSubscriber:
    """A subscriber that records what it is given.

    Subscribe it to a run's publisher to get every event, or pass it as
    ``ExecutorConfig(subscriber=...)`` to get the items of `rc.stream`. Events are
    delivered on the publisher's own thread and all of them have arrived once the
    runner's block has ended.

    Example:
        recorder = rc.testing.RecordingSubscriber()
        with rc.Runner() as runner:
            recorder.attach(runner)
            runner.run_sync(Agent, "hello")
        chunks = recorder.of_type(LLMChunk)

    Attributes:
        events: every event received, in publication order.
        items: the items of `Streamed` events, and anything received that is not an
            event (what a config `subscriber` gets), in order.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the module

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.items: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, received: Any) -> None:
        with self._lock:
            if isinstance(received, Event):
                self.events.append(received)
                if isinstance(received, Streamed):
                    self.items.append(received.item)
            else:
                self.items.append(received)

    def attach(self, runner: Runner) -> RecordingSubscriber:
        """Subscribe to every event of `runner`; return self."""
        runner.publisher.subscribe(self, name="RecordingSubscriber")
        return self

    def of_type(self, kind: type[E]) -> list[E]:
        """The events that are instances of `kind`, in order."""
        with self._lock:
            return [event for event in self.events if isinstance(event, kind)]

    def names(self) -> list[str]:
        """The class name of every event, in order (handy in assertion messages)."""
        with self._lock:
            return [type(event).__name__ for event in self.events]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self.events.clear()
            self.items.clear()

    def __repr__(self) -> str:
        return f"<RecordingSubscriber {len(self.events)} events, {len(self.items)} items>"
