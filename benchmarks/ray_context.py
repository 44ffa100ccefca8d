"""What `rc.context` costs a remote call: whole context every time vs versioned deltas.

    scripts/netns-run .venv/bin/python benchmarks/ray_context.py [--repeat 5] [--calls 50]

A 1 MB context (one 1,000,000-character string) and `--calls` remote calls in a
row, timed per call, in three set-ups measured in turn in each round:

- empty: no context at all (the floor);
- whole: the 1 MB sent with every call and every call-back answer, as before
  deltas (reproduced by making every delta a new version holding the whole
  context, so it is pickled on the driver and unpickled on the worker each time);
- delta: what rc does: the 1 MB once per worker, then only what changed.

Two shapes: `leaf` (a driver node calls a remote leaf `--calls` times) and
`callback` (one remote node calls a driver-side child `--calls` times, each
answer carrying the context back). Prints the median per-call time over
`--repeat` rounds and the ratios whole/delta and delta/empty. Ray runs on a local
cluster rc starts (2 CPUs): run it inside `scripts/netns-run`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local ray.init would turn token auth on

import requestcompletion as rc
from requestcompletion.execution import DistributedExecutionStrategy
from requestcompletion.execution.strategies.distributed.messages import ContextDelta
from requestcompletion.execution.strategies.distributed.sync import DriverContext
from requestcompletion.execution.strategies.distributed.wire import dumps

BIG = "x" * 1_000_000


async def _leaf() -> int:
    return len(rc.context.get("small", ""))


async def _local_child() -> int:
    return 1


LEAF = rc.function_node(_leaf, name="leaf", mode="distributed")
LOCAL_CHILD = rc.function_node(_local_child, name="local_child", mode="asyncio")


async def _calls_back(calls: int) -> float:
    """Runs remotely: `calls` call-backs to the driver, timed here."""
    start = time.perf_counter()
    for _ in range(calls):
        await rc.call(LOCAL_CHILD)
    return (time.perf_counter() - start) / calls


CALLS_BACK = rc.function_node(_calls_back, name="calls_back", mode="distributed")


async def leaves(calls: int) -> float:
    await rc.call(LEAF)  # warm: the worker exists and holds the context
    start = time.perf_counter()
    for _ in range(calls):
        await rc.call(LEAF)
    return (time.perf_counter() - start) / calls


async def callbacks(calls: int) -> float:
    await rc.call(CALLS_BACK, 1)  # warm
    result: float = await rc.call(CALLS_BACK, calls)
    return result


def _whole(self: DriverContext, worker: Any) -> ContextDelta:
    self.version += 1  # new each time, so the worker unpickles it each time
    return ContextDelta(self.token, 0, self.version, dumps((dict(self.variables), [])))


@contextmanager
def whole_context_every_time() -> Iterator[None]:
    """The protocol before deltas: the whole context with every message."""
    delta_for = DriverContext.delta_for
    DriverContext.delta_for = _whole  # type: ignore[method-assign]
    try:
        yield
    finally:
        DriverContext.delta_for = delta_for  # type: ignore[method-assign]


def once(shape: str, setup: str, calls: int, strategy: Any) -> float:
    context = {} if setup == "empty" else {"big": BIG, "small": "s"}
    body = leaves if shape == "leaf" else callbacks
    with rc.Runner(
        logging_setting="NONE",
        save_state=False,
        context=context,
        execution_modes={"distributed": strategy},
    ) as runner:
        if setup == "whole":
            with whole_context_every_time():
                return float(runner.run_sync(body, calls).answer)
        return float(runner.run_sync(body, calls).answer)


class _KeptStrategy(DistributedExecutionStrategy):
    """Keeps its actors across runners (one cluster, warm workers for every sample)."""

    def shutdown(self) -> None:
        pass

    def close(self) -> None:
        super().shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (the median is printed)")
    parser.add_argument("--calls", type=int, default=50, help="remote calls per sample")
    options = parser.parse_args()
    strategy = _KeptStrategy(init={"num_cpus": 2, "include_dashboard": False})
    setups = ("empty", "whole", "delta")
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(options.repeat):
            # interleaved, so that each round meets the same drifts; in turn first,
            # so that none always follows the megabytes the "whole" set-up leaves behind
            order = setups[round_ % 3 :] + setups[: round_ % 3]
            for shape in ("leaf", "callback"):
                for setup in order:
                    took = once(shape, setup, options.calls, strategy)
                    samples.setdefault((shape, setup), []).append(took)
    finally:
        strategy.close()
    print(f"1 MB rc.context, {options.calls} remote calls, median of {options.repeat} rounds")
    print(f"{'shape':<9} {'empty':>9} {'whole':>9} {'delta':>9} {'whole/delta':>12} "
          f"{'delta/empty':>12}")  # fmt: skip
    for shape in ("leaf", "callback"):
        empty, whole, delta = (statistics.median(samples[shape, s]) * 1e3 for s in setups)
        print(f"{shape:<9} {empty:>7.2f}ms {whole:>7.2f}ms {delta:>7.2f}ms "
              f"{whole / delta:>11.1f}x {delta / empty:>11.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
