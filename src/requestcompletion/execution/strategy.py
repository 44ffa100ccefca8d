"""The ExecutionStrategy seam: where a prepared node invocation actually runs.

A strategy has one required method. `execute(task)` returns an awaitable of the
node's output (an `async def` is the usual way to write one). The task carries
what the call is:

- `task.work`: the prepared invocation, a coroutine for `async def` nodes and a
  zero-argument callable for plain `def` nodes (a strategy that does not run it
  must close a coroutine it was given);
- `task.spec`: the node type's `NodeSpec` (`name`, `node`, `func`, `is_async`,
  `options`: the node's per-mode options, e.g. ``spec.options.get("gpu", {})``);
- `task.args`, `task.kwargs` (None when there are none), `task.id`, `task.parent_id`.

Everything around it (recording, events, cancellation, timeouts, the node's
context variables) is the coordinator's, so a strategy only decides *where* the
work runs. A runner takes strategies by mode name, merged over the built-ins:
``rc.Runner(execution_modes={"gpu": MyGpuStrategy()})``; see docs/strategies.md
for a complete one.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable
from typing import Any, Protocol

from ..state.records import NodeRecord

__all__ = ["Driver", "ExecutionStrategy"]


class Driver(Protocol):
    """What a node running elsewhere (another process, a cluster) may do back on the driver.

    The coordinator is one: a remote node's `rc.call`, `rc.stream` and
    `rc.context` go through it, so the recorded graph is the same as for a local node.
    """

    @property
    def variables(self) -> dict[str, Any]:
        """The run's `rc.context` variables."""

    def call(
        self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, parent: NodeRecord
    ) -> Awaitable[Any]:
        """Run `node` on the driver as a child of `parent`; its output (or its exception)."""

    def stream(self, record: NodeRecord, item: Any) -> None:
        """Record and publish an `rc.stream` item of `record`'s node."""


class ExecutionStrategy(abc.ABC):
    """Runs node invocations somewhere: the event loop, a thread pool, a cluster, a process.

    Subclasses implement `execute`; `shutdown` is optional. One instance may
    serve several runners one after another: the runner calls `shutdown` when
    it closes, and the next `execute` may start what it needs again.
    """

    name: str = "strategy"

    @abc.abstractmethod
    def execute(self, task: NodeRecord) -> Awaitable[Any]:
        """Run `task.work` and return an awaitable of its output (or of its exception).

        Args:
            task: the call to run (see the module docstring for what it carries).
        """

    def shutdown(self) -> None:  # noqa: B027 - optional: most strategies hold nothing
        """Release what the strategy holds (pools, actors). Called when a runner using it closes."""
