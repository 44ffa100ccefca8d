"""Running nodes: the coordinator and the execution strategies behind it.

`ExecutionStrategy` is the seam users plug their own strategies into
(`rc.Runner(execution_modes={"gpu": MyStrategy()})`); the built-ins are
`AsyncioExecutionStrategy` ("asyncio"), `ThreadedExecutionStrategy` ("threads")
and `DistributedExecutionStrategy` ("distributed", needs the `ray` extra).
"""

import warnings as _warnings
from typing import Any as _Any

from .coordinator import Coordinator
from .strategies import (
    AsyncioExecutionStrategy,
    DistributedExecutionStrategy,
    ThreadedExecutionStrategy,
)
from .strategy import Driver, ExecutionStrategy, NodeTask

__all__ = [
    "AsyncioExecutionStrategy",
    "Coordinator",
    "DistributedExecutionStrategy",
    "Driver",
    "ExecutionStrategy",
    "NodeTask",
    "ThreadedExecutionStrategy",
]


def __getattr__(name: str) -> _Any:
    if name == "AsyncioStrategy":  # the old spelling, kept for one release
        _warnings.warn(
            "rc.execution.AsyncioStrategy is deprecated and goes away in the next release; "
            "write rc.execution.AsyncioExecutionStrategy",
            DeprecationWarning,
            stacklevel=2,
        )
        return AsyncioExecutionStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
