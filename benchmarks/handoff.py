"""What one hand-off between two Python threads costs on this machine.

    .venv/bin/python benchmarks/handoff.py [--rounds 3000]

A sync subscriber's events are delivered on another thread, and a runner's close
waits until they are: at least one round trip, thread to thread and back. This
measures that round trip alone (two C locks, no rc): the main thread releases a
lock the other thread waits on, then waits on one the other releases. Three
placements, each the median of `--rounds` round trips:

- both threads on CPU 0 (the kernel switches between them on one CPU);
- on CPUs 0 and 1 (every wake-up crosses to the other CPU);
- wherever the scheduler puts them.

Linux only (`os.sched_setaffinity`). On a virtual machine that halts idle vCPUs
(``/sys/module/haltpoll/parameters/guest_halt_poll_ns`` is 0), waking a thread on
another CPU is a wake-up of that vCPU, which costs far more than a switch on one.
"""

from __future__ import annotations

import _thread
import argparse
import os
import statistics
import threading
import time
from pathlib import Path

POLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")


def round_trip_us(rounds: int, main_cpu: int | None, other_cpu: int | None) -> float:
    go, back = _thread.allocate_lock(), _thread.allocate_lock()
    go.acquire()
    back.acquire()
    stop = False
    everywhere = os.sched_getaffinity(0)

    def other() -> None:
        if other_cpu is not None:
            os.sched_setaffinity(0, {other_cpu})  # 0: this thread only
        while True:
            go.acquire()
            if stop:
                return
            back.release()

    if main_cpu is not None:
        os.sched_setaffinity(0, {main_cpu})
    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            go.release()
            back.acquire()
            times.append(time.perf_counter() - start)
    finally:
        stop = True
        go.release()
        thread.join()
        os.sched_setaffinity(0, everywhere)
    return statistics.median(times[rounds // 10 :]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    rounds = parser.parse_args().rounds
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs Linux and at least two CPUs")
    if POLL.exists():
        print(f"guest_halt_poll_ns: {POLL.read_text().strip()}")
    for label, cpus in (
        ("both threads on CPU 0", (0, 0)),
        ("threads on CPUs 0 and 1", (0, 1)),
        ("wherever the scheduler puts them", (None, None)),
    ):
        print(f"  {label:34s} {round_trip_us(rounds, *cpus):7.1f} µs per round trip")


if __name__ == "__main__":
    main()
