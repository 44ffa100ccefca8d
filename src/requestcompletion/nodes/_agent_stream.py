"""Streaming an agent's reply: each piece published as it comes, the whole recorded once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import LLMError
from ..llm.response import Chunk, Response
from ..pubsub.events import LLMChunk, fast_constructor

if TYPE_CHECKING:
    from ..state.records import NodeRecord
    from ._agent_loop import AgentRun

__all__ = ["streamed_reply", "streamed_text", "who"]

_now = time.perf_counter
_chunk = fast_constructor(LLMChunk)
_piece = fast_constructor(Chunk)


async def streamed_reply(run: AgentRun, tools: Any) -> Response:
    """`chat` through the model's stream: each piece of text is published once, as an
    `LLMChunk` (a `Streamed` event too, so the run's subscriber gets its `Chunk`). The
    run's record keeps one entry per reply, not one per piece: a long answer would
    otherwise fill the saved run with thousands of fragments."""
    llm = run.config.llm
    structured = run.config.output_schema is not None
    runner = run.runner
    record = run.record
    remote = run.remote  # on a Ray worker: the pieces and the whole go to the driver
    kept = runner is not None or remote is not None
    final: Response | None = None
    pieces: list[str] = []
    started = first = last = _now()
    stream = llm.stream(run.history, tools, run.config.output_schema)
    try:
        async for item in stream:
            if isinstance(item, Response):
                final = item
            elif isinstance(item, Chunk) and item.text and kept:
                last = _now()
                if not pieces:
                    first = last
                pieces.append(item.text)
                if runner is None:  # on a Ray worker: the driver publishes it
                    if remote is not None and remote.events:
                        remote.chunk(_piece(item.text, "".join(pieces) if structured else None))
                    continue
                publisher = runner.publisher
                if publisher.active:
                    # one event per piece: an LLMChunk is also the Streamed event the
                    # config's subscriber gets, with the Chunk itself as its item
                    partial = "".join(pieces) if structured else None
                    piece = _piece(item.text, partial)
                    publisher.publish(
                        _chunk(runner.run_id, *who(record), last, piece, item.text, "agent")
                    )
    finally:
        if pieces and kept:  # a stream cut off mid-way is kept too
            whole = streamed_text("".join(pieces), len(pieces), first - started, last - started)
            if runner is not None:
                runner.state.add_streamed(record, whole, publish=False)
            elif remote is not None:
                remote.streamed(whole)
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    if final is None:
        raise LLMError(
            f"{run.where()}: {llm.provider} model {llm.model_name!r} ended its stream "
            f"without a final response; its stream() must yield a Response last"
        )
    return final


def streamed_text(text: str, chunks: int, first: float, last: float) -> dict[str, Any]:
    """What the run records of one streamed reply: the text, in how many pieces it came,
    and the seconds from the request to its first and last piece."""
    return {"streamed_text": text, "chunks": chunks, "first_chunk_s": first, "last_chunk_s": last}


def who(record: NodeRecord | None) -> tuple[int | None, str | None, int | None]:
    """(node id, node name, parent id) for an event."""
    if record is None:
        return None, None, None
    return record.id, record.spec.name, record.parent_id
