"""The workloads on railtracks 1.7.0, the framework rc descends from.

Written the way its own docs and source use it: ``rt.function_node`` wraps each
function, ``rt.call`` / ``rt.call_batch`` call it, and a ``rt.Session`` (named with
``flow_name``, ``save_state=False``) holds the run, with one subscriber on its
publisher counting every message. The W4 model subclasses ``rt.llm.ModelBase``;
railtracks runs a non-streaming model call in a worker thread
(``asyncio.to_thread(model.chat_with_tools, ...)``), so the simulated latency of the
scripted model is a blocking ``time.sleep``, as a synchronous provider would be.

The parent process sets ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (so importing
railtracks does not reach for the network) and ``RAILTRACKS_HOME`` (so saved
sessions land in a scratch folder) before this module is imported.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Iterator
from importlib.metadata import version
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
    import railtracks as rt
    from railtracks.llm import AssistantMessage, ModelBase, ModelProvider, Response, ToolCall
    from railtracks.paths import resolve_railtracks_home
except ImportError as error:
    rt = None
    _IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    _IMPORT_ERROR = None
    warnings.simplefilter("ignore")  # its deprecation notices are not what we measure

FLOW_NAME = "benchmark"


def unavailable(workload: str) -> str | None:
    """Why railtracks cannot run now, or None when it can."""
    del workload
    if rt is None:
        return f"railtracks is not installed ({_IMPORT_ERROR}); pip install -e '.[bench]'"
    if version("railtracks") != "1.7.0":
        return f"railtracks {version('railtracks')} is installed; this benchmark pins 1.7.0"
    return None


async def _run(node: Any, *args: Any, counter: EventCounter | None = None) -> Any:
    """Open a fresh session with one counting subscriber and call ``node`` in it."""
    counter = counter if counter is not None else EventCounter()
    with rt.Session(flow_name=FLOW_NAME, save_state=False) as session:
        session.publisher.subscribe(counter.record)
        return await rt.call(node, *args)


async def child(i: int) -> int:
    return i


Child = rt.function_node(child) if rt else None


# --- W1: a node awaiting a child n times in sequence ---------------------------


async def sequential(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await rt.call(Child, i)
    return time.perf_counter() - start


Sequential = rt.function_node(sequential) if rt else None


def w1(n: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        counter = EventCounter()
        seconds = asyncio.run(_run(Sequential, n, counter=counter))
        return {"us_per_call": seconds / n * 1e6, "events": counter.count}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(Sequential, min(n, 100))))


# --- W2: a node launching n children at once -----------------------------------


async def fan_out_batch(n: int) -> float:
    start = time.perf_counter()
    results = await rt.call_batch(Child, range(n))
    elapsed = time.perf_counter() - start
    assert list(results) == list(range(n))
    return elapsed


async def fan_out_gather(n: int) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(rt.call(Child, i) for i in range(n)))
    elapsed = time.perf_counter() - start
    assert results == list(range(n))
    return elapsed


_FAN_OUT = (
    {"batch": rt.function_node(fan_out_batch), "gather": rt.function_node(fan_out_gather)}
    if rt
    else {}
)


def w2(n: int, repeat: int, variant: str) -> Iterator[Sample]:
    fan_out = _FAN_OUT[variant]

    async def first() -> Sample:
        counter = EventCounter()
        with rt.Session(flow_name=FLOW_NAME, save_state=False) as session:
            session.publisher.subscribe(counter.record)
            await rt.call(fan_out, 10)
            probe = MemoryProbe()
            probe.start()
            seconds = await rt.call(fan_out, n)
            growth = probe.growth()
        return {"bytes_per_node": growth / n, "cold_wall_ms": seconds * 1e3}

    yield asyncio.run(first())
    for _ in range(repeat):
        yield {"wall_ms": asyncio.run(_run(fan_out, n)) * 1e3}


# --- W3: a node calling itself to a depth --------------------------------------


async def descend(depth: int) -> int:
    if depth == 0:
        return 0
    return await rt.call(Descend, depth - 1) + 1


Descend = rt.function_node(descend) if rt else None


async def dive(depth: int) -> float:
    start = time.perf_counter()
    reached = await rt.call(Descend, depth)
    elapsed = time.perf_counter() - start
    assert reached == depth
    return elapsed


Dive = rt.function_node(dive) if rt else None


def w3(depth: int, repeat: int) -> Iterator[Sample]:
    def run() -> Sample:
        seconds = asyncio.run(_run(Dive, depth))
        return {"ms": seconds * 1e3, "us_per_level": seconds / depth * 1e6}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(Dive, 10)))


# --- W5: set-up costs -------------------------------------------------------------


async def _open_close() -> None:
    with rt.Session(flow_name=FLOW_NAME, save_state=False) as session:
        session.publisher.subscribe(EventCounter().record)


def w5_empty(repeat: int) -> Iterator[Sample]:
    """An event loop with an empty session opened and closed in it."""

    def run() -> Sample:
        with Stopwatch() as sw:
            asyncio.run(_open_close())
        return {"empty_runner_us": sw.seconds * 1e6}

    return repeat_samples(repeat, run, warmup=run)


async def _one_call(save_state: bool | None) -> int:
    with rt.Session(flow_name=FLOW_NAME, save_state=save_state) as session:
        session.publisher.subscribe(EventCounter().record)
        return int(await rt.call(Child, 1))


def w5_one_call(repeat: int) -> Iterator[Sample]:
    """A session plus one call: ``save_state=False``, then the defaults (which save)."""

    def run() -> Sample:
        with Stopwatch() as overhead:
            assert asyncio.run(_one_call(False)) == 1
        with Stopwatch() as defaults:
            assert asyncio.run(_one_call(None)) == 1
        return {
            "one_call_us": overhead.seconds * 1e6,
            "one_call_default_us": defaults.seconds * 1e6,
        }

    return repeat_samples(repeat, run, warmup=run)


# --- W6: save and load the state of an n-node run -------------------------------


async def chain(n: int) -> int:
    for i in range(n):
        await rt.call(Child, i)
    return n


Chain = rt.function_node(chain) if rt else None


def w6(n: int, repeat: int) -> Iterator[Sample]:
    """A root node and ``n - 1`` children, saved by the session on exit.

    railtracks 1.7.0 has no loader for a saved session, so "load" is ``json.loads``
    of the file it wrote.
    """
    sessions = resolve_railtracks_home() / "data" / "sessions"

    async def run_and_save() -> tuple[float, Path]:
        session = rt.Session(flow_name=FLOW_NAME, save_state=True)
        with session:
            session.publisher.subscribe(EventCounter().record)
            await rt.call(Chain, n - 1)
            start = time.perf_counter()
        return time.perf_counter() - start, sessions / f"{FLOW_NAME}_{session.identifier}.json"

    def run() -> Sample:
        save_seconds, path = asyncio.run(run_and_save())
        text = path.read_text()
        with Stopwatch() as load:
            json.loads(text)
        path.unlink()
        return {"save_ms": save_seconds * 1e3, "load_ms": load.seconds * 1e3, "bytes": len(text)}

    return repeat_samples(repeat, run)


# --- W4: LLM agents on a scripted model ---------------------------------------


class ScriptedModel(ModelBase if rt else object):  # type: ignore[misc]
    """TURNS turns of TOOLS_PER_TURN parallel ``lookup`` calls, then the final text."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def model_name(self) -> str:
        return "scripted"

    def model_provider(self) -> Any:
        return ModelProvider.UNKNOWN

    @classmethod
    def model_gateway(cls) -> Any:
        return ModelProvider.UNKNOWN

    def _reply(self, messages: Any) -> Any:
        if self.latency:
            time.sleep(self.latency)  # railtracks calls this in a worker thread
        turn = sum(1 for message in messages if message.role == "assistant")
        if turn < TURNS:
            calls = [
                ToolCall(identifier=f"call-{turn}-{k}", name="lookup", arguments={"x": k})
                for k in range(TOOLS_PER_TURN)
            ]
            return Response(message=AssistantMessage(calls))
        return Response(message=AssistantMessage(FINAL_TEXT))

    def _chat(self, messages: Any) -> Any:
        return self._reply(messages)

    def _chat_with_tools(self, messages: Any, tools: Any) -> Any:
        return self._reply(messages)

    def _structured(self, messages: Any, schema: Any) -> Any:
        raise NotImplementedError("the benchmark model answers in text only")

    async def _achat(self, messages: Any) -> Any:
        return self._reply(messages)

    async def _achat_with_tools(self, messages: Any, tools: Any) -> Any:
        return self._reply(messages)

    async def _astructured(self, messages: Any, schema: Any) -> Any:
        raise NotImplementedError("the benchmark model answers in text only")


async def lookup(x: int) -> int:
    """Look a number up.

    Args:
        x: the number to look up
    """
    return x * 2


def w4(agents: int, latency_ms: float, repeat: int) -> Iterator[Sample]:
    agent = rt.agent_node(
        "bench_agent",
        llm=ScriptedModel(latency_ms / 1e3),
        system_message="You look things up.",
        tool_nodes=[rt.function_node(lookup)],
    )

    async def crowd(count: int) -> float:
        start = time.perf_counter()
        results = await rt.call_batch(agent, [f"task {i}" for i in range(count)])
        elapsed = time.perf_counter() - start
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        assert [r.text for r in results] == [FINAL_TEXT] * count
        return elapsed

    Crowd = rt.function_node(crowd)

    def run() -> Sample:
        counter = EventCounter()
        seconds = asyncio.run(_run(Crowd, agents, counter=counter))
        return {"wall_ms": seconds * 1e3, "events": counter.count}

    return repeat_samples(repeat, run, warmup=lambda: asyncio.run(_run(Crowd, 2)))
