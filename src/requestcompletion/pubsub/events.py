"""The events a run publishes: frozen dataclasses, one per kind of thing that happened.

Every event says which run it belongs to, which node (id, name, parent id) and
when (`time.perf_counter()` seconds, monotonic). Events are built only when
somebody subscribes, so an unobserved run pays nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._frozen import fast_constructor

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
    """A model replied. Tokens are None when the provider did not say.

    `finish_reason` is why the model stopped, as the provider said it ("stop",
    "tool_calls", ...), or None when it did not say.
    """

    provider: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency: float
    cost: float | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LLMChunk(Streamed):
    """A piece of a streamed model reply, published once.

    It is a `Streamed` event, so the config's `subscriber` gets it too: its `item` is
    the `requestcompletion.llm.Chunk`, which tells a model's text apart from what
    nodes pass to `rc.stream`. With an output schema the chunk's `partial` is the
    JSON so far (``pydantic_core.from_json(partial, allow_partial=True)`` reads it).
    """

    text: str
