"""The ExecutionStrategy seam: where a prepared node invocation actually runs.

A strategy has one required method. `execute(task)` returns an awaitable of the
node's output (an `async def` is the usual way to write one). The `NodeTask` is
an immutable description of the call: its ids, the node type's spec, its
arguments, the prepared invocation (`task.work`), and `task.driver`, through
which a node run elsewhere calls children, streams items and uses `rc.context`
back on the driver.

Everything around it (recording, events, cancellation, timeouts, the node's
context variables) is the coordinator's, so a strategy only decides *where* the
work runs. A runner takes strategies by mode name, merged over the built-ins:
``rc.Runner(execution_modes={"gpu": MyGpuStrategy()})``; see docs/strategies.md
for a complete one.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..nodes.base import NodeSpec

__all__ = ["Driver", "ExecutionStrategy", "NodeTask"]


class Driver(Protocol):
    """What the node of a task may do back on the driver: call, stream, use the context.

    A strategy that runs nodes elsewhere (another process, a cluster) relays
    what the node asks for through it, so the recorded graph is the same as
    for a node run here.
    """

    @property
    def variables(self) -> dict[str, Any]:
        """The run's `rc.context` variables (writes are seen by every node)."""

    def call(
        self, node: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None
    ) -> Awaitable[Any]:
        """Run `node` on the driver as a child of the task's node; its output or exception."""

    def stream(self, item: Any) -> None:
        """An `rc.stream` item of the task's node."""


@dataclass(frozen=True, slots=True)
class NodeTask:
    """One call, as a strategy sees it: immutable (the coordinator owns the live record).

    Attributes:
        id: the node's id in the run (`runner.info.nodes[id]`).
        parent_id: its caller's id; None for a top-level request.
        spec: the node type's `NodeSpec` (`name`, `node`, `func`, `is_async`,
            `options`: the node's options keyed by mode).
        args: the positional arguments.
        kwargs: the keyword arguments (read-only), or None when there are none.
        work: the prepared invocation: a coroutine for an `async def` node (a
            strategy that does not await it must close it), a zero-argument
            callable otherwise.
        driver: what the node may do back on the driver (for strategies that run
            it elsewhere).
    """

    id: int
    parent_id: int | None
    spec: NodeSpec
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] | None
    work: Any
    driver: Driver


class ExecutionStrategy(abc.ABC):
    """Runs node invocations somewhere: the event loop, a thread pool, a cluster, a process.

    Subclasses implement `execute`; `shutdown` is optional. One instance may
    serve several runners one after another: the runner calls `shutdown` when
    it closes, and the next `execute` may start what it needs again.
    """

    name: str = "strategy"

    @abc.abstractmethod
    def execute(self, task: NodeTask) -> Awaitable[Any]:
        """Run `task.work` and return an awaitable of its output (or of its exception).

        Args:
            task: the call to run.
        """

    def shutdown(self) -> None:  # noqa: B027 - optional: most strategies hold nothing
        """Release what the strategy holds (pools, actors). Called when a runner using it closes."""
