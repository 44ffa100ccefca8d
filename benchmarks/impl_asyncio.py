"""The floor: every workload written in plain asyncio, one task per call.

Nothing is recorded, nothing is published: this is what the work costs with no
framework at all. Each function yields one sample (a dict of metrics) per repeat.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

from _common import (
    FINAL_TEXT,
    TOOLS_PER_TURN,
    TURNS,
    MemoryProbe,
    Sample,
    Stopwatch,
    floor_state_records,
    repeat_samples,
)


async def child(i: int) -> int:
    return i


# --- W1: a node awaiting a child n times in sequence ---------------------------


async def _sequential(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await asyncio.create_task(child(i))
    return time.perf_counter() - start


def w1(n: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        seconds = asyncio.run(_sequential(n))
        return {"us_per_call": seconds / n * 1e6}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_sequential(min(n, 100))))


# --- W2: a node launching n children at once -----------------------------------


async def _fan_out(n: int) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(child(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    assert len(results) == n
    return elapsed


def w2(n: int, repeat: int, variant: str) -> Iterator[Sample]:
    del variant  # the floor has one form: gather of n coroutines

    async def first() -> Sample:
        await _fan_out(10)
        probe = MemoryProbe()
        probe.start()
        seconds = await _fan_out(n)
        return {"bytes_per_node": probe.growth() / n, "cold_wall_ms": seconds * 1e3}

    yield asyncio.run(first())
    for _ in range(repeat):
        yield {"wall_ms": asyncio.run(_fan_out(n)) * 1e3}


# --- W3: a node calling itself to a depth --------------------------------------


async def _descend(depth: int) -> int:
    if depth == 0:
        return 0
    return await asyncio.create_task(_descend(depth - 1)) + 1


async def _dive(depth: int) -> float:
    start = time.perf_counter()
    reached = await _descend(depth)
    elapsed = time.perf_counter() - start
    assert reached == depth
    return elapsed


def w3(depth: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        seconds = asyncio.run(_dive(depth))
        return {"ms": seconds * 1e3, "us_per_level": seconds / depth * 1e6}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_dive(depth)))


# --- W5: set-up costs -------------------------------------------------------------


async def _nothing() -> None:
    return None


async def _one_call() -> int:
    return await asyncio.create_task(child(1))


def w5_empty(repeat: int) -> Iterator[Sample]:
    """The floor of "open and close a runner": ``asyncio.run`` of a coroutine doing nothing."""

    def run() -> Sample:
        with Stopwatch() as sw:
            asyncio.run(_nothing())
        return {"empty_runner_us": sw.seconds * 1e6}

    return repeat_samples(repeat, run, warmup=run)


def w5_one_call(repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        with Stopwatch() as sw:
            assert asyncio.run(_one_call()) == 1
        return {"one_call_us": sw.seconds * 1e6}

    return repeat_samples(repeat, run, warmup=run)


# --- W6: save and load the state of an n-node run -------------------------------


def w6(n: int, repeat: int) -> Iterator[Sample]:
    records = floor_state_records(n)

    def run() -> Sample:
        with Stopwatch() as save:
            text = json.dumps(records)
        with Stopwatch() as load:
            loaded = json.loads(text)
        assert len(loaded) == n
        return {
            "save_ms": save.seconds * 1e3,
            "load_ms": load.seconds * 1e3,
            "bytes": len(text.encode()),
        }

    return repeat_samples(repeat, run, warmup=run)


# --- W4: LLM agents on a scripted model ---------------------------------------


async def _model(history: list[dict[str, Any]], latency: float) -> dict[str, Any]:
    """A fake model: TURNS turns of parallel tool calls, then a text answer."""
    if latency:
        await asyncio.sleep(latency)
    turn = sum(1 for message in history if message["role"] == "assistant")
    if turn < TURNS:
        calls = [
            {"id": f"call-{turn}-{k}", "name": "lookup", "arguments": {"x": k}}
            for k in range(TOOLS_PER_TURN)
        ]
        return {"role": "assistant", "tool_calls": calls}
    return {"role": "assistant", "content": FINAL_TEXT}


async def _lookup(x: int) -> int:
    return x * 2


async def _agent(prompt: str, latency: float) -> str:
    history: list[dict[str, Any]] = [
        {"role": "system", "content": "You look things up."},
        {"role": "user", "content": prompt},
    ]
    while True:
        reply = await _model(history, latency)
        history.append(reply)
        calls = reply.get("tool_calls")
        if not calls:
            return str(reply["content"])
        results = await asyncio.gather(*(_lookup(**call["arguments"]) for call in calls))
        history.extend(
            {"role": "tool", "id": call["id"], "content": str(result)}
            for call, result in zip(calls, results, strict=True)
        )


async def _crowd(agents: int, latency: float) -> float:
    start = time.perf_counter()
    answers = await asyncio.gather(*(_agent(f"task {i}", latency) for i in range(agents)))
    elapsed = time.perf_counter() - start
    assert answers == [FINAL_TEXT] * agents
    return elapsed


def w4(agents: int, latency_ms: float, repeat: int) -> Iterator[Sample]:
    latency = latency_ms / 1e3

    def run() -> Sample:
        return {"wall_ms": asyncio.run(_crowd(agents, latency)) * 1e3}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_crowd(10, latency)))
