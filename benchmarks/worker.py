"""One workload on one implementation, in a process of its own; run by ``run.py``.

    python benchmarks/worker.py IMPL WORKLOAD [--n N] [--repeat R] [--variant V]
                                              [--latency-ms MS]

IMPL is ``asyncio`` (the floor), ``rc`` or ``railtracks``. Each line written to
stdout is one JSON object: ``{"sample": {...}}`` per measured repeat, or a final
``{"skip": reason}`` / ``{"error": message}``. A fresh process per cell keeps the
frameworks apart (railtracks loads ``.env`` files and module-level state on import),
makes the memory of W2 and the import of W5 honest, and lets ``run.py`` kill a run
that does not finish.
"""

from __future__ import annotations

import sys
import time

# W5-import measures ``import X`` itself, so it runs before this module imports
# anything else: the modules pulled in below would otherwise be charged to nobody.
if len(sys.argv) >= 3 and sys.argv[2] == "W5-import":
    _MODULES = {"asyncio": "asyncio", "rc": "requestcompletion", "railtracks": "railtracks"}

    def _rss_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    _before = _rss_kib()
    _start = time.perf_counter()
    try:
        __import__(_MODULES[sys.argv[1]])
    except ImportError as _error:
        print('{"skip": "cannot import ' + _MODULES[sys.argv[1]] + '"}', flush=True)
        print(repr(_error), file=sys.stderr)
        sys.exit(0)
    _seconds = time.perf_counter() - _start
    _after = _rss_kib()
    _fields = (
        f'"import_ms": {_seconds * 1e3:.3f}, "rss_mb": {_after / 1024:.2f}, '
        f'"rss_growth_mb": {(_after - _before) / 1024:.2f}'
    )
    print('{"sample": {' + _fields + "}}", flush=True)
    sys.exit(0)

import argparse
import json
import traceback
from collections.abc import Iterator
from importlib import import_module
from typing import Any

from _common import TURNS

IMPLEMENTATIONS = {"asyncio": "impl_asyncio", "rc": "impl_rc", "railtracks": "impl_railtracks"}


def _emit(key: str, value: Any) -> None:
    print(json.dumps({key: value}), flush=True)


def _samples(impl: Any, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    workload = args.workload
    if workload == "W1":
        return impl.w1(args.n, args.repeat)
    if workload == "W2":
        return impl.w2(args.n, args.repeat, args.variant)
    if workload == "W3":
        return impl.w3(args.n, args.repeat)
    if workload == "W4":
        return impl.w4(args.n, args.latency_ms, args.repeat)
    if workload == "W5-empty":
        return impl.w5_empty(args.repeat)
    if workload == "W5-call":
        return impl.w5_one_call(args.repeat)
    if workload == "W6":
        return impl.w6(args.n, args.repeat)
    raise SystemExit(f"unknown workload {workload!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("impl", choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("workload")
    parser.add_argument("--n", type=int, default=0, help="size: calls, children, depth, agents")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--variant", default="gather", choices=("batch", "gather"))
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    impl = import_module(IMPLEMENTATIONS[args.impl])
    if args.impl != "asyncio":
        reason = impl.unavailable(args.workload.split("-")[0])
        if reason is not None:
            _emit("skip", reason)
            return
    try:
        for sample in _samples(impl, args):
            if args.workload == "W4" and args.latency_ms:
                ideal_ms = (TURNS + 1) * args.latency_ms
                sample["x_ideal"] = sample["wall_ms"] / ideal_ms
            _emit("sample", sample)
    except Exception as error:
        _emit("error", f"{type(error).__name__}: {error}")
        traceback.print_exc()


if __name__ == "__main__":
    main()
