"""A run stopped by SIGKILL, SIGTERM or SIGINT mid-way is finished by from_state.

The child process (`workflow.main`) gets answers to model calls 1
to 11; call 12 hangs at the server. The child prints READY once lookup 11 has
run and the journal holds everything before it; the test then sends the signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from workflow import CALLS, make_workflow, script, shape

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from helpers import signal_when_ready

HERE = Path(__file__).parent
CHILD = "import sys, workflow; workflow.main(sys.argv[1:])"


def stopped(
    server: FakeLLMServer, state_dir: Path, signum: int
) -> subprocess.CompletedProcess[str]:
    script(server, 1, 11)
    server.hang()  # call 12 never answers: the child is mid-run when the signal comes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    command = [sys.executable, "-c", CHILD, server.base_url, str(state_dir), "11"]
    return signal_when_ready(command, signum, env)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_stopped_process_is_finished_with_exactly_9_model_requests(
    llm_server: FakeLLMServer, tmp_path: Path, signum: int
) -> None:
    state_dir = tmp_path / "runs"
    done = stopped(llm_server, state_dir, signum)
    if signum == signal.SIGKILL:
        assert done.returncode == -signal.SIGKILL
        left = state_dir / "child.journal"
        assert sorted(p.name for p in state_dir.iterdir()) == ["child.journal"]
        before = rc.ExecutionInfo.load(left)
        assert before.outcome == "interrupted"
        assert {n.status for n in before.nodes[:2]} == {"running"}  # unfinished: no end
    else:
        assert "KeyboardInterrupt" in done.stderr, done.stderr
        left = state_dir / "child.json"
        assert sorted(p.name for p in state_dir.iterdir()) == ["child.json"]
        before = rc.ExecutionInfo.load(left)
        assert before.outcome == "cancelled"
        assert [n.status for n in before.nodes[:2]] == ["cancelled", "cancelled"]
    assert [n.status for n in before.nodes[2:12]] == ["succeeded"] * 10  # lookups 1 to 10
    assert len(before.nodes) == 13  # lookup 11 too: its end may not have been written

    llm_server.reset()  # healthy again (and the hung call 12 is let go)
    script(llm_server, 12, CALLS)
    with rc.Runner.from_state(left, logging_setting="NONE") as resumed:
        info = resumed.run_sync(make_workflow(llm_server.base_url), "count")
    assert len(llm_server.requests) == 9
    assert info.answer == "all looked up after 19 lookups"
    assert shape(info)[:2] == [("workflow", None, ("count",)), ("counter", 0, ("count",))]
    assert [node.kwargs["n"] for node in info.nodes[2:]] == list(range(1, CALLS))
