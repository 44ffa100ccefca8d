"""The journal: what a run writes while it goes, reading it back, and the CLI on it.

Runs here happen in this process; the journal a dying process leaves behind is
made by copying the file while the runner is still open (a top-level request has
returned, so its lines are written). Real signals are in test_signals.py.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from requestcompletion.cli import main
from requestcompletion.llm import ToolCall
from requestcompletion.state import journal as journal_module
from requestcompletion.state._journal_lines import JOURNAL_VERSION, LineEncoder, expand
from requestcompletion.state.journal import Journal, RequestDigest
from requestcompletion.state.journal_reader import read_journal
from requestcompletion.testing import ScriptedModel

QUIET: dict[str, Any] = {"logging_setting": "NONE"}


def lines_of(path: Path) -> list[list[Any]]:
    """The journal's rows, one per change (column lines expanded into theirs)."""
    return [row for line in path.read_text().splitlines() for row in expand(json.loads(line))]


def output_of(rows: list[list[Any]], node_id: int) -> Any:
    """The output a journal recorded for a node: on its S line, or its N line."""
    for row in rows:
        if row[0] == "S" and row[1] == node_id:
            return row[4]
        if row[0] == "N" and row[1] == node_id:
            return row[10]
    raise AssertionError(f"node {node_id} did not finish in {rows!r}")


async def leaf(i: int) -> int:
    rc.context.put(f"leaf{i}", i * 10)
    await rc.stream(f"item {i}")
    if i == 3:
        raise ValueError("three is bad")
    return i


async def fan(n: int) -> list[Any]:
    return list(await rc.batch(leaf, range(n)))


def test_a_request_is_on_disk_when_it_returns_and_loads_like_the_live_run(
    tmp_path: Path,
) -> None:
    with rc.Runner(run_identifier="live", state_dir=tmp_path, **QUIET) as runner:
        live = runner.run_sync(fan, 5)
        journal = tmp_path / "live.journal"
        loaded = rc.ExecutionInfo.load(journal)  # while the runner is still open
        live_nodes = live.nodes
    assert loaded.outcome == "interrupted"
    assert not loaded.journal_torn
    assert [(n.id, n.name, n.parent_id, n.status) for n in loaded.nodes] == [
        (n.id, n.name, n.parent_id, n.status) for n in live_nodes
    ]
    assert [n.output for n in loaded.nodes[1:]] == [n.output for n in live_nodes[1:]]
    assert loaded.answer[3] == {
        "$type": "builtins.ValueError",
        "$repr": "ValueError('three is bad')",
    }
    failed = loaded.node(4)
    assert failed.error is not None and failed.error.type == "ValueError"
    assert "three is bad" in failed.error.traceback
    assert sorted(item for _, item in loaded.streamed) == [f"item {i}" for i in range(5)]
    fields = loaded.run_fields
    assert fields["journal"]["context"] == {f"leaf{i}": i * 10 for i in range(5)}
    assert fields["config"]["run_identifier"] == "live"
    # a clean close: the JSON is there and the journal is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.json"]
    assert rc.ExecutionInfo.load(tmp_path / "live.json").outcome == "succeeded"


def test_every_kind_of_change_has_its_line(tmp_path: Path) -> None:
    started = asyncio.Event()
    runners: list[rc.Runner] = []

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    async def main_node() -> str:
        journal = runners[0].state.journal
        assert journal is not None
        await journal.barrier()  # this node's R line is written: its finish gets an S line
        rc.context.update({"a": 1})
        rc.context.delete("a")
        task = asyncio.ensure_future(rc.call(waits))
        await started.wait()
        runners[0].cancel(1)
        with pytest.raises(rc.NodeCancelledError):
            await task
        return "done"

    with rc.Runner(
        run_identifier="kinds", state_dir=tmp_path, context={"seed": 1}, **QUIET
    ) as runner:
        runners.append(runner)
        runner.run_sync(main_node)
        rows = lines_of(tmp_path / "kinds.journal")
        shutil.copy(tmp_path / "kinds.journal", tmp_path / "copy.journal")
    kinds = [row[0] for row in rows]
    assert kinds[0] == "H" and rows[0][1]["journal_version"] == JOURNAL_VERSION
    assert ["C", None, "seed", 1] in rows  # the runner's initial context
    assert ["C", 0, "a", 1] in rows and ["D", 0, "a"] in rows  # written by node 0
    assert {"T", "R", "X"} <= set(kinds)  # waits: registered, then (another batch) cancelled
    assert output_of(rows, 0) == "done"
    assert next(row for row in rows if row[1] == 0 and row[0] in ("R", "S", "N"))[0] == "R"
    assert next(row for row in rows if row[0] == "S")[:2] == ["S", 0]
    loaded = rc.ExecutionInfo.load(tmp_path / "copy.journal")
    assert [(n.name, n.status) for n in loaded.nodes] == [
        ("main_node", "succeeded"),
        ("waits", "cancelled"),
    ]
    cancelled = next(row for row in rows if row[0] == "X")
    assert cancelled[1] == 1 and "runner.cancel" in cancelled[4]
    # a T line comes before the first call of its type, once per type
    seen: set[int] = set()
    for row in rows:
        if row[0] == "T":
            assert row[1] not in seen
            seen.add(row[1])
        elif row[0] in ("R", "N"):
            assert row[3] in seen
    assert len(seen) == 2


def test_registration_lines_carry_what_replay_matches_on(tmp_path: Path) -> None:
    async def same(x: int, *, tag: str = "") -> int:
        return x

    async def parent() -> int:
        got = await asyncio.gather(rc.call(same, 1, tag="t"), rc.call(same, 1, tag="t"))
        return sum(got) + await rc.call(same, 2)

    with rc.Runner(run_identifier="match", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(parent)
        rows = lines_of(tmp_path / "match.journal")
    types = {row[1]: row[3] for row in rows if row[0] == "T"}
    calls = [row for row in rows if row[0] in ("R", "N") and row[2] == 0]
    assert [types[row[3]].endswith(".same") for row in calls] == [True, True, True]
    assert [(row[6], row[7]) for row in calls] == [
        ([1], {"tag": "t"}),
        ([1], {"tag": "t"}),
        ([2], None),
    ]
    assert [row[1] for row in calls] == [1, 2, 3]  # registration order: the k-th call


def test_model_calls_are_journaled_with_a_digest_and_the_full_response(tmp_path: Path) -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: one
            b: the other
        """
        return a + b

    def agent() -> Any:
        model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}, id="call-1"), "it is 3"])
        return rc.agent_node("adder", llm=model, tool_nodes=[rc.function_node(add)])

    digests = []
    for run in ("m1", "m2"):
        with rc.Runner(run_identifier=run, state_dir=tmp_path, **QUIET) as runner:
            runner.run_sync(agent(), "what is 1 + 2?")
            rows = lines_of(tmp_path / f"{run}.journal")
        model_rows = [row for row in rows if row[0] == "M"]
        assert [(row[1], row[2]) for row in model_rows] == [(0, 0), (0, 1)]
        first, second = (row[4] for row in model_rows)
        assert first["tool_calls"] == [
            {"id": "call-1", "name": "add", "arguments": {"a": 1, "b": 2}}
        ]
        assert second["text"] == "it is 3" and second["model"] == "scripted"
        digests.append([row[3] for row in model_rows])
        saved = json.loads((tmp_path / f"{run}.json").read_text())
        calls = saved["extras"]["0"]["model_calls"]
        assert [c["digest"] for c in calls] == digests[-1]
        assert calls[1]["response"]["text"] == "it is 3"
    assert digests[0] == digests[1]  # the same conversation digests the same
    with rc.Runner(save_state=False, **QUIET) as runner:  # not saved: nothing kept for replay
        runner.run_sync(agent(), "what is 1 + 2?")
        assert "model_calls" not in runner.state.extras.get(0, {})
        assert runner.state.extras[0]["llm"]["calls"] == 2
    assert digests[0][0] != digests[0][1]  # a turn later, the request differs


def test_a_request_digest_is_the_same_built_turn_by_turn_or_at_once() -> None:
    from requestcompletion.llm import SystemMessage, UserMessage

    about = {"model": "m", "tools": ["add"]}
    history = [SystemMessage("be brief"), UserMessage("hi")]
    growing = RequestDigest()
    first = growing.of(history, about)
    history.append(UserMessage("again"))
    assert growing.of(history, about) == RequestDigest().of(history, about) != first
    assert growing.of(history, {"tools": ["add"], "model": "m"}) == growing.of(history, about)
    assert growing.of(history, {**about, "model": "other"}) != growing.of(history, about)
    history[-1] = UserMessage("changed")  # not an append: digested again from the start
    assert growing.of(history, about) == RequestDigest().of(history, about)
    assert growing.of(history[:2], about) == first


def test_a_journal_torn_mid_line_loads_to_its_last_whole_line(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="torn", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(fan, 3)
        copy = tmp_path / "copy" / "torn.journal"
        copy.parent.mkdir()
        shutil.copy(tmp_path / "torn.journal", copy)
    text = copy.read_text()
    whole = text.splitlines()
    copy.write_text(text[: len(text) - len(whole[-1]) // 2 - 1])  # half the last line
    info = rc.ExecutionInfo.load(copy)
    assert info.journal_torn
    assert info.run_fields["journal"]["lines"] == len(whole) - 1
    kept = [row for line in whole[:-1] for row in expand(json.loads(line))]
    assert len(info.nodes) == sum(row[0] in ("R", "N") for row in kept)
    assert [n.output for n in info.nodes if n.status == "succeeded"] == [
        output_of(kept, n.id) for n in info.nodes if n.status == "succeeded"
    ]
    # cut exactly before its newline, the last line is whole
    copy.write_text(text.rstrip("\n"))
    info = rc.ExecutionInfo.load(copy)
    assert not info.journal_torn
    assert [(n.name, n.status) for n in info.nodes] == [("fan", "succeeded")] + [
        ("leaf", "succeeded")
    ] * 3


def _header(version: int = 1) -> str:
    fields = {"journal_version": version, "run_id": "x", "started_at": 0.0}
    return json.dumps(["H", fields]) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a requestcompletion journal"),
        ('{"not": "a journal"}\n', "line 1 is not a journal line"),
        (_header() + "not json\n" + '["S",0,1,1,null]\n', "line 2 is not a journal line"),
        (_header(99), "journal version 99, newer"),
        (_header() + '["S",7,1,1,null]\n', "not a well-formed journal"),
        (_header() + '["R",0,null,5,1,1,[],null]\n', "not a well-formed journal"),
        ('["H","nope"]\n', "not a requestcompletion journal"),
        ('["H", {"run_id": 5}]\n', "damaged header: its journal_version is None"),
        (_header().replace("1,", "true,"), "damaged header: its journal_version is True"),
    ],
)
def test_a_damaged_journal_is_a_saved_run_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.journal"
    path.write_text(text)
    with pytest.raises(rc.SavedRunError, match=message):
        rc.ExecutionInfo.load(path)


def test_loading_the_json_of_a_run_that_left_only_its_journal_names_the_journal(
    tmp_path: Path,
) -> None:
    (tmp_path / "crashed.journal").write_text(_header())
    with pytest.raises(rc.SavedRunError, match=r"crashed\.journal"):
        rc.ExecutionInfo.load(tmp_path / "crashed.json")
    assert rc.ExecutionInfo.load(tmp_path / "crashed.journal").outcome == "interrupted"


def test_a_journal_that_is_not_a_regular_file_or_is_missing(tmp_path: Path) -> None:
    (tmp_path / "dir.journal").mkdir()
    with pytest.raises(rc.SavedRunError, match="not a regular file"):
        rc.ExecutionInfo.load(tmp_path / "dir.journal")
    with pytest.raises(rc.SavedRunError, match="no journal at"):
        rc.ExecutionInfo.load(tmp_path / "gone.journal")
    (tmp_path / "bytes.journal").write_bytes(b"\xff\xfe\n")
    with pytest.raises(rc.SavedRunError, match="cannot read"):
        rc.ExecutionInfo.load(tmp_path / "bytes.journal")


def test_values_json_cannot_hold_are_tagged_not_lost(tmp_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    async def odd() -> dict[str, Any]:
        loop: list[Any] = []
        loop.append(loop)
        return {"nan": math.nan, "obj": Opaque(), "cycle": loop}

    def run() -> tuple[list[list[Any]], bool]:
        with rc.Runner(run_identifier="odd", state_dir=tmp_path, **QUIET) as runner:
            runner.run_sync(odd)
            return read_journal(tmp_path / "odd.journal")

    with pytest.warns(RuntimeWarning, match="could not be stored"):  # the JSON says so
        rows, torn = run()
    assert not torn
    output = output_of(rows, 0)  # tagged in place, the line still written
    assert output["obj"]["$repr"] == "<opaque>"
    assert output["nan"]["$type"] == "float"
    assert isinstance(output["cycle"], list)


def test_journal_fsync_syncs_each_batch_and_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    with rc.Runner(run_identifier="plain", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(fan, 2)
    assert synced == []
    with rc.Runner(
        run_identifier="synced", state_dir=tmp_path, journal_fsync=True, **QUIET
    ) as runner:
        runner.run_sync(fan, 2)
    assert synced  # at least the request's batch and the closing one
    with pytest.raises(rc.ConfigError, match="journal_fsync"):
        rc.ExecutorConfig(journal_fsync="yes")  # type: ignore[arg-type]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names fds through /proc")
def test_journal_fsync_makes_the_json_durable_before_the_journal_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []
    real_fsync, real_unlink = os.fsync, os.unlink

    def fsync(fd: int) -> None:
        happened.append("fsync " + Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        happened.append("unlink " + Path(path).name)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "unlink", unlink)
    with rc.Runner(run_identifier="durable", state_dir=tmp_path, journal_fsync=True, **QUIET) as r:
        r.run_sync(fan, 2)
    monkeypatch.undo()
    gone = happened.index("unlink durable.journal")
    before = happened[:gone]
    assert any(e.startswith("fsync .durable.json.") for e in before), happened  # the data
    assert f"fsync {tmp_path.name}" in before, happened  # the folder, with the new name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["durable.json"]


def test_the_writer_writes_a_batch_without_being_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = threading.Event()
    real_write = Journal._write

    def spy(self: Journal, text: str) -> None:
        real_write(self, text)
        if '"Q"' in text:
            written.set()

    monkeypatch.setattr(Journal, "_write", spy)
    journal = Journal(tmp_path / "j.journal", {"journal_version": 1}, [], 0.0, False)
    journal.add(("Q", 1))  # no flush, no barrier: the batch window alone writes it
    assert written.wait(timeout=10)
    assert journal_module.FLUSH_INTERVAL <= 0.1
    journal.close({"outcome": None})
    assert lines_of(tmp_path / "j.journal")[1] == ["Q", 1]


def test_a_journal_that_cannot_be_started_is_logged_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.warns(RuntimeWarning, match="could not save run"):  # noqa: SIM117
        with rc.Runner(run_identifier="nowhere", state_dir=blocker, **QUIET) as runner:
            assert runner.run_sync(fan, 2).answer == [0, 1]
    assert "could not start the journal of run 'nowhere'" in caplog.text


def test_runs_lists_an_interrupted_run_with_how_far_it_got_and_show_draws_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left = tmp_path / "left"
    left.mkdir()
    release, started = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        started.set()
        await release.wait()

    async def outer() -> None:
        await rc.call(stuck)

    async def go(runner: rc.Runner) -> None:
        await runner.run(fan, 2)
        task = asyncio.ensure_future(runner.run(outer))
        await started.wait()
        assert runner.state.journal is not None
        await runner.state.journal.barrier()
        shutil.copy(tmp_path / "dead.journal", left / "dead.journal")
        release.set()
        await task

    async def body() -> None:
        async with rc.Runner(run_identifier="dead", state_dir=tmp_path, **QUIET) as runner:
            await go(runner)

    asyncio.run(body())
    shutil.copy(tmp_path / "dead.json", left / "dead.json")  # a later run under the same id
    assert main(["runs", "--state-dir", str(left)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "dead" in line]
    assert len(rows) == 2  # the finished run and the one whose process died, both listed
    assert any("interrupted" in row and "5 (2 unfinished)" in row for row in rows)
    assert any("succeeded" in row for row in rows)
    assert main(["show", str(left / "dead.journal")]) == 0
    assert "interrupted" in capsys.readouterr().out
    (left / "dead.json").unlink()
    assert main(["show", "dead", "--state-dir", str(left)]) == 0
    out = capsys.readouterr().out
    assert "run dead" in out and "interrupted" in out and "stuck" in out
    assert "running" in out


def test_a_journal_that_breaks_stops_without_stopping_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: LineEncoder, items: list[Any]) -> list[str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LineEncoder, "lines", broken)
    with rc.Runner(run_identifier="full", state_dir=tmp_path, **QUIET) as runner:
        assert runner.run_sync(fan, 2).answer == [0, 1]  # its barrier did not hang
        assert runner.run_sync(fan, 1).answer == [0]
    assert "the journal" in caplog.text and "No space left on device" in caplog.text
    assert rc.ExecutionInfo.load(tmp_path / "full.json").outcome == "succeeded"
    assert not (tmp_path / "full.journal").exists()


@pytest.fixture(scope="module")
def journal_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real journal of a run with a failure, stream items and context writes."""
    folder = tmp_path_factory.mktemp("journal")
    with rc.Runner(run_identifier="cut", state_dir=folder, **QUIET) as runner:
        runner.run_sync(fan, 6)
        return (folder / "cut.journal").read_text()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_journal_cut_anywhere_loads_what_it_holds(journal_text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(journal_text)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cut.journal"
        path.write_text(journal_text[:cut])
        if cut < journal_text.index("\n"):  # not even the header
            with pytest.raises(rc.SavedRunError):
                rc.ExecutionInfo.load(path)
            return
        info = rc.ExecutionInfo.load(path)
    whole = journal_text[:cut].split("\n")
    assert info.journal_torn == (whole[-1] != "" and not _parses(whole[-1]))
    assert info.outcome == "interrupted"
    assert all(n.status in ("running", "succeeded", "failed") for n in info.nodes)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_loading_any_bytes_as_a_journal_is_a_run_or_a_saved_run_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.journal"
        path.write_bytes(_header().encode() + data)
        try:
            info = rc.ExecutionInfo.load(path)
        except rc.SavedRunError:
            return
        info.nodes, info.to_graph(), info.all_stamps, info.to_json()


_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=3)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_rows = st.tuples(st.sampled_from("HTRNSFXICDEMZQrsn"), st.lists(_values, max_size=11)).map(
    lambda kind_rest: [kind_rest[0], *kind_rest[1]]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_rows, max_size=8))
def test_loading_journal_lines_of_any_shape_is_a_run_or_a_saved_run_error(
    rows: list[list[Any]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shapes.journal"
        path.write_text(_header() + "".join(json.dumps(row) + "\n" for row in rows))
        try:
            info = rc.ExecutionInfo.load(path)
        except rc.SavedRunError:
            return
        info.nodes, info.to_graph(), info.all_stamps, info.timing(), info.usage
        info.to_json()


def test_a_thread_node_writing_the_context_is_journaled_as_itself(tmp_path: Path) -> None:
    def in_thread(key: str) -> str:
        rc.context.put(key, threading.current_thread().name)
        return key

    async def parent() -> str:
        return await rc.call(in_thread, "who")

    with rc.Runner(run_identifier="thread", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(parent)
        rows = lines_of(tmp_path / "thread.journal")
        journal = runner.state.journal
    write = next(row for row in rows if row[0] == "C")
    assert write[:3] == ["C", 1, "who"] and write[3] != threading.current_thread().name
    assert journal is not None

    async def after_close() -> None:
        await asyncio.wait_for(journal.barrier(), 30)  # a closed journal answers at once

    asyncio.run(after_close())


def test_a_new_run_never_writes_over_the_journal_a_dead_run_left(tmp_path: Path) -> None:
    (tmp_path / "nightly.journal").write_text(_header())  # what a crash left
    with rc.Runner(run_identifier="nightly", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(fan, 1)
        assert runner.state.journal is not None
        assert runner.state.journal.path.name == "nightly.2.journal"
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "nightly.2.journal",
            "nightly.journal",
        ]
    assert (tmp_path / "nightly.journal").read_text() == _header()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.journal", "nightly.json"]
