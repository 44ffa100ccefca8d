"""What saving costs when nodes return values JSON cannot hold (issue 12 item 1).

    .venv/bin/python benchmarks/odd_values.py [--nodes 1000] [--samples 15]

One process, the cases alternating sample by sample; each sample is one runner
whose root calls `--nodes` children, each returning one value of the case, and the
time is that of leaving the `with` block (the save). Medians in ms, and the ratio
to plain outputs:

- plain: a small dict of ints and text (the C encoder's path);
- nested NaN: the same dict with a NaN inside a list (the encoder's path, which
  tags the NaN in place);
- MagicMock: a `unittest.mock.MagicMock` per node, after `import pydantic` (before
  the fix, one of these took seconds to save and made a 57 KB file);
- dataclass + set + bytes: data kept as `$value`, bytes as a tagged repr.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pydantic  # noqa: F401 - the MagicMock case is the one seen after importing it

import requestcompletion as rc


@dataclasses.dataclass
class Record:
    tags: set[str]
    raw: bytes


CASES: dict[str, Callable[[int], Any]] = {
    "plain": lambda i: {"i": i, "scores": [1.5, 2.5], "name": "n"},
    "nested NaN": lambda i: {"i": i, "scores": [1.5, float("nan")], "name": "n"},
    "MagicMock": lambda i: MagicMock(),
    "dataclass + set + bytes": lambda i: Record({"a", "b"}, b"\x00\x01"),
}


async def child(make: Callable[[int], Any], i: int) -> Any:
    return make(i)


async def root(make: Callable[[int], Any], n: int) -> int:
    for i in range(n):
        await rc.call(child, make, i)
    return n


def save_seconds(
    make: Callable[[int], Any], n: int, folder: Path, run_id: str
) -> tuple[float, int]:
    runner = rc.Runner(logging_setting="NONE", state_dir=folder, run_identifier=run_id)
    with runner:
        runner.run_sync(root, make, n)
        start = time.perf_counter()
    seconds = time.perf_counter() - start
    path = folder / f"{run_id}.json"
    size = path.stat().st_size
    path.unlink()
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rc-odd-"))
    times: dict[str, list[float]] = {name: [] for name in CASES}
    sizes: dict[str, int] = {}
    for sample in range(args.samples + 1):  # the first round warms up and is dropped
        for name, make in CASES.items():
            seconds, sizes[name] = save_seconds(make, args.nodes, folder, f"s{sample}")
            if sample:
                times[name].append(seconds)
    plain = statistics.median(times["plain"])
    print(f"save of a {args.nodes + 1}-node run, median of {args.samples} samples")
    print(f"{'outputs':<26}{'save ms':>10}{'× plain':>10}{'file KB':>10}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<26}{median * 1e3:>10.1f}{median / plain:>9.2f}×{sizes[name] / 1024:>10.0f}")


if __name__ == "__main__":
    main()
