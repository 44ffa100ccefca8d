"""Execution-strategy benchmark: threads, Ray, and max_concurrency (issue 5).

    scripts/netns-run .venv/bin/python benchmarks/strategies.py [--repeat 5] [--skip-ray]

Prints medians over `--repeat` runs:

- threads: 100 blocking nodes that sleep 50 ms, on 32 threads, against the
  ideal (ceil(100 / 32) * 50 ms); target <= 1.2x.
- ray round trip: one leaf node on a warm worker, per call (driver to worker
  and back, through rc's protocol); target <= 3 ms.
- ray CPU: CPU-bound nodes on 2 Ray workers against the asyncio strategy
  (which runs them one after another on the loop); target >= 1.7x faster.
- max_concurrency=10 over 1,000 nodes against no limit: the overhead per node.

Ray runs on a local cluster rc starts (2 CPUs), so run it inside the
loopback-only namespace (`scripts/netns-run`).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local ray.init would turn token auth on

import requestcompletion as rc

CPU_LOOPS = 3_000_000
CPU_NODES = 8


def quiet(**overrides: Any) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


# --- threads ---------------------------------------------------------------------


def blocking(i: int) -> int:
    time.sleep(0.05)
    return i


async def hundred_blocking() -> int:
    return len(await rc.batch(blocking, range(100), return_exceptions=False))


def bench_threads(repeat: int) -> None:
    def once() -> float:
        with quiet(max_threads=32) as runner:
            start = time.perf_counter()
            runner.run_sync(hundred_blocking)
            return time.perf_counter() - start

    ideal = math.ceil(100 / 32) * 0.05
    took = median_of(repeat, once)
    print(f"threads: 100 x 50 ms on 32 threads: {took * 1e3:.1f} ms, ideal {ideal * 1e3:.0f} ms, "
          f"{took / ideal:.2f}x ideal (target <= 1.2x)")  # fmt: skip


# --- max_concurrency -------------------------------------------------------------


async def tiny(i: int) -> int:
    return i


async def thousand() -> int:
    return len(await rc.batch(tiny, range(1000), return_exceptions=False))


def bench_limit(repeat: int) -> None:
    def once(limit: int | None) -> float:
        with quiet(max_concurrency=limit) as runner:
            start = time.perf_counter()
            runner.run_sync(thousand)
            return time.perf_counter() - start

    free = median_of(repeat, lambda: once(None))
    limited = median_of(repeat, lambda: once(10))
    print(f"max_concurrency=10 over 1,000 nodes: {limited * 1e3:.1f} ms vs no limit "
          f"{free * 1e3:.1f} ms: +{(limited - free) / 1000 * 1e6:.1f} us per node "
          f"({limited / free:.2f}x)")  # fmt: skip


# --- Ray -------------------------------------------------------------------------


async def leaf(x: int) -> int:
    return x


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


async def spin_async(n: int) -> int:
    return spin(n)


Leaf = rc.function_node(leaf, mode="distributed")
Spin = rc.function_node(
    spin, mode="distributed", execution_options={"distributed": {"num_cpus": 1}}
)


async def round_trips(count: int) -> list[float]:
    await rc.call(Leaf, 0)  # the worker is up
    times = []
    for i in range(count):
        start = time.perf_counter()
        await rc.call(Leaf, i)
        times.append(time.perf_counter() - start)
    return times


async def cpu_fan(node: Any) -> float:
    start = time.perf_counter()
    await rc.batch(node, [CPU_LOOPS] * CPU_NODES, return_exceptions=False)
    return time.perf_counter() - start


def bench_ray(repeat: int) -> None:
    init = {"num_cpus": 2, "object_store_memory": 80 * 2**20}
    with quiet(ray_init=init) as runner:
        start = time.perf_counter()
        runner.run_sync(Leaf, 0)
        print(f"ray: local cluster start and first node: {time.perf_counter() - start:.1f} s")
        trips = runner.run_sync(round_trips, 1000).answer
        trips.sort()
        middle = statistics.median(trips) * 1e3
        print(f"ray round trip per remote leaf node: median {middle:.2f} ms, "
              f"p90 {trips[900] * 1e3:.2f} ms (target <= 3 ms)")  # fmt: skip
        runner.run_sync(cpu_fan, Spin)  # both workers up
        remote = median_of(repeat, lambda: runner.run_sync(cpu_fan, Spin).answer)
    with quiet() as runner:
        local = median_of(repeat, lambda: runner.run_sync(cpu_fan, spin_async).answer)
    print(f"ray CPU: {CPU_NODES} x {CPU_LOOPS:,}-step loops: 2 Ray workers {remote:.2f} s vs "
          f"asyncio {local:.2f} s: {local / remote:.2f}x faster (target >= 1.7x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    bench_threads(args.repeat)
    bench_limit(args.repeat)
    if not args.skip_ray:
        bench_ray(args.repeat)


if __name__ == "__main__":
    main()
