"""The built-in execution strategies."""

from .asyncio import AsyncioStrategy
from .threads import ThreadedExecutionStrategy

__all__ = ["AsyncioStrategy", "ThreadedExecutionStrategy"]
