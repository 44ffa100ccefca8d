"""The driver/worker protocol of the distributed strategy: typed, frozen messages.

A node's run on a Ray worker sends back batches of these (a list per round
trip). The first six come from the node; `FollowUp` is added by the worker.

- `Streamed(blob)`: an `rc.stream` item;
- `ContextPut(key, blob)` / `ContextDeleted(key)`: `rc.context` set or removed `key`;
- `ChildCall(call_id, blob)`: `rc.call` of a child (node type and arguments
  pickled): run it on the driver, answer with `NodeHost.resolve(call_id, ...)`;
- `Returned(blob)`: the node's output (always last);
- `Raised(type_name, traceback, blob)`: the node's exception (always last): its
  type name, its formatted traceback, and the exception pickled when it survives
  a round trip (else None);
- `FollowUp(handle)`: the node still runs; `NodeHost.follow(handle)` yields the
  rest (ends the batch `NodeHost.start` returns).

The other way, `NodeHost.start` and `NodeHost.resolve` carry a `ContextDelta`:
what the worker lacks of the run's `rc.context` (see `sync.py`).

Values travel as bytes pickled by rc (`wire.py`), so a value that cannot be sent
fails on rc's side with a message naming it, never deep inside Ray. This module
imports nothing of Ray: the driver reads the messages without it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ChildCall",
    "ContextDeleted",
    "ContextDelta",
    "ContextPut",
    "FollowUp",
    "Message",
    "Raised",
    "Returned",
    "Streamed",
]


@dataclass(frozen=True, slots=True)
class Streamed:
    """An `rc.stream` item of the remote node."""

    blob: bytes


@dataclass(frozen=True, slots=True)
class ContextPut:
    """The remote node set `rc.context[key]`."""

    key: str
    blob: bytes


@dataclass(frozen=True, slots=True)
class ContextDeleted:
    """The remote node removed `rc.context[key]`."""

    key: str


@dataclass(frozen=True, slots=True)
class ContextDelta:
    """Driver to worker: run `token`'s context from version `base` to `version`.

    `blob` is `(values, deleted)` pickled: the keys changed since `base` with their
    values, and the keys removed since; all the keys when `base` is 0. None: nothing
    changed (the worker is up to date).
    """

    token: str
    base: int
    version: int
    blob: bytes | None


@dataclass(frozen=True, slots=True)
class ChildCall:
    """The remote node called a child: `(node, args, kwargs)` pickled."""

    call_id: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class Returned:
    """The remote node's output: its run is over."""

    blob: bytes


@dataclass(frozen=True, slots=True)
class Raised:
    """The remote node's exception: its run is over."""

    type_name: str
    traceback: str
    blob: bytes | None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The node still runs: read the rest with `NodeHost.follow(handle)`."""

    handle: int


Message = Streamed | ContextPut | ContextDeleted | ChildCall | Returned | Raised | FollowUp
FINAL = (Returned, Raised)  # the message types that end a node's run
