"""AsyncioExecutionStrategy: run an `async def` node inline, in its caller's task.

Awaiting the coroutine directly (no task per call) is what makes `rc.call`
cheaper than `asyncio.create_task`: concurrency comes from the caller, who
already made a task per child when it used `gather` or `rc.batch`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..strategy import ExecutionStrategy, NodeTask

__all__ = ["AsyncioExecutionStrategy"]


class AsyncioExecutionStrategy(ExecutionStrategy):
    """The default for `async def` nodes: the coroutine runs in the caller's task."""

    name = "asyncio"

    def execute(self, task: NodeTask) -> Awaitable[Any]:
        work: Awaitable[Any] = task.work
        return work
