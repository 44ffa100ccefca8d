"""What a sync subscriber's thread costs a short run (the W5 "runner + one call" miss).

    .venv/bin/python benchmarks/subscriber_thread.py [--samples 400]

One process, the cases alternating sample by sample, medians in µs:

- floor: ``asyncio.run`` of one task (W5's floor);
- thread: the same plus a bare thread's life (start, two queue items, join), the
  least a subscriber on a thread of its own can cost;
- rc, no subscriber / rc, async subscriber / rc, sync subscriber: W5's own cells
  (`impl_rc._one_call`, the sync one counting events like every workload).

The target for runner + one call is 3x the floor. A sync subscriber gets a thread
of its own (so a callback that blocks never stalls the loop, nor another runner's
nodes on the same loop), and that thread lives no longer than its runner.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

import impl_asyncio
import impl_rc

floor = impl_asyncio._one_call  # W5's floor: asyncio.run of this


def _drain(queue: SimpleQueue[Any]) -> None:
    while queue.get() is not None:
        pass


async def floor_and_thread() -> int:
    answer = await floor()
    queue: SimpleQueue[Any] = SimpleQueue()
    thread = threading.Thread(target=_drain, args=(queue,), daemon=True)
    thread.start()
    queue.put(1)
    queue.put(None)
    thread.join()
    return answer


def _rc(subscriber: str | None) -> Callable[[], Any]:
    """W5's rc cell with the overhead settings and this subscriber ("sync", "async", None)."""
    return lambda: impl_rc._one_call(impl_rc.OVERHEAD_SETTINGS, subscriber)


CASES: dict[str, Callable[[], Any]] = {
    "floor: asyncio.run of one task": floor,
    "floor + a thread's life": floor_and_thread,
    "rc, no subscriber": _rc(None),
    "rc, async subscriber": _rc("async"),
    "rc, sync subscriber": _rc("sync"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    samples = parser.parse_args().samples
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(samples):
        for name, case in CASES.items():
            start = time.perf_counter()
            assert asyncio.run(case()) == 1
            times[name].append((time.perf_counter() - start) * 1e6)
    base = statistics.median(times["floor: asyncio.run of one task"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s} {median:7.0f} µs  {median / base:5.2f}× the floor")


if __name__ == "__main__":
    main()
