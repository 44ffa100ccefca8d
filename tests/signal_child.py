"""A program that a test stops with a signal: `python signal_child.py MODE STATE_DIR`.

It runs a small workflow, prints READY once three nodes are stuck waiting for
ever, and waits for the signal. MODE: ``sync`` (run_sync), ``asyncio``
(asyncio.run and ``async with``), ``kill`` (like sync, but the stuck nodes are a
second top-level request, so the first is on disk for sure), ``own`` (installs
its own SIGTERM handler before opening the runner).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import requestcompletion as rc

# A child started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not.
signal.signal(signal.SIGINT, signal.default_int_handler)


async def leaf(i: int) -> int:
    return i * 2


async def stuck(i: int) -> None:
    if i == 2:
        print("READY", flush=True)
    await asyncio.Event().wait()


async def fan() -> list[int]:
    return list(await rc.batch(leaf, range(3)))


async def workflow() -> None:
    await rc.call(fan)
    await rc.batch(stuck, range(3))


async def stuck_only() -> None:
    await rc.batch(stuck, range(3))


def mine(signum: int, frame: object) -> None:
    print("MINE", flush=True)
    os._exit(3)


def main(mode: str, state_dir: str) -> None:
    settings = {"run_identifier": "sig", "state_dir": state_dir, "logging_setting": "NONE"}
    if mode == "own":
        signal.signal(signal.SIGTERM, mine)
    if mode == "asyncio":

        async def run() -> None:
            async with rc.Runner(**settings) as runner:
                await runner.run(workflow)

        asyncio.run(run())
        return
    with rc.Runner(**settings) as runner:
        if mode == "kill":
            runner.run_sync(fan)
            runner.run_sync(stuck_only)
        else:
            runner.run_sync(workflow)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
