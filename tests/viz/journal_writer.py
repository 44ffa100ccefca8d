"""A run in progress whose only trace on disk is the runner's own journal.

    python journal_writer.py FOLDER RUN_ID STEPS

A workflow of STEPS calls, each finishing when a line arrives on stdin, run with
the default `save_state=True`: the runner appends each change to
FOLDER/RUN_ID.journal as it goes and, at close, writes RUN_ID.json and removes
the journal. Each call prints when it has started; the journal reaches the disk
within 100 ms of it, which the test awaits on the page, not by sleeping.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import requestcompletion as rc

folder, run_id, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])


async def step(i: int) -> int:
    print(f"started {i}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the test says when this call may finish
    return i * i


async def workflow(n: int) -> int:
    return sum([await rc.call(step, i) for i in range(n)])


with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as runner:
    runner.run_sync(workflow, steps)
print("closed", flush=True)
