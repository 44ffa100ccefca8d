"""Streamed replies: server-sent events off the wire, and the decoder each provider supplies.

`server_sent_events` reads a ``text/event-stream`` into (event, data) pairs, each
bounded in time; a provider's `StreamDecoder` turns them into chunks of text and one
final `Response`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator

import httpx

from ..response import Chunk, Response

__all__ = ["StreamDecoder", "server_sent_events"]


class StreamDecoder(abc.ABC):
    """Turns a provider's server-sent events into chunks and a final `Response`."""

    @abc.abstractmethod
    def feed(self, event: str, data: str) -> Chunk | None:
        """Take one event; return text to pass on, if it carries any."""

    @abc.abstractmethod
    def finish(self) -> Response:
        """The whole answer; raise `ProviderError` if the stream did not complete."""


async def server_sent_events(
    reply: httpx.Response, within: float
) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a ``text/event-stream``; an unfinished last event is dropped.

    Each event must arrive whole within `within` seconds (TimeoutError otherwise); the
    time the caller spends on an event does not count.
    """
    loop = asyncio.get_running_loop()
    event = ""
    data: list[str] = []
    async with asyncio.timeout(within) as deadline:
        async for line in reply.aiter_lines():
            if not line:
                if data:
                    # no deadline while the caller holds the event: that time is its own
                    deadline.reschedule(None)
                    yield event or "message", "\n".join(data)
                    deadline.reschedule(loop.time() + within)
                event, data = "", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                event = value
