"""Running nodes: the coordinator and the execution strategies behind it."""

from .coordinator import Coordinator
from .strategies import AsyncioStrategy, ThreadedExecutionStrategy
from .strategy import ExecutionStrategy

__all__ = ["AsyncioStrategy", "Coordinator", "ExecutionStrategy", "ThreadedExecutionStrategy"]
