"""What a short run costs: a runner plus one call, against one task (issue 11 item 4).

    .venv/bin/python benchmarks/short_runs.py [--samples 400]

One process; the cases alternate sample by sample, so every ratio compares samples
taken across the same drifts of a noisy machine. Medians in µs:

- **inside a running loop**: `async with rc.Runner(...)` + `await runner.run(child, 1)`
  against `await asyncio.create_task(child(1))` in the same loop, with no subscriber
  (target ≤ 3×) and with one sync subscriber on every event (target ≤ 5×);
- **from sync code**: against W5's floor, `asyncio.run` of one task:
  `with rc.Runner(...) as r: r.run_sync(child, 1)` and `asyncio.run` of an
  `async with` block, with one sync subscriber (target ≤ 1.5×), and with the
  default settings (target ≤ 5×: a state file saved, REGULAR logging, here to
  /dev/null).

The overhead settings are W5's (`save_state=False, logging_setting="NONE"`); the
sync subscriber counts events like every workload's. A default run creates two
files (its journal and its JSON), and what creating one costs moves with the
disk's state (on this VM between about 5 and 130 µs), so the script also prints
that cost, measured in the scratch folder at the end, and runs the default
settings once more with `state_dir` in memory (`/dev/shm`, where there is one):
what rc itself costs there, without the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import impl_asyncio
import impl_rc
import requestcompletion as rc
from _common import EventCounter

child = impl_rc.child
OVERHEAD = impl_rc.OVERHEAD_SETTINGS


async def floor_in_loop() -> int:
    return await asyncio.create_task(child(1))


async def rc_in_loop(subscribe: bool) -> int:
    async with rc.Runner(**OVERHEAD) as runner:
        if subscribe:
            runner.publisher.subscribe(EventCounter().record)
        info = await runner.run(child, 1)
    return int(info.answer)


def rc_run_sync(settings: dict[str, Any], subscribe: bool) -> int:
    with rc.Runner(**settings) as runner:
        if subscribe:
            runner.publisher.subscribe(EventCounter().record)
        return int(runner.run_sync(child, 1).answer)


IN_LOOP: dict[str, Callable[[], Awaitable[int]]] = {
    "floor: create_task of one call": floor_in_loop,
    "rc, no subscriber": lambda: rc_in_loop(False),
    "rc, one sync subscriber": lambda: rc_in_loop(True),
}
FROM_SYNC: dict[str, Callable[[], int]] = {
    "floor: asyncio.run of one task": lambda: asyncio.run(impl_asyncio._one_call()),
    "rc run_sync, one sync subscriber": lambda: rc_run_sync(OVERHEAD, True),
    "rc asyncio.run, one sync subscriber": lambda: asyncio.run(impl_rc._one_call(OVERHEAD)),
    "rc run_sync, no subscriber": lambda: rc_run_sync(OVERHEAD, False),
    "rc run_sync, default settings": lambda: rc_run_sync({}, False),
}
IN_MEMORY = "/dev/shm"  # a tmpfs on Linux


async def in_loop(samples: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in IN_LOOP}
    for _ in range(samples):
        for name, case in IN_LOOP.items():
            start = time.perf_counter()
            assert await case() == 1
            times[name].append((time.perf_counter() - start) * 1e6)
    return times


def from_sync(samples: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in FROM_SYNC}
    for _ in range(samples):
        for name, case in FROM_SYNC.items():
            start = time.perf_counter()
            assert case() == 1
            times[name].append((time.perf_counter() - start) * 1e6)
    return times


def file_creation_us(folder: str, count: int = 200) -> float:
    """Median µs to create (and keep) a small file in `folder`, as a saved run is."""
    times = []
    for i in range(count):
        start = time.perf_counter()
        fd = os.open(os.path.join(folder, f"probe-{i}.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        times.append((time.perf_counter() - start) * 1e6)
        os.write(fd, b"{}" * 500)
        os.close(fd)
    return statistics.median(times)


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    base = statistics.median(next(iter(times.values())))
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:38s} {median:8.1f} µs  {median / base:5.2f}× the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    samples = parser.parse_args().samples
    with (
        tempfile.TemporaryDirectory(prefix="rc-short-runs-") as scratch,
        tempfile.TemporaryDirectory(
            prefix="rc-short-runs-", dir=IN_MEMORY if os.path.isdir(IN_MEMORY) else None
        ) as memory,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),  # the default settings log at REGULAR
        contextlib.chdir(scratch),  # and save .covailence/<run id>.json here
    ):
        if memory.startswith(IN_MEMORY):
            FROM_SYNC["rc run_sync, defaults, state in /dev/shm"] = lambda: rc_run_sync(
                {"state_dir": memory}, False
            )
        asyncio.run(in_loop(10))  # warm-up
        from_sync(10)
        looped = asyncio.run(in_loop(samples))
        synced = from_sync(samples)
        creating = file_creation_us(scratch)
    report("inside a running loop", looped)
    report("from sync code", synced)
    print(f"creating a file in the scratch folder: {creating:.1f} µs (median of 200)")


if __name__ == "__main__":
    main()
