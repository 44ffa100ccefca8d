"""Helpers shared by the three implementations of the workloads.

Everything here runs inside a worker process (see ``worker.py``) and imports only
the standard library, so that measuring ``import asyncio`` or ``import
requestcompletion`` is not disturbed by what this module pulls in.
"""

from __future__ import annotations

import resource
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The shape of the W4 agent loop, shared by every implementation so that they do
# exactly the same work: TURNS model turns of TOOLS_PER_TURN parallel tool calls,
# then one final text turn.
TURNS = 5
TOOLS_PER_TURN = 4
FINAL_TEXT = "done"

Sample = dict[str, Any]


def _proc_status_kib(key: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int | None:
    """Resident set size of this process now, in bytes (None off Linux)."""
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes."""
    kib = _proc_status_kib("VmHWM")
    if kib is None:
        # ru_maxrss is in KiB on Linux; on macOS it is bytes, but /proc exists on Linux.
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024


@dataclass
class MemoryProbe:
    """Measures how far the peak RSS rises above the RSS at ``start()``.

    Read in a fresh process, before the first large run: afterwards the allocator
    keeps freed memory and a second run would show less than it used.
    """

    before: int = 0
    peak_before: int = 0

    def start(self) -> None:
        now = rss_bytes()
        self.peak_before = peak_rss_bytes()
        self.before = now if now is not None else self.peak_before

    def growth(self) -> int:
        return peak_rss_bytes() - self.before


@dataclass
class EventCounter:
    """The one subscriber every rc and railtracks workload attaches: counts events.

    Subscribe its bound method ``record`` (railtracks names a subscriber after the
    callback's ``__name__``, which an instance does not have).
    """

    count: int = 0

    def record(self, event: object) -> None:
        self.count += 1


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def floor_state_records(n: int) -> list[dict[str, Any]]:
    """One small dict per node of an ``n``-node run: the W6 floor's state.

    The fields are the least a run record needs (DESIGN §2 `info.nodes`): a unique id
    (a uuid4 string, as a real run would use), the node name, the parent's id, the
    status, the output and the start and end times.
    """
    root = str(uuid.uuid4())
    now = time.time()
    records = [
        {
            "id": root,
            "name": "root",
            "parent": None,
            "status": "succeeded",
            "output": n - 1,
            "start": now,
            "end": now + 0.5,
        }
    ]
    for i in range(n - 1):
        start = now + i * 1e-5
        records.append(
            {
                "id": str(uuid.uuid4()),
                "name": "child",
                "parent": root,
                "status": "succeeded",
                "output": i,
                "start": start,
                "end": start + 2e-6,
            }
        )
    return records


def repeat_samples(repeat: int, run: Any, warmup: Any = None) -> Iterator[Sample]:
    """Run ``warmup()`` once (if given), then yield ``run()`` ``repeat`` times."""
    if warmup is not None:
        warmup()
    for _ in range(repeat):
        yield run()
