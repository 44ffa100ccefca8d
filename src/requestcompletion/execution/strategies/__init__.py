"""The built-in execution strategies: inline on the loop, a thread pool, a Ray cluster."""

from .asyncio import AsyncioExecutionStrategy
from .distributed import DistributedExecutionStrategy
from .threads import ThreadedExecutionStrategy

__all__ = ["AsyncioExecutionStrategy", "DistributedExecutionStrategy", "ThreadedExecutionStrategy"]
