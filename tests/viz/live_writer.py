"""A run in progress, in its own process, for the viewer's live tests.

    python live_writer.py FOLDER RUN_ID STEPS

It runs a workflow of STEPS calls, one each time a line arrives on stdin. After
each call starts and after it finishes, it rewrites FOLDER/RUN_ID.json with the
run as it stands (the way a journal grows as a run goes), prints what it did and
flushes, so the test knows what the page should show next. Once the runner has
closed, the final version (with the run's outcome) replaces it the same way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import requestcompletion as rc

folder, run_id, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
target = folder / f"{run_id}.json"


def save(message: str) -> None:
    runner.info.save(target)
    print(message, flush=True)


async def step(i: int) -> int:
    save(f"started {i}")
    await asyncio.to_thread(sys.stdin.readline)  # the test says when this call may finish
    return i * i


async def workflow(n: int) -> int:
    total = 0
    for i in range(n):
        total += await rc.call(step, i)
        save(f"finished {i}")
    return total


# the runner itself saves nothing: it would not replace the file this script keeps
# rewriting, and would write a second one beside it
with rc.Runner(run_identifier=run_id, save_state=False, logging_setting="NONE") as runner:
    runner.run_sync(workflow, steps)
save("closed")  # the closed run, with its outcome: what the runner's own save holds
