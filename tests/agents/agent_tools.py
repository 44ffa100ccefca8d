"""Tool functions shared by the agent tests."""

from __future__ import annotations

import asyncio

import pydantic


class City(pydantic.BaseModel):
    """A city and how many people live there."""

    name: str
    population: int


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Meeting:
    """Tools that can only finish together: each waits until `parties` of them have started.

    If an agent ran its tool calls one after another, the first would wait for ever;
    the test's deadline turns that into a failure.
    """

    def __init__(self, parties: int) -> None:
        self.barrier = asyncio.Barrier(parties)

    async def meet(self, who: str) -> str:
        """Wait for the others, then say hello.

        Args:
            who: who is meeting
        """
        await self.barrier.wait()
        return f"hello {who}"
