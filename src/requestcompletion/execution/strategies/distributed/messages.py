"""The driver/worker protocol of the distributed strategy: typed, frozen messages.

A node's run on a Ray worker sends back batches of these (a list per round
trip). All come from the node but `FollowUp`, which the worker adds.

- `Streamed(blob)`: an `rc.stream` item;
- `ContextPut(key, blob)` / `ContextDeleted(key)`: `rc.context` set or removed `key`;
- `ChildCall(call_id, blob)`: `rc.call` of a child (node type and arguments
  pickled): run it on the driver, answer with `NodeHost.resolve(call_id, ...)`;
- `Returned(blob)`: the node's output (always last);
- `Raised(type_name, traceback, blob)`: the node's exception (always last): its
  type name, its formatted traceback, and the exception pickled when it survives
  a round trip (else None);
- `FollowUp(handle)`: the node still runs; `NodeHost.follow(handle)` yields the
  rest (ends the batch `NodeHost.start` returns);
- `Reserve(call_id, ...)`: a model call of the node asks the driver's budgets for
  its worst case; answered with `NodeHost.resolve(call_id, ...)` (a hold id, or
  the refusal), before the request leaves the worker;
- `Settle(hold, model, blob)` / `Release(hold)`: that call's real usage, or its
  failure;
- `OpenBudget(blob)` / `CloseBudget()`: the node is an agent with a budget of
  its own, which covers it and every node under it while it runs;
- `ModelAsked(provider, model, start, blob)` / `ModelChunk(blob)`: a model call
  of the agent left, a piece of its streamed reply came (only when the driver's
  publisher had a subscriber as the node started: they exist for the events);
- `ModelReplied(model, digest, accounts, blob)`: the call's response, for the
  node's usage (`accounts`: its totals so far), its record in the saved run
  (`digest` None when the run is not saved) and the `LLMResponseReceived` event;
  `ModelStreamed(whole)`: what the run records of a streamed reply;
- `Recall(call_id, digest)`: in a resumed run, the recorded response to the
  request with that digest, answered with `NodeHost.resolve(call_id, ...)`.

The other way, `NodeHost.start` and `NodeHost.resolve` carry a `ContextDelta`:
what the worker lacks of the run's `rc.context` (see `sync.py`), and `start` a
`Reports`: what the driver wants to hear of the node's model calls.

Values travel as bytes pickled by rc (`wire.py`), so a value that cannot be sent
fails on rc's side with a message naming it, never deep inside Ray. This module
imports nothing of Ray: the driver reads the messages without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ChildCall",
    "CloseBudget",
    "ContextDeleted",
    "ContextDelta",
    "ContextPut",
    "FollowUp",
    "Message",
    "ModelAsked",
    "ModelChunk",
    "ModelReplied",
    "ModelStreamed",
    "OpenBudget",
    "Raised",
    "Recall",
    "Release",
    "Reports",
    "Reserve",
    "Returned",
    "Settle",
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


@dataclass(frozen=True, slots=True)
class Reserve:
    """A model call of the remote node: reserve its worst case on the driver's budgets."""

    call_id: int
    model: str
    prompt_tokens: int
    max_output: int
    where: str  # the agent and its node, for the refusal's message


@dataclass(frozen=True, slots=True)
class Settle:
    """The reserved call's response came: its real usage (`Usage` pickled)."""

    hold: int
    model: str
    blob: bytes


@dataclass(frozen=True, slots=True)
class Release:
    """The reserved call failed: free what it reserved."""

    hold: int


@dataclass(frozen=True, slots=True)
class OpenBudget:
    """The remote agent's own `rc.Budget` (pickled) covers it from now on."""

    blob: bytes


@dataclass(frozen=True, slots=True)
class CloseBudget:
    """The remote agent's own budget ends."""


@dataclass(frozen=True, slots=True)
class Reports:
    """Driver to worker, at a node's start: what to send back of its model calls.

    `events`: the run's publisher has a subscriber (send `ModelAsked`, `ModelChunk`);
    `saved`: the run keeps each call's request digest (`ModelReplied.digest`);
    `replay`: the run is resumed and the node matched a recorded one, so ask for a
    recorded response first (`Recall`).
    """

    events: bool
    saved: bool
    replay: bool


@dataclass(frozen=True, slots=True)
class ModelAsked:
    """A model call of the remote agent left: its conversation from message `start`
    on (a list pickled); the driver has the ones before, so each travels once."""

    provider: str
    model: str
    start: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class ModelChunk:
    """A piece of the remote agent's streamed reply (its `llm.Chunk` pickled)."""

    blob: bytes


@dataclass(frozen=True, slots=True)
class ModelStreamed:
    """What the run records of one streamed reply of the remote agent (plain data)."""

    whole: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelReplied:
    """A model call of the remote agent was answered: its `Response` pickled.

    `model` is the model that answered (the response's, else the agent's);
    `digest` the request's digest when the run is saved, else None; `accounts` the
    agent's totals so far, as a local agent keeps them in ``extras["llm"]`` (the
    driver puts its own price in "cost").
    """

    model: str
    digest: str | None
    accounts: dict[str, Any]
    blob: bytes


@dataclass(frozen=True, slots=True)
class Recall:
    """A resumed run: the recorded response to this request of the remote agent, if any."""

    call_id: int
    digest: str


Message = (
    Streamed
    | ContextPut
    | ContextDeleted
    | ChildCall
    | Returned
    | Raised
    | FollowUp
    | Reserve
    | Settle
    | Release
    | OpenBudget
    | CloseBudget
    | ModelAsked
    | ModelChunk
    | ModelStreamed
    | ModelReplied
    | Recall
)
FINAL = (Returned, Raised)  # the message types that end a node's run
