"""The events a run publishes: frozen dataclasses, one per kind of thing that happened.

Every event says which run it belongs to, which node (id, name, parent id) and
when (`time.perf_counter()` seconds, monotonic). Events are built only when
somebody subscribes, so an unobserved run pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = [
    "Event",
    "FatalFailure",
    "LLMChunk",
    "LLMRequestStarted",
    "LLMResponseReceived",
    "RequestCancelled",
    "RequestCreated",
    "RequestCreationFailed",
    "RequestFailed",
    "RequestSucceeded",
    "RunFinished",
    "RunStarted",
    "Streamed",
    "fast_constructor",
]

E = TypeVar("E", bound="Event")


@dataclass(frozen=True, slots=True)
class Event:
    """What every event carries. `node_id` etc. are None for run-level events."""

    run_id: str
    node_id: int | None
    node_name: str | None
    parent_id: int | None
    time: float


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """The runner opened."""


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """The runner closed. `outcome` is "succeeded", "failed", "timeout" or "cancelled"."""

    outcome: str


@dataclass(frozen=True, slots=True)
class RequestCreated(Event):
    """A node was created and is about to run with these inputs."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RequestSucceeded(Event):
    """A node returned `output` after `duration` seconds."""

    output: Any
    duration: float


@dataclass(frozen=True, slots=True)
class RequestFailed(Event):
    """A node raised `error` after `duration` seconds."""

    error: BaseException
    duration: float


@dataclass(frozen=True, slots=True)
class RequestCreationFailed(Event):
    """A node could not be created from its arguments (a NodeCreationError)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class RequestCancelled(Event):
    """A node was cancelled: by a timeout, `runner.cancel`, or the run ending."""

    reason: str
    duration: float


@dataclass(frozen=True, slots=True)
class Streamed(Event):
    """A node passed `item` to `rc.stream`."""

    item: Any


@dataclass(frozen=True, slots=True)
class FatalFailure(Event):
    """`error` ended the whole run (end_on_error, or an rc.FatalError)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class LLMRequestStarted(Event):
    """An agent node asked a model for a reply."""

    provider: str
    model: str
    messages: int


@dataclass(frozen=True, slots=True)
class LLMResponseReceived(Event):
    """A model replied. Tokens are None when the provider did not say."""

    provider: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency: float
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class LLMChunk(Event):
    """A piece of a streamed model reply."""

    text: str


def fast_constructor(cls: type[E]) -> Callable[..., E]:
    """A positional constructor for an event class, about twice as fast as its own.

    A frozen dataclass's `__init__` assigns each field through the generic
    `object.__setattr__(self, "name", value)`, which costs more than a node
    call. This fills the instance as an unfrozen twin (a subclass adding no
    slots, so the same memory layout) whose plain assignments are the fast ones,
    then gives it its real class: the result is the same immutable instance.
    Used for the per-call events.
    """
    names = [f.name for f in fields(cls)]
    twin = type(
        f"_Building{cls.__name__}",
        (cls,),
        # both, so the type's one setattr slot is the generic (specialisable) one
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )
    namespace: dict[str, Any] = {"new": object.__new__, "twin": twin, "cls": cls}
    lines = [f"def make({', '.join(names)}):", "    event = new(twin)"]
    lines += [f"    event.{name} = {name}" for name in names]
    lines += ["    event.__class__ = cls", "    return event"]
    exec("\n".join(lines), namespace)
    make: Callable[..., E] = namespace["make"]
    return make
