"""Runner.from_state: a run that failed half-way finishes without paying again."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow import CALLS, live_lookups, make_workflow, script, shape

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from requestcompletion.errors import LLMError


def runner(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", **overrides)  # type: ignore[arg-type]


def failed_run(server: FakeLLMServer, tmp_path: Path, fail_from: int = 12) -> Path:
    """Run the workflow with the server failing from model call `fail_from` on."""
    script(server, 1, fail_from - 1)  # past the script the server answers 500
    workflow = make_workflow(server.base_url)
    with runner() as first, pytest.raises(LLMError):
        first.run_sync(workflow, "count")
    assert first.saved_to is not None
    return first.saved_to


def uninterrupted(server: FakeLLMServer) -> rc.ExecutionInfo:
    server.reset()
    script(server)
    with runner(save_state=False) as clean:
        return clean.run_sync(make_workflow(server.base_url), "count")


def test_a_run_that_failed_at_call_12_resumes_with_exactly_9_model_requests(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved = failed_run(llm_server, tmp_path)
    llm_server.reset()
    script(llm_server, 12, CALLS)
    live_lookups.clear()

    with rc.Runner.from_state(saved, logging_setting="NONE") as resumed:
        info = resumed.run_sync(make_workflow(llm_server.base_url), "count")

    assert len(llm_server.requests) == CALLS - 11 == 9
    assert live_lookups == list(range(12, CALLS))  # lookups 1 to 11 replayed, not run
    reference = uninterrupted(llm_server)
    assert info.answer == reference.answer == "all looked up after 19 lookups"
    assert shape(info) == shape(reference)
    replayed = [node.kwargs.get("n") for node in info.nodes if node.replayed]
    assert replayed == list(range(1, 12))
    assert resumed.run_id != rc.ExecutionInfo.load(saved).run_id
    reloaded = rc.ExecutionInfo.load(resumed.saved_to)  # type: ignore[arg-type]
    assert reloaded.run_fields["resumed_from"] == rc.ExecutionInfo.load(saved).run_id
    assert [n.replayed for n in reloaded.nodes] == [n.replayed for n in info.nodes]
    agent = info.nodes[1]
    assert agent.extras is not None and len(agent.extras["model_calls"]) == CALLS


def test_a_resumed_run_resumes_again(llm_server: FakeLLMServer, tmp_path: Path) -> None:
    saved = failed_run(llm_server, tmp_path, fail_from=6)
    llm_server.reset()
    script(llm_server, 6, 14)  # the server fails again from call 15
    with rc.Runner.from_state(saved, logging_setting="NONE") as second, pytest.raises(LLMError):
        second.run_sync(make_workflow(llm_server.base_url), "count")
    llm_server.reset()
    script(llm_server, 15, CALLS)
    with rc.Runner.from_state(second.saved_to, logging_setting="NONE") as third:  # type: ignore[arg-type]
        info = third.run_sync(make_workflow(llm_server.base_url), "count")
    assert len(llm_server.requests) == 6
    assert info.answer == "all looked up after 19 lookups"
