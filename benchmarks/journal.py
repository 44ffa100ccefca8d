"""What the journal costs: W1 and W2 with it on, side by side with it off and the floor.

    .venv/bin/python benchmarks/journal.py [--n 1000,10000] [--samples 15]

One process; the cases alternate sample by sample, so every case sees the same
drifts of a noisy machine. Each sample opens a fresh runner (in a fresh
``asyncio.run``); the table shows medians:

- floor: plain asyncio (`impl_asyncio`), nothing recorded;
- rc, off: ``save_state=False`` — no journal, no JSON;
- rc, JSON only: ``save_state=True`` with the journal switched off (its
  `Journal.start` patched to return None), the JSON written at close;
- rc, journal on: ``save_state=True``, the default — journal and JSON.

Two times per sample: **in node**, taken inside the parent node around the work
(what W1 and W2 of ``run.py`` report), and **whole run**, ``asyncio.run`` of
opening the runner, the request and closing it (the journal's last batch and the
JSON write included). All runners use ``logging_setting="NONE"`` and no
subscriber, so the journal is the only consumer of the run's changes.

The targets (issue 13, item 5): journal on ≤ 1.3× off for W1 and W2, in node;
the journal of a 10,000-node run ≤ 2× its final JSON. Sizes are measured on one
extra run per workload with the journal kept (`Journal.remove` patched out).
The CPU the journal's encoding takes per run (median of ``--samples`` more runs,
`time.thread_time` around each call of the encoder) is what the run's loop
competes with for the GIL; it depends little on the machine's load. To measure
another version with the same script: ``PYTHONPATH=<its src> python journal.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import impl_asyncio
import impl_rc
import requestcompletion as rc
from requestcompletion.state.journal import Journal

STATE_DIR = Path(tempfile.mkdtemp(prefix="rc-journal-bench-"))


# the same nodes as run.py's W1 and W2 (impl_rc), and their floors
WORKLOADS: dict[str, tuple[Callable[[int], Coroutine[Any, Any, float]], Any]] = {
    "W1 sequential": (impl_rc.sequential, impl_asyncio._sequential),
    "W2 rc.batch": (impl_rc.fan_out_batch, impl_asyncio._fan_out),
}


def _no_journal(*args: Any) -> None:
    return None


def rc_case(node: Any, n: int, settings: dict[str, Any], journal: bool) -> Callable[[], Any]:
    async def whole() -> float:
        async with rc.Runner(logging_setting="NONE", state_dir=STATE_DIR, **settings) as runner:
            info = await runner.run(node, n)
        return float(info.answer)

    def sample() -> tuple[float, float]:
        real_start = Journal.start
        if not journal:
            Journal.start = _no_journal  # type: ignore[assignment,method-assign]
        try:
            begin = time.perf_counter()
            in_node = asyncio.run(whole())
            return in_node, time.perf_counter() - begin
        finally:
            Journal.start = real_start  # type: ignore[method-assign]

    return sample


def _encoder() -> tuple[Any, str]:
    """Where the journal turns queued changes into lines (the older writer had it
    on `Journal`), so the same script measures both: ``PYTHONPATH=<old>/src``."""
    try:
        from requestcompletion.state._journal_lines import LineEncoder
    except ImportError:
        return Journal, "_lines"
    return LineEncoder, "lines"


def encoding_cpu(node: Any, n: int, runs: int) -> float:
    """The median CPU seconds one run spends encoding its journal, on whichever
    thread does it (`time.thread_time` around every call of the encoder: the
    machine's load barely moves it, unlike the wall times)."""
    owner, name = _encoder()
    real = getattr(owner, name)
    spent: list[float] = []

    def timed(self: Any, items: list[Any]) -> list[str]:
        begin = time.thread_time()
        try:
            return real(self, items)  # type: ignore[no-any-return]
        finally:
            spent.append(time.thread_time() - begin)

    setattr(owner, name, timed)
    totals = []
    try:
        for _ in range(runs):
            spent.clear()
            rc_case(node, n, {"save_state": True}, True)()
            totals.append(sum(spent))
    finally:
        setattr(owner, name, real)
    return statistics.median(totals)


def floor_case(floor: Any, n: int) -> Callable[[], Any]:
    def sample() -> tuple[float, float]:
        begin = time.perf_counter()
        in_node = asyncio.run(floor(n))
        return in_node, time.perf_counter() - begin

    return sample


def sizes(node: Any, n: int) -> tuple[int, int]:
    """(journal bytes, JSON bytes) of one run of `node`."""
    real_remove = Journal.remove
    Journal.remove = lambda self: None  # type: ignore[method-assign]
    try:
        run_id = f"size-{node.__name__}-{n}"
        rc_case(node, n, {"save_state": True, "run_identifier": run_id}, True)()
    finally:
        Journal.remove = real_remove  # type: ignore[method-assign]
    journal, final = STATE_DIR / f"{run_id}.journal", STATE_DIR / f"{run_id}.json"
    return journal.stat().st_size, final.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--n", default="1000,10000", help="calls per run, comma-separated (default 1000,10000)"
    )
    parser.add_argument("--samples", type=int, default=15, help="samples per case (default 15)")
    options = parser.parse_args()
    sizes_ = [int(size) for size in options.n.split(",")]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, n={sizes_}, "
        f"{options.samples} samples per case, medians"
    )
    for name, (node, floor), n in (
        (name, workload, n) for n in sizes_ for name, workload in WORKLOADS.items()
    ):
        cases = {
            "floor (asyncio)": floor_case(floor, n),
            "rc, off": rc_case(node, n, {"save_state": False}, False),
            "rc, JSON only": rc_case(node, n, {"save_state": True}, False),
            "rc, journal on": rc_case(node, n, {"save_state": True}, True),
        }
        for case in cases.values():
            case()  # warm-up
        samples: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for _ in range(options.samples):
            for case, run in cases.items():
                samples[case].append(run())
        medians = {
            case: (statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
            for case, got in samples.items()
        }
        off_node, off_whole = medians["rc, off"]
        json_whole = medians["rc, JSON only"][1]
        print(f"\n{name}, {n} children")
        print(f"  {'case':<18}{'in node ms':>12}{'× off':>8}{'whole run ms':>14}{'× off':>8}")
        for case, (in_node, whole) in medians.items():
            print(
                f"  {case:<18}{in_node * 1e3:>12.1f}{in_node / off_node:>7.2f}×"
                f"{whole * 1e3:>14.1f}{whole / off_whole:>7.2f}×"
            )
        _on_node, on_whole = medians["rc, journal on"]
        print(f"  journal on / JSON only, whole run: {on_whole / json_whole:.2f}×")
        cpu = encoding_cpu(node, n, options.samples)
        print(f"  encoding the journal: {cpu * 1e3:.1f} ms of CPU, {cpu / n * 1e6:.2f} us per call")
        journal_bytes, json_bytes = sizes(node, n)
        print(
            f"  sizes: journal {journal_bytes:,} B, final JSON {json_bytes:,} B, "
            f"ratio {journal_bytes / json_bytes:.2f}×"
        )


if __name__ == "__main__":
    try:
        main()
    finally:
        for path in STATE_DIR.iterdir():
            path.unlink()
        STATE_DIR.rmdir()
