"""The workloads on requestcompletion, written against DESIGN §1, §2 and §5.

Overhead workloads use ``rc.Runner(save_state=False, logging_setting="NONE")``
(``OVERHEAD_SETTINGS``) with one subscriber counting every event; W5 also runs a
call with the default settings. Nodes are plain functions, the way DESIGN §1 calls
``rc.call(upper, ...)``. Each function yields one sample per repeat; every sample
opens a fresh runner, so no run sees the records of the one before.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    FINAL_TEXT,
    TOOLS_PER_TURN,
    TURNS,
    EventCounter,
    MemoryProbe,
    Sample,
    Stopwatch,
    repeat_samples,
)

try:
    import requestcompletion as rc
except Exception as error:  # any failure: the core may be half-written
    rc = None
    _IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    _IMPORT_ERROR = None

OVERHEAD_SETTINGS: dict[str, Any] = {"save_state": False, "logging_setting": "NONE"}

# What each workload needs from the package; a missing name means the core has not
# landed yet, and the workload is skipped with that reason.
_NEEDS: dict[str, tuple[str, ...]] = {
    "W1": ("Runner", "call"),
    "W2": ("Runner", "call", "batch"),
    "W3": ("Runner", "call"),
    "W4": ("Runner", "call", "batch", "agent_node"),
    "W5": ("Runner", "call"),
    "W6": ("Runner", "call", "ExecutionInfo"),
}


def unavailable(workload: str) -> str | None:
    """Why the rc side of ``workload`` cannot run now, or None when it can."""
    if rc is None:
        return f"import requestcompletion failed ({_IMPORT_ERROR})"
    missing = [name for name in _NEEDS[workload] if not hasattr(rc, name)]
    if workload == "W4":
        try:
            _agent_parts()
        except ImportError as error:
            missing.append(f"testing.ScriptedModel or llm.ToolCall ({error})")
    if missing:
        return "the rc core has not landed: requestcompletion has no " + ", ".join(
            f"rc.{name}" for name in missing
        )
    return None


async def _run(node: Any, *args: Any, counter: EventCounter | None = None) -> Any:
    """Open a fresh runner with one counting subscriber, run ``node``, return its answer."""
    counter = counter if counter is not None else EventCounter()
    async with rc.Runner(**OVERHEAD_SETTINGS) as runner:
        runner.publisher.subscribe(counter.record)
        info = await runner.run(node, *args)
    return info.answer


async def child(i: int) -> int:
    return i


# --- W1: a node awaiting a child n times in sequence ---------------------------


async def sequential(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await rc.call(child, i)
    return time.perf_counter() - start


def w1(n: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        counter = EventCounter()
        seconds = asyncio.run(_run(sequential, n, counter=counter))
        return {"us_per_call": seconds / n * 1e6, "events": counter.count}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(sequential, min(n, 100))))


# --- W2: a node launching n children at once -----------------------------------


async def fan_out_batch(n: int) -> float:
    start = time.perf_counter()
    results = await rc.batch(child, range(n))
    elapsed = time.perf_counter() - start
    assert list(results) == list(range(n)), "rc.batch lost or reordered results"
    return elapsed


async def fan_out_gather(n: int) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(rc.call(child, i) for i in range(n)))
    elapsed = time.perf_counter() - start
    assert results == list(range(n))
    return elapsed


_FAN_OUT = {"batch": fan_out_batch, "gather": fan_out_gather}


def w2(n: int, repeat: int, variant: str) -> Iterator[Sample]:
    fan_out = _FAN_OUT[variant]

    async def first() -> Sample:
        counter = EventCounter()
        async with rc.Runner(**OVERHEAD_SETTINGS) as runner:
            runner.publisher.subscribe(counter.record)
            await runner.run(fan_out, 10)  # first-call set-up, outside the measure
            probe = MemoryProbe()
            probe.start()
            info = await runner.run(fan_out, n)
            growth = probe.growth()
        return {
            "bytes_per_node": growth / n,
            "cold_wall_ms": info.answer * 1e3,
            "events": counter.count,
        }

    yield asyncio.run(first())
    for _ in range(repeat):
        yield {"wall_ms": asyncio.run(_run(fan_out, n)) * 1e3}


# --- W3: a node calling itself to a depth --------------------------------------


async def descend(depth: int) -> int:
    if depth == 0:
        return 0
    return await rc.call(descend, depth - 1) + 1


async def dive(depth: int) -> float:
    start = time.perf_counter()
    reached = await rc.call(descend, depth)
    elapsed = time.perf_counter() - start
    assert reached == depth
    return elapsed


def w3(depth: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        seconds = asyncio.run(_run(dive, depth))
        return {"ms": seconds * 1e3, "us_per_level": seconds / depth * 1e6}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(dive, depth)))


# --- W5: set-up costs -------------------------------------------------------------


async def _open_close() -> None:
    async with rc.Runner(**OVERHEAD_SETTINGS) as runner:
        runner.publisher.subscribe(EventCounter().record)


def w5_empty(repeat: int) -> Iterator[Sample]:
    """An event loop with an empty runner opened and closed in it (floor: the loop alone)."""

    def run() -> Sample:
        with Stopwatch() as sw:
            asyncio.run(_open_close())
        return {"empty_runner_us": sw.seconds * 1e6}

    return repeat_samples(repeat, run, warmup=run)


async def _count_async(event: object) -> None:
    return None


async def _one_call(settings: dict[str, Any], subscriber: Any = "sync") -> int:
    async with rc.Runner(**settings) as runner:
        if subscriber == "sync":
            runner.publisher.subscribe(EventCounter().record)
        elif subscriber == "async":
            runner.publisher.subscribe(_count_async)
        info = await runner.run(child, 1)
    return int(info.answer)


def _one_call_sync() -> int:
    with rc.Runner(**OVERHEAD_SETTINGS) as runner:
        runner.publisher.subscribe(EventCounter().record)
        return int(runner.run_sync(child, 1).answer)


def w5_one_call(repeat: int) -> Iterator[Sample]:
    """A runner plus one call: overhead settings, ``run_sync``, the defaults, then the
    overhead settings with an async subscriber and with none (to show what the sync
    subscriber costs).

    The defaults save the state to ``.covailence/`` in the worker's scratch folder
    and log at ``REGULAR`` (to the worker's captured stderr).
    """

    def run() -> Sample:
        with Stopwatch() as overhead:
            assert asyncio.run(_one_call(OVERHEAD_SETTINGS)) == 1
        with Stopwatch() as sync:
            assert _one_call_sync() == 1
        with Stopwatch() as defaults:
            assert asyncio.run(_one_call({})) == 1
        with Stopwatch() as async_subscriber:
            assert asyncio.run(_one_call(OVERHEAD_SETTINGS, "async")) == 1
        with Stopwatch() as no_subscriber:
            assert asyncio.run(_one_call(OVERHEAD_SETTINGS, None)) == 1
        return {
            "one_call_us": overhead.seconds * 1e6,
            "one_call_sync_us": sync.seconds * 1e6,
            "one_call_async_sub_us": async_subscriber.seconds * 1e6,
            "one_call_no_sub_us": no_subscriber.seconds * 1e6,
            "one_call_default_us": defaults.seconds * 1e6,
        }

    return repeat_samples(repeat, run, warmup=run)


# --- W6: save and load the state of an n-node run -------------------------------


async def chain(n: int) -> int:
    for i in range(n):
        await rc.call(child, i)
    return n


def w6(n: int, repeat: int) -> Iterator[Sample]:
    """A root node and ``n - 1`` children, saved by the runner on exit, then loaded."""
    state_dir = Path(tempfile.mkdtemp(prefix="rc-w6-"))
    runs = 0

    def run() -> Sample:
        nonlocal runs
        runs += 1
        run_id = f"w6-{runs}"
        runner = rc.Runner(
            save_state=True, logging_setting="NONE", state_dir=str(state_dir), run_identifier=run_id
        )
        with runner:
            runner.publisher.subscribe(EventCounter().record)
            info = runner.run_sync(chain, n - 1)
            start = time.perf_counter()
        save_seconds = time.perf_counter() - start
        nodes = len(info.nodes)
        assert nodes == n, f"expected {n} node records, found {nodes}"
        path = state_dir / f"{run_id}.json"
        with Stopwatch() as to_json:
            info.to_json()
        with Stopwatch() as load:
            loaded = rc.ExecutionInfo.load(path)
        assert len(loaded.nodes) == n
        size = path.stat().st_size
        path.unlink()
        return {
            "save_ms": save_seconds * 1e3,
            "to_json_ms": to_json.seconds * 1e3,
            "load_ms": load.seconds * 1e3,
            "bytes": size,
        }

    return repeat_samples(repeat, run, warmup=run)


# --- W4: LLM agents on a scripted model ---------------------------------------


def _agent_parts() -> tuple[Any, Any]:
    """``(ScriptedModel, ToolCall)`` from rc.testing and rc.llm (imported on demand)."""
    from requestcompletion.llm import ToolCall
    from requestcompletion.testing import ScriptedModel

    return ScriptedModel, ToolCall


def _script(tool_call: Any) -> Any:
    """The reply function: TURNS turns of TOOLS_PER_TURN ``lookup`` calls, then text."""

    def reply(messages: Any, tools: Any) -> Any:
        turn = sum(1 for message in messages if message.role == "assistant")
        if turn < TURNS:
            return [
                tool_call("lookup", {"x": k}, id=f"call-{turn}-{k}") for k in range(TOOLS_PER_TURN)
            ]
        return FINAL_TEXT

    return reply


async def lookup(x: int) -> int:
    """Look a number up.

    Args:
        x: the number to look up
    """
    return x * 2


def _answer_text(result: Any) -> str:
    return str(getattr(result, "text", result))


def w4(agents: int, latency_ms: float, repeat: int) -> Iterator[Sample]:
    scripted_model, tool_call = _agent_parts()

    def make_agent() -> Any:
        # a fresh model per sample, as a fresh runner: the scripted model keeps a log
        # of every call it got, which would otherwise grow from one sample to the next
        return rc.agent_node(
            "bench_agent",
            llm=scripted_model(_script(tool_call), latency=latency_ms / 1e3),
            system_message="You look things up.",
            tool_nodes=(lookup,),
        )

    async def crowd(agent: Any, count: int) -> float:
        start = time.perf_counter()
        results = await rc.batch(agent, [f"task {i}" for i in range(count)])
        elapsed = time.perf_counter() - start
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        assert [_answer_text(r) for r in results] == [FINAL_TEXT] * count
        return elapsed

    def run() -> Sample:
        counter = EventCounter()
        seconds = asyncio.run(_run(crowd, make_agent(), agents, counter=counter))
        return {"wall_ms": seconds * 1e3, "events": counter.count}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(crowd, make_agent(), 10)))
