"""Who is running: the current runner, host and node, the run's shared variables, prompt filling.

Everything here is found through `contextvars`, never through module globals, so
runners in different threads or tasks never see each other. Tasks copy the
context when they are created, threads get a copy from the threaded strategy.

What a node asks of its run (`rc.call`, `rc.call_sync`, `rc.stream`,
`rc.context`) goes to the current `Host`: on the driver the runner's
coordinator, on a Ray worker the link back to the driver. The user verbs take
the same path in both places.

What a node sees of `rc.context` depends on where it runs (the table in
docs/strategies.md, "Context across strategies"):

- asyncio and threads: every node of the runner reads and writes the runner's
  one dict, live. A write is seen by every node at once; a child sees what its
  parent wrote before the call; of two writes to one key the last wins. Each
  get or put is one dict operation, but a get-then-put on threads is not atomic.
- distributed (Ray): a remote node reads a copy kept on its worker: the
  driver's context when the node started, refreshed whenever one of its child
  calls returns (not on each read: that would be a round trip per `get`).
  Writes other nodes make while it runs are not seen until then. Its own writes
  are in its copy at once, so it always reads them back, and reach the driver in
  order, before its next child call is served and before its result is
  returned. Parallel remote writers of one key: the driver applies writes in
  the order they arrive and the last one applied wins; each writer keeps reading
  its own value until its next child call returns. Only changes travel: see
  `execution/strategies/distributed/sync.py`.
- a strategy of your own: `task.driver.variables` is the runner's dict; a node
  run in this process has the asyncio/threads semantics, one run elsewhere sees
  what the strategy sends it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

from .errors import ContextError
from .state.records import NodeRecord

__all__ = ["Host", "context", "current_host", "current_node", "current_runner", "fill_prompt"]

# The runner whose block we are in, and the node whose code is running. The
# runner is a layer above this one, so this module knows it only as "something
# with `variables`"; the layers that use more of it (runner, interaction) read
# the variable into a local annotated `Runner | None`.
current_runner: ContextVar[Any] = ContextVar("rc_runner", default=None)
current_node: ContextVar[NodeRecord | None] = ContextVar("rc_node", default=None)


class Host(Protocol):
    """Where the calls, stream items and context writes of the current node go.

    The runner's coordinator is one (it records and runs them); on a Ray worker,
    where there is no runner, the link to the driver is one (it sends them
    there: see `execution/strategies/distributed/worker.py`).
    """

    @property
    def variables(self) -> dict[str, Any]:
        """The run's `rc.context` variables."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop that `call` must run on (a thread node hands its calls to it)."""

    def call(
        self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, parent: NodeRecord
    ) -> Awaitable[Any]:
        """Run `node` as a child of `parent`; its output (or its exception)."""

    def stream(self, parent: NodeRecord | None, item: Any) -> None:
        """An `rc.stream` item of `parent`'s node (None: from the runner's block)."""


# Set by an open runner (its coordinator) and on a Ray worker (the link).
current_host: ContextVar[Host | None] = ContextVar("rc_host", default=None)

_MISSING: Any = object()


def loop_running() -> bool:
    """Is an event loop running in this thread (where blocking calls must not be made)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def active_host(what: str) -> Host:
    """The current host, or a ContextError saying that `what` needs an active runner."""
    host = current_host.get()
    if host is None:
        raise ContextError(
            f"{what} needs an active runner: call it from a node, or inside "
            f"`with rc.Runner() as runner:`"
        )
    return host


def _variables(what: str) -> dict[str, Any]:
    """The run's variables (on a Ray worker, the driver's, through the link)."""
    return active_host(what).variables


class _Context:
    """`rc.context`: variables shared by every node of the current runner.

    Seeded by `Runner(context={...})`, gone when the runner closes. Every method
    raises `rc.ContextError` outside a runner.
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default` when it is not set."""
        return _variables("rc.context.get").get(key, default)

    def put(self, key: str, value: Any) -> None:
        """Set `key` to `value`."""
        _variables("rc.context.put")[key] = value

    def update(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kw: Any) -> None:
        """Set several keys at once, like `dict.update`."""
        _variables("rc.context.update").update(values, **kw)

    def delete(self, key: str) -> None:
        """Remove `key`; a KeyError names it when it is not set."""
        variables = _variables("rc.context.delete")
        if variables.pop(key, _MISSING) is _MISSING:
            raise KeyError(f"rc.context has no key {key!r}; it has {sorted(variables)!r}")

    def keys(self) -> list[str]:
        """The keys that are set, in insertion order."""
        return list(_variables("rc.context.keys"))

    def __contains__(self, key: object) -> bool:
        return key in _variables("rc.context")

    def __repr__(self) -> str:
        host = current_host.get()
        return "rc.context(<no runner>)" if host is None else f"rc.context({host.variables!r})"


context = _Context()

# `{{` and `}}` are escaped braces; `{name}` with a bare identifier is a placeholder.
# Anything else (`{a.b}`, `{0}`, `{x!r}`, `{y:>10}`, a lone brace) is text.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_prompt(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders in `template` from `values`, in one pass.

    Only bare names are filled; unknown names, attribute or index lookups, format
    specs and conversions stay as written, and inserted values are never scanned
    again, so nothing reaches Python's format machinery. `{{` and `}}` become a
    single brace.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        value = values.get(name, _MISSING)
        return match.group(0) if value is _MISSING else str(value)

    return _PLACEHOLDER.sub(replace, template)
