"""W7: what building an agent costs — µs and bytes per `rc.agent_node(...)`.

    .venv/bin/python benchmarks/agent_build.py [--samples 41] [--batch 500]
    PYTHONPATH=/other/tree/src .venv/bin/python benchmarks/agent_build.py   # another version

Apps build agents per request (per user, per tenant, with their own prompts and
tools), so the cost of `rc.agent_node` is paid on every request. One process; the
cases (0, 1 and 4 tools) alternate sample by sample so that machine noise hits
them alike. Each sample builds `--batch` agents with a fresh name and system
message (the tools are the same functions, as in an app) and reports µs per agent;
the table shows the median and the spread (25th–75th percentile). Memory is what
`tracemalloc` sees held per agent while 2,000 of them are alive. The first build
with a tool (the one that describes it with pydantic) is shown apart: it is paid
once per function per process.

Targets (issue 11 item 6): four tools ≤ 25 µs and ≤ 8 KiB per agent.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requestcompletion as rc
from requestcompletion.testing import ScriptedModel


def search(query: str, limit: int = 5) -> list[str]:
    """Search the knowledge base.

    Args:
        query: what to look for
        limit: most results
    """
    return [query] * limit


def weather(city: str, unit: str = "celsius") -> str:
    """Today's weather in a city.

    Args:
        city: the city
        unit: celsius or fahrenheit
    """
    return f"sunny in {city}"


def book(flight: str, seats: int) -> dict[str, Any]:
    """Book seats on a flight.

    Args:
        flight: the flight number
        seats: how many seats
    """
    return {"flight": flight, "seats": seats}


def convert(amount: float, currency: str) -> float:
    """Convert an amount to a currency.

    Args:
        amount: the amount
        currency: the ISO code to convert to
    """
    return amount


TOOLS: dict[int, list[Callable[..., Any]]] = {
    0: [],
    1: [search],
    4: [search, weather, book, convert],
}
MODEL = ScriptedModel([])


def build(tools: Sequence[Callable[..., Any]], index: int) -> type[Any]:
    return rc.agent_node(
        f"assistant-{index}",
        llm=MODEL,
        system_message=f"You help user {index}.",
        tool_nodes=tools,
    )


def first_build_us() -> float:
    """µs of the first agent with four tools never described before in this process."""
    started = time.perf_counter()
    build(TOOLS[4], 0)
    return (time.perf_counter() - started) * 1e6


def sample_us(tools: Sequence[Callable[..., Any]], batch: int) -> float:
    started = time.perf_counter()
    for index in range(batch):
        build(tools, index)
    return (time.perf_counter() - started) / batch * 1e6


def bytes_per_agent(tools: Sequence[Callable[..., Any]], count: int = 2_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    alive = [build(tools, index) for index in range(count)]
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del alive
    return held / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=41)
    parser.add_argument("--batch", type=int, default=500)
    options = parser.parse_args(argv)
    cold = first_build_us()
    samples: dict[int, list[float]] = {n: [] for n in TOOLS}
    for tools in TOOLS.values():  # warm: every tool described, caches filled
        sample_us(tools, 50)
    for _ in range(options.samples):
        for n, tools in TOOLS.items():
            samples[n].append(sample_us(tools, options.batch))
    python = sys.version.split()[0]
    print(f"W7 agent build, {options.samples} samples of {options.batch} agents, Python {python}")
    print(f"{'tools':>5}  {'µs / agent (median)':>20}  {'p25–p75':>13}  {'bytes / agent':>13}")
    for n, tools in TOOLS.items():
        quartiles = statistics.quantiles(samples[n], n=4)
        print(
            f"{n:>5}  {statistics.median(samples[n]):>20.1f}  "
            f"{quartiles[0]:>6.1f}–{quartiles[2]:<6.1f}  {bytes_per_agent(tools):>13,.0f}"
        )
    print(f"first agent with 4 tools new to the process (imports pydantic): {cold:,.0f} µs")
    print(f"(requestcompletion from {Path(rc.__file__).parent})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
