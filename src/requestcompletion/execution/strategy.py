"""The ExecutionStrategy seam: how a prepared node invocation is actually run.

A strategy has one required method. `execute(record)` returns an awaitable of
the node's output (an `async def` is the usual way to write one); the record
carries the node's spec, its arguments and its prepared invocation
(`record.work`: a coroutine for async nodes, a zero-argument callable otherwise).
Everything around it (recording, events, cancellation, timeouts) is the
coordinator's, so a strategy only decides *where* the work runs.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable
from typing import Any

from ..state.records import NodeRecord

__all__ = ["ExecutionStrategy"]


class ExecutionStrategy(abc.ABC):
    """Runs node invocations somewhere: the event loop, a thread pool, a cluster."""

    name: str = "strategy"

    @abc.abstractmethod
    def execute(self, record: NodeRecord) -> Awaitable[Any]:
        """Run `record.work` and return an awaitable of its output (or its exception)."""

    def shutdown(self) -> None:  # noqa: B027 - optional: most strategies hold nothing
        """Release what the strategy holds (pools, actors). Called when the runner closes."""
