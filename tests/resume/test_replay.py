"""What replays and what runs live: matching by place, type and inputs; rerun=; bad input."""

from __future__ import annotations

import asyncio
import json
import shutil
import warnings
from pathlib import Path

import pytest

import requestcompletion as rc
from requestcompletion.errors import SavedRunError

LIVE: list[str] = []  # every call that really ran, as "name(k)"
FAIL = {"at_end": False}  # the workflow raises after its calls: its run "died" there
PLAN: dict[str, list[int]] = {"ks": []}  # what the workflow calls: its code, in effect


async def leaf(k: int) -> int:  # async: siblings run in the order called, so LIVE's order holds
    LIVE.append(f"leaf({k})")
    return k * 10


async def part(k: int) -> int:
    LIVE.append(f"part({k})")
    first, second = await rc.batch(leaf, [k, k + 100])
    return first + second


async def workflow(label: str) -> list[int]:
    LIVE.append(f"workflow({PLAN['ks']})")
    results = await rc.batch(part, PLAN["ks"])
    if FAIL["at_end"]:
        raise RuntimeError("the run died here")
    return results


def runner(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", **overrides)  # type: ignore[arg-type]


def saved_run(ks: list[int], *, fail: bool = False) -> Path:
    FAIL["at_end"], PLAN["ks"] = fail, ks
    with runner() as first:
        if fail:
            with pytest.raises(RuntimeError):
                first.run_sync(workflow, "w")
        else:
            first.run_sync(workflow, "w")
    FAIL["at_end"] = False
    LIVE.clear()
    assert first.saved_to is not None
    return first.saved_to


def resume(saved: Path | rc.ExecutionInfo, ks: list[int], **options: object) -> rc.ExecutionInfo:
    PLAN["ks"] = ks
    with rc.Runner.from_state(saved, logging_setting="NONE", **options) as resumed:
        return resumed.run_sync(workflow, "w")


def test_a_succeeded_run_replays_whole_and_copies_its_graph() -> None:
    saved = saved_run([1, 2])
    info = resume(saved, [1, 2])
    assert LIVE == []
    assert info.answer == [1020, 1040]
    before = rc.ExecutionInfo.load(saved)
    assert [(n.name, n.parent_id, n.args, n.output) for n in info.nodes] == [
        (n.name, n.parent_id, n.args, n.output) for n in before.nodes
    ]
    assert all(node.replayed for node in info.nodes)


def test_a_changed_input_reruns_exactly_the_changed_subtree() -> None:
    saved = saved_run([1, 2, 3], fail=True)
    with pytest.warns(RuntimeWarning, match=r"call 1 under workflow .* part\(5\).* part\(2\)"):
        info = resume(saved, [1, 5, 3])
    assert LIVE == ["workflow([1, 5, 3])", "part(5)", "leaf(5)", "leaf(105)"]
    assert info.answer == [1020, 1100, 1060]
    assert [n.name for n in info.nodes if not n.replayed] == ["workflow", "part", "leaf", "leaf"]


def test_rerun_runs_the_node_and_its_ancestors_only() -> None:
    saved = saved_run([1, 2, 3])
    loaded = rc.ExecutionInfo.load(saved)
    [target] = [n.id for n in loaded.nodes if n.name == "leaf" and n.args == (2,)]
    info = resume(saved, [1, 2, 3], rerun=[target])
    assert LIVE == ["workflow([1, 2, 3])", "part(2)", "leaf(2)"]
    assert info.answer == [1020, 1040, 1060]
    assert sum(not n.replayed for n in info.nodes) == 3


async def test_parallel_calls_match_whatever_order_they_finish_in() -> None:
    gates = {k: asyncio.Event() for k in (1, 2, 3)}
    finished: list[int] = []

    async def step(k: int) -> str:
        LIVE.append(f"step({k})")
        await gates[k].wait()
        finished.append(k)
        gates.get(k - 1, asyncio.Event()).set()  # each releases the one before it
        return f"{k}@{len(finished)}"  # which call this was shows in its output

    async def fan() -> list[str]:
        results = await rc.batch(step, PLAN["ks"])
        if FAIL["at_end"]:
            raise RuntimeError("died")
        return results

    FAIL["at_end"] = True
    async with runner() as first:
        gates[3].set()
        PLAN["ks"] = [1, 2, 3, 3]
        with pytest.raises(RuntimeError):
            await first.run(fan)
    assert finished[:3] == [3, 3, 2]  # they finished in reverse order
    FAIL["at_end"] = False
    LIVE.clear()
    async with rc.Runner.from_state(first.saved_to, logging_setting="NONE") as resumed:  # type: ignore[arg-type]
        PLAN["ks"] = [3, 2, 3, 1]  # registered in another order too
        info = await resumed.run(fan)
    assert LIVE == []
    # the k-th new step(3) gets the k-th recorded one's output
    assert info.answer == ["3@1", "2@3", "3@2", "1@4"]


def test_a_file_from_another_workflow_runs_live_with_one_warning() -> None:
    async def other(ks: list[int]) -> int:
        LIVE.append("other")
        return sum(await rc.batch(leaf, ks))

    saved = saved_run([1, 2])
    with rc.Runner.from_state(saved, logging_setting="NONE") as resumed:
        with pytest.warns(RuntimeWarning) as caught:
            info = resumed.run_sync(other, [1, 2])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # more divergence: no second warning
            resumed.run_sync(other, [3])
    assert len(caught) == 1
    assert "call 0 at the top level is other([1, 2])" in str(caught[0].message)
    assert "called workflow('w')" in str(caught[0].message)
    assert info.answer == 30
    assert LIVE == ["other", "leaf(1)", "leaf(2)", "other", "leaf(3)"]
    assert not any(n.replayed for n in resumed.info.nodes)


def test_a_node_whose_output_cannot_be_rebuilt_runs_live() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    def make(x: int) -> Point:
        LIVE.append(f"make({x})")
        return Point(x)

    with runner() as first:
        first.run_sync(make, 1)
    LIVE.clear()
    with rc.Runner.from_state(first.saved_to, logging_setting="NONE") as resumed:  # type: ignore[arg-type]
        info = resumed.run_sync(make, 1)
    assert isinstance(info.answer, Point)
    assert LIVE == ["make(1)"]


@pytest.mark.parametrize(
    "text",
    ["{ not json", json.dumps({"schema_version": 99, "run_id": "x"})],
    ids=["corrupt", "newer-schema"],
)
def test_a_bad_file_raises_before_anything_runs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SavedRunError, match=r"bad\.json"):
        rc.Runner.from_state(path)
    assert not (tmp_path / ".covailence").exists()  # no runner was made, nothing ran


def test_rerun_of_an_unknown_id_says_how_to_find_ids() -> None:
    saved = saved_run([1])
    with pytest.raises(KeyError, match=r"rerun=42.*ids are 0 to 3.*requestcompletion show"):
        rc.Runner.from_state(saved, rerun=[42])
    with pytest.raises(KeyError, match="rerun='2'"):
        rc.Runner.from_state(saved, rerun=["2"])


def test_a_torn_journal_resumes_from_its_last_whole_line(tmp_path: Path) -> None:
    FAIL["at_end"], PLAN["ks"] = False, [1, 2]
    with runner(run_identifier="torn") as first:
        first.run_sync(workflow, "w")
        journal = first.state.journal
        assert journal is not None
        copy = tmp_path / "copy.journal"
        shutil.copy(journal.path, copy)  # what a process killed now would leave
    lines = copy.read_bytes().splitlines(keepends=True)
    copy.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    LIVE.clear()
    with pytest.warns(RuntimeWarning, match="cut short .* dropped"):
        info = resume(copy, [1, 2])
    assert info.answer == [1020, 1040]
    assert LIVE == []  # the workflow's own line was whole: it replays
    assert len(info.nodes) == 6  # the torn line was the last leaf's: it is not there


def test_show_says_which_nodes_replayed(capsys: pytest.CaptureFixture[str]) -> None:
    from requestcompletion.cli import main

    saved = saved_run([1, 2], fail=True)
    PLAN["ks"] = [1, 2]
    with rc.Runner.from_state(saved, logging_setting="NONE") as resumed:
        resumed.run_sync(workflow, "w")
    assert main(["show", resumed.run_id, "--state-dir", ".covailence"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"resumed from {rc.ExecutionInfo.load(saved).run_id}" in lines[0]
    marked = [line.split("#")[1].split()[0] for line in lines[1:] if "replayed" in line]
    assert sorted(marked) == ["1", "2", "3", "4", "5", "6"]  # all but the workflow (it ran)


def test_the_journal_of_a_resumed_run_keeps_what_replayed(tmp_path: Path) -> None:
    saved = saved_run([1, 2], fail=True)
    PLAN["ks"] = [1, 2]
    with rc.Runner.from_state(saved, logging_setting="NONE") as resumed:
        resumed.run_sync(workflow, "w")
        journal = resumed.state.journal
        assert journal is not None
        copy = tmp_path / "resumed.journal"
        shutil.copy(journal.path, copy)  # what a process killed now would leave
    left = rc.ExecutionInfo.load(copy)
    assert left.run_fields["resumed_from"] == rc.ExecutionInfo.load(saved).run_id
    assert [n.replayed for n in left.nodes] == [n.replayed for n in resumed.info.nodes]
    assert [n.replayed for n in left.nodes] == [False] + [True] * 6
