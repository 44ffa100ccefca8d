"""Saving a run to `{state_dir}/{run_identifier}.json` and reading it back.

Covers: when the file is written (normal exit, exit by exception, timeout, async with),
what it holds (schema version, timing, resources, tracebacks, streamed items), the
load round trip, values JSON cannot hold (tagged reprs, strict JSON, no pickle), a
folder that cannot be written (a warning, the answer kept, no stray file), atomic
writes, unreadable files, and a committed v1 file that must keep loading.

To regenerate the committed fixture (only when its schema version is bumped on
purpose, keeping the old file as well): `cd tests && python test_persistence.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from requestcompletion.state import persistence

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "simple-v1.json"
QUIET: dict[str, Any] = {"logging_setting": "NONE"}


# --- nodes ------------------------------------------------------------------------


def double(x: int) -> int:
    """A function node (it runs on a thread); refuses negative numbers."""
    if x < 0:
        raise ValueError(f"cannot double {x}")
    return 2 * x


class Doubler(rc.Node[dict[str, Any]]):
    """A class node: streams, calls `double` twice, and catches the second one failing."""

    def __init__(self, x: int) -> None:
        super().__init__()
        self.x = x

    async def invoke(self) -> dict[str, Any]:
        await rc.stream(f"doubling {self.x}")
        good = await rc.call(double, self.x)
        try:
            await rc.call(double, -self.x)
        except ValueError as error:
            caught = str(error)
        return {"good": good, "caught": caught}


async def echo(value: Any, *, extra: Any = None) -> Any:
    await rc.stream(value)
    return value


async def explode() -> None:
    raise KeyError("boom")


async def wait_forever() -> None:
    await asyncio.Event().wait()


async def parent_of_waiter() -> None:
    await rc.call(wait_forever)


def run_simple(state_dir: str | os.PathLike[str], run_identifier: str) -> rc.ExecutionInfo:
    """The workflow of the committed fixture: Doubler(3)."""
    with rc.Runner(run_identifier=run_identifier, state_dir=state_dir, **QUIET) as runner:
        info = runner.run_sync(Doubler, 3)
    return info


def files_under(folder: Path) -> list[str]:
    """Every file and folder below `folder`, as sorted relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# --- when the file is written -----------------------------------------------------


def test_file_is_written_on_exit(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="plain", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(Doubler, 3)
        assert not (tmp_path / "plain.json").exists()
    assert files_under(tmp_path) == ["plain.json"]
    assert runner.saved_to == tmp_path / "plain.json"
    document = strict_json((tmp_path / "plain.json").read_text())
    assert document["run_id"] == "plain"
    assert document["outcome"] == "succeeded"


def test_default_folder_is_covailence_in_the_working_directory(tmp_path: Path) -> None:
    # conftest chdirs every test into its tmp_path
    with rc.Runner(run_identifier="here", **QUIET) as runner:
        runner.run_sync(echo, 1)
    assert (tmp_path / ".covailence" / "here.json").is_file()


def test_missing_nested_state_dir_is_created(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="deep", state_dir=tmp_path / "a" / "b", **QUIET) as runner:
        runner.run_sync(echo, 1)
    assert (tmp_path / "a" / "b" / "deep.json").is_file()


def test_nothing_is_written_with_save_state_false(tmp_path: Path) -> None:
    with rc.Runner(state_dir=tmp_path / "runs", save_state=False, **QUIET) as runner:
        runner.run_sync(echo, 1)
    assert runner.saved_to is None
    assert not (tmp_path / "runs").exists()


def test_file_is_written_when_the_block_exits_by_exception(tmp_path: Path) -> None:
    def run_then_raise() -> None:
        with rc.Runner(run_identifier="raised", state_dir=tmp_path, **QUIET) as runner:
            runner.run_sync(echo, "kept")
            raise RuntimeError("after the run")

    with pytest.raises(RuntimeError, match="after the run"):
        run_then_raise()
    info = rc.ExecutionInfo.load(tmp_path / "raised.json")
    assert [n.output for n in info.nodes] == ["kept"]
    assert info.outcome == "failed"


def test_file_is_written_when_the_block_exits_before_any_run(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError),
        rc.Runner(run_identifier="empty", state_dir=tmp_path, **QUIET),
    ):
        raise RuntimeError("before anything ran")
    info = rc.ExecutionInfo.load(tmp_path / "empty.json")
    assert info.nodes == []
    assert info.outcome == "failed"


def test_file_is_written_when_a_top_level_node_raises(tmp_path: Path) -> None:
    with (
        pytest.raises(KeyError, match="boom"),
        rc.Runner(run_identifier="failed", state_dir=tmp_path, **QUIET) as runner,
    ):
        runner.run_sync(explode)
    document = strict_json((tmp_path / "failed.json").read_text())
    assert document["outcome"] == "failed"
    error = document["errors"]["0"]
    assert error["type"] == "KeyError"
    assert "boom" in error["message"]
    assert "in explode" in error["traceback"]


def test_file_is_written_after_a_global_timeout(tmp_path: Path) -> None:
    with (
        pytest.raises(rc.GlobalTimeOutError),
        rc.Runner(run_identifier="slow", state_dir=tmp_path, timeout=0.05, **QUIET) as runner,
    ):
        runner.run_sync(parent_of_waiter)
    info = rc.ExecutionInfo.load(tmp_path / "slow.json")
    assert info.outcome == "timeout"
    assert [(n.name, n.status) for n in info.nodes] == [
        ("parent_of_waiter", "cancelled"),
        ("wait_forever", "cancelled"),
    ]


async def test_file_is_written_by_async_with(tmp_path: Path) -> None:
    async with rc.Runner(run_identifier="async", state_dir=tmp_path, **QUIET) as runner:
        await runner.run(Doubler, 4)
    info = rc.ExecutionInfo.load(tmp_path / "async.json")
    assert info.answer == {"good": 8, "caught": "cannot double -4"}


# --- what the file holds ------------------------------------------------------------


def test_file_holds_version_timing_resources_errors_and_streamed(tmp_path: Path) -> None:
    run_simple(tmp_path, "contents")
    document = strict_json((tmp_path / "contents.json").read_text())

    assert document["schema_version"] == persistence.SCHEMA_VERSION
    assert document["config"]["run_identifier"] == "contents"
    assert document["config"]["timeout"] is None
    assert document["config"]["execution_mode"] is None  # the default: by node kind
    assert "ray_init" not in document["config"]  # may hold a runtime_env with secrets
    assert document["started_at"] <= document["ended_at"]

    nodes = document["nodes"]
    assert nodes["status"] == ["succeeded", "succeeded", "failed"]
    assert nodes["parent"] == [None, 0, 0]
    for start, end in zip(nodes["start_us"], nodes["end_us"], strict=True):
        assert isinstance(start, int)
        assert isinstance(end, int)
        assert 0 <= start <= end
    # each child ran inside its parent's interval
    for child in (1, 2):
        assert nodes["start_us"][0] <= nodes["start_us"][child]
        assert nodes["end_us"][child] <= nodes["end_us"][0]
    assert document["timing"]["double"]["count"] == 2
    assert document["timing"]["Doubler"]["count"] == 1

    resources = document["resources"]
    assert resources["wall_time_s"] > 0
    assert resources["cpu_time_s"] >= 0
    assert resources["peak_rss_bytes"] > 1_000_000

    error = document["errors"]["2"]
    assert error["type"] == "ValueError"
    assert error["message"] == "cannot double -3"
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise ValueError(f"cannot double {x}")' in error["traceback"]
    assert set(document["errors"]) == {"2"}

    assert [[node, item] for node, _, item in document["streamed"]] == [[0, "doubling 3"]]


def test_streamed_items_are_saved_in_order_with_their_node(tmp_path: Path) -> None:
    async def streamer() -> str:
        for i in range(3):
            await rc.stream({"step": i})
        return await rc.call(echo, "inner")

    with rc.Runner(run_identifier="stream", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(streamer)
    info = rc.ExecutionInfo.load(tmp_path / "stream.json")
    assert info.streamed == [(0, {"step": 0}), (0, {"step": 1}), (0, {"step": 2}), (1, "inner")]


# --- the load round trip -------------------------------------------------------------


def test_load_round_trips_nodes_and_graph(tmp_path: Path) -> None:
    live = run_simple(tmp_path, "round")
    loaded = rc.ExecutionInfo.load(tmp_path / "round.json")

    def view(info: rc.ExecutionInfo) -> list[tuple[Any, ...]]:
        return [
            (n.id, n.name, n.type_key, n.parent_id, n.status, n.args, n.kwargs, n.output)
            for n in info.nodes
        ]

    assert view(loaded) == view(live)
    for before, after in zip(live.nodes, loaded.nodes, strict=True):
        assert after.error == before.error  # type, message and full traceback
        assert after.start == pytest.approx(before.start, abs=1e-5)
        assert after.end == pytest.approx(before.end, abs=1e-5)
    assert loaded.nodes[2].error is not None
    assert loaded.nodes[2].error.type == "ValueError"

    live_vertices, live_edges = live.to_graph()
    vertices, edges = loaded.to_graph()
    assert [v.id for v in vertices] == [v.id for v in live_vertices]
    assert [(e.source, e.target, e.status) for e in edges] == [
        (None, 0, "succeeded"),
        (0, 1, "succeeded"),
        (0, 2, "failed"),
    ]
    assert [(e.source, e.target, e.status) for e in edges] == [
        (e.source, e.target, e.status) for e in live_edges
    ]
    assert loaded.answer == live.answer
    assert loaded.run_id == "round"
    assert loaded.outcome == "succeeded"
    assert [(s.step, s.node_id, s.message) for s in loaded.all_stamps] == [
        (s.step, s.node_id, s.message) for s in live.all_stamps
    ]
    assert [n.id for n in loaded.insertion_requests] == [0]
    assert [n.id for n in loaded.get_info(0).nodes] == [0, 1, 2]


def test_info_save_and_load_without_a_runner_closing(tmp_path: Path) -> None:
    with rc.Runner(save_state=False, **QUIET) as runner:
        runner.run_sync(echo, [1, "two"])
        path = runner.info.save(tmp_path / "by-hand.json")
    assert path == tmp_path / "by-hand.json"
    assert rc.ExecutionInfo.load(path).answer == [1, "two"]


# --- values JSON cannot hold ----------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class Unpicklable:
    """Fails the test if anything pickles (or deep-copies) it."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise AssertionError("a run's value was pickled")

    def __repr__(self) -> str:
        return "Unpicklable()"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


def _self_referencing() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def _deeply_nested() -> list[Any]:
    items: list[Any] = []
    for _ in range(100_000):
        items = [items]
    return items


def _nested_tag(levels: int) -> Any:
    """What `_deeply_nested` is saved as: lists down to the encoder's depth, then a tag."""
    saved: Any = {"$type": "builtins.list", "$repr": "<not stored: nested too deep>"}
    for _ in range(levels):
        saved = [saved]
    return saved


CYCLE = {"$type": "builtins.list", "$repr": "<cycle>"}
NON_JSON = [
    pytest.param(Opaque(), {"$type": f"{__name__}.Opaque", "$repr": "<Opaque thing>"}, id="object"),
    pytest.param(b"\x00raw", {"$type": "builtins.bytes", "$repr": "b'\\x00raw'"}, id="bytes"),
    pytest.param(float("nan"), {"$type": "float", "$repr": "nan"}, id="nan"),
    pytest.param(float("inf"), {"$type": "float", "$repr": "inf"}, id="inf"),
    pytest.param(_self_referencing(), [1, CYCLE], id="self-referencing-list"),
    pytest.param({(1, 2): "pair"}, {"(1, 2)": "pair"}, id="tuple-keys"),
    pytest.param({1, 2}, {"$type": "builtins.set", "$value": [1, 2]}, id="set"),
    pytest.param(
        BadRepr(),
        {"$type": f"{__name__}.BadRepr", "$repr": "<unrepresentable: repr() raised RuntimeError>"},
        id="repr-raises",
    ),
    pytest.param(_deeply_nested(), _nested_tag(100), id="deeply-nested"),
]
LOSSY = {"self-referencing-list", "repr-raises", "deeply-nested"}


@pytest.mark.parametrize(("value", "saved"), NON_JSON)
def test_non_json_output_is_tagged_in_place(
    tmp_path: Path, value: Any, saved: Any, request: pytest.FixtureRequest
) -> None:
    lossy = request.node.callspec.id in LOSSY
    with (
        pytest.warns(RuntimeWarning, match="'odd': some values could not be stored")
        if lossy
        else contextlib.nullcontext(),
        rc.Runner(run_identifier="odd", state_dir=tmp_path, **QUIET) as runner,
    ):
        runner.run_sync(echo, "plain")
        info = runner.run_sync(echo, value)
    assert info.answer is value  # the live answer is the object itself
    text = (tmp_path / "odd.json").read_text()
    document = strict_json(text)
    assert document["nodes"]["output"][0] == "plain"  # its neighbours are kept as they are
    assert document["nodes"]["output"][1] == saved
    loaded = rc.ExecutionInfo.load(tmp_path / "odd.json")
    assert loaded.nodes[1].output == saved
    assert loaded.nodes[0].output == "plain"


def test_non_json_inputs_and_streamed_items_are_tagged_too(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="inputs", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(echo, b"bytes in", extra=float("nan"))
    document = strict_json((tmp_path / "inputs.json").read_text())
    assert document["nodes"]["args"][0] == [{"$type": "builtins.bytes", "$repr": "b'bytes in'"}]
    assert document["nodes"]["kwargs"][0] == {"extra": {"$type": "float", "$repr": "nan"}}
    assert document["streamed"][0][2] == {"$type": "builtins.bytes", "$repr": "b'bytes in'"}


def test_nothing_is_pickled(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="nopickle", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(echo, Unpicklable(), extra=Unpicklable())
    document = strict_json((tmp_path / "nopickle.json").read_text())
    assert document["nodes"]["output"][0]["$repr"] == "Unpicklable()"
    assert document["nodes"]["args"][0][0]["$repr"] == "Unpicklable()"
    package = Path(rc.__file__).parent
    importing = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|shelve)\b", re.M)
    # The Ray strategy pickles on purpose (node types and arguments travel by cloudpickle,
    # DESIGN §4); nothing it pickles is ever saved.
    transport = package / "execution" / "strategies" / "distributed"
    for source in package.rglob("*.py"):
        if source.parent == transport:
            continue
        assert not importing.search(source.read_text()), source


# --- a folder that cannot be written ------------------------------------------------------


def test_state_dir_under_a_regular_file_warns_and_keeps_the_answer(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    with pytest.warns(RuntimeWarning, match="could not save run 'blocked'"):  # noqa: SIM117
        with rc.Runner(run_identifier="blocked", state_dir=blocker / "runs", **QUIET) as runner:
            info = runner.run_sync(Doubler, 5)
    assert info.answer == {"good": 10, "caught": "cannot double -5"}
    assert runner.saved_to is None
    assert files_under(tmp_path) == ["blocker"]
    assert blocker.read_text() == "I am a file"


def test_state_dir_that_is_a_file_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    with pytest.warns(RuntimeWarning, match="state_dir"):  # noqa: SIM117
        with rc.Runner(run_identifier="blocked", state_dir=blocker, **QUIET) as runner:
            runner.run_sync(echo, 1)
    assert files_under(tmp_path) == ["blocker"]


def test_target_name_taken_by_a_folder_saves_beside_it(tmp_path: Path) -> None:
    # a runner never replaces what holds its file name: the run goes to the next free name
    (tmp_path / "taken.json").mkdir()
    with pytest.warns(RuntimeWarning, match=r"'taken'.*already holds.*taken\.2\.json"):  # noqa: SIM117
        with rc.Runner(run_identifier="taken", state_dir=tmp_path, **QUIET) as runner:
            info = runner.run_sync(echo, "answer")
    assert info.answer == "answer"
    assert files_under(tmp_path) == ["taken.2.json", "taken.json"]
    assert (tmp_path / "taken.json").is_dir()
    assert rc.ExecutionInfo.load(tmp_path / "taken.2.json").answer == "answer"


def test_temporary_runner_still_returns_with_an_unwritable_global_state_dir(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    rc.set_config(state_dir=blocker / "runs", logging_setting="NONE")
    with pytest.warns(RuntimeWarning, match="could not save run"):
        assert rc.call_sync(double, 21) == 42
    assert files_under(tmp_path) == ["blocker"]


# --- atomic writes -----------------------------------------------------------------------


def test_failed_rename_keeps_the_previous_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rc.Runner(run_identifier="same", state_dir=tmp_path, **QUIET) as runner:
        info = runner.run_sync(echo, "first")
    before = (tmp_path / "same.json").read_bytes()

    def broken(src: Any, dst: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk on fire"):  # an explicit save says so
        info.save(tmp_path / "same.json")
    monkeypatch.setattr(os, "link", broken)
    with pytest.warns(RuntimeWarning, match="disk on fire"):  # noqa: SIM117 - a runner warns
        with rc.Runner(run_identifier="other", state_dir=tmp_path, **QUIET) as runner:
            assert runner.run_sync(echo, "second").answer == "second"
    monkeypatch.undo()

    assert files_under(tmp_path) == ["other.journal", "same.json"]  # the journal kept the run
    assert (tmp_path / "same.json").read_bytes() == before
    assert rc.ExecutionInfo.load(tmp_path / "same.json").answer == "first"


def test_interrupted_save_removes_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rc.Runner(save_state=False, **QUIET) as runner:
        info = runner.run_sync(echo, "x")

    def interrupted(src: Any, dst: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        info.save(tmp_path / "run.json")
    monkeypatch.undo()
    assert files_under(tmp_path) == []


def test_temp_file_is_in_the_target_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a rename (or link) is only atomic within one file system: the temp file sits by the target
    seen: list[tuple[Path, Path]] = []

    def spying(real: Any) -> Any:
        def spy(src: Any, dst: Any) -> None:
            seen.append((Path(src), Path(dst)))
            real(src, dst)

        return spy

    monkeypatch.setattr(os, "replace", spying(os.replace))
    monkeypatch.setattr(os, "link", spying(os.link))
    with rc.Runner(run_identifier="spied", state_dir=tmp_path, **QUIET) as runner:
        info = runner.run_sync(echo, 1)
    info.save(tmp_path / "again.json")
    monkeypatch.undo()
    expected = [(tmp_path, tmp_path / "spied.json"), (tmp_path, tmp_path / "again.json")]
    assert [(src.parent, dst) for src, dst in seen] == expected
    assert all(src not in (tmp_path / "spied.json", tmp_path / "again.json") for src, _ in seen)
    assert files_under(tmp_path) == ["again.json", "spied.json"]


# --- unreadable files -------------------------------------------------------------------


def _valid_document(tmp_path: Path) -> dict[str, Any]:
    run_simple(tmp_path, "base")
    return json.loads((tmp_path / "base.json").read_text())  # type: ignore[no-any-return]


def test_load_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(rc.SavedRunError, match="no saved run") as caught:
        rc.ExecutionInfo.load(tmp_path / "nope.json")
    assert "nope.json" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param('{"schema_version": 1, "run_id": ', id="truncated"),
        pytest.param("{not json}", id="garbage"),
    ],
)
def test_load_of_corrupt_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "corrupt.json"
    path.write_text(text)
    with pytest.raises(rc.SavedRunError, match="corrupt") as caught:
        rc.ExecutionInfo.load(path)
    assert str(path) in str(caught.value)


def test_load_of_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(rc.SavedRunError, match=r"binary\.json"):
        rc.ExecutionInfo.load(path)


def test_load_of_a_folder(tmp_path: Path) -> None:
    with pytest.raises(rc.SavedRunError, match="not a regular file"):
        rc.ExecutionInfo.load(tmp_path)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([1, 2, 3], id="list"),
        pytest.param("a run", id="string"),
        pytest.param(None, id="null"),
        pytest.param({"run_id": "x", "nodes": {}}, id="no-version"),
    ],
)
def test_load_of_json_that_is_not_a_run(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document))
    with pytest.raises(rc.SavedRunError, match="not a saved requestcompletion run"):
        rc.ExecutionInfo.load(path)


def test_load_of_a_newer_schema_version(tmp_path: Path) -> None:
    document = _valid_document(tmp_path)
    document["schema_version"] = persistence.SCHEMA_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(document))
    with pytest.raises(rc.SavedRunError) as caught:
        rc.ExecutionInfo.load(path)
    message = str(caught.value)
    assert "newer" in message
    assert str(persistence.SCHEMA_VERSION + 1) in message
    assert "upgrade" in message


def _drop(key: str) -> Any:
    def change(document: dict[str, Any]) -> None:
        del document[key]

    return change


def _set(*path_and_value: Any) -> Any:
    *path, value = path_and_value

    def change(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_drop("nodes"), id="no-nodes"),
        pytest.param(_drop("run_id"), id="no-run-id"),
        pytest.param(_set("nodes", "status", ["succeeded"]), id="short-column"),
        pytest.param(_set("nodes", "type", [0, 0, 9]), id="unknown-type"),
        pytest.param(_set("nodes", "parent", [None, 0, 7]), id="unknown-parent"),
        pytest.param(
            _set("errors", {"9": {"type": "E", "message": "", "traceback": ""}}),
            id="error-of-no-node",
        ),
        pytest.param(_set("errors", {"2": {"type": "E"}}), id="error-without-fields"),
        pytest.param(_set("errors", []), id="errors-a-list"),
        pytest.param(_set("extras", []), id="extras-a-list"),
        pytest.param(_set("streamed", [[0]]), id="streamed-item-short"),
        pytest.param(_set("started_at", None), id="no-start-time"),
        pytest.param(_set("schema_version", "1"), id="version-a-string"),
    ],
)
def test_load_of_a_malformed_run(tmp_path: Path, change: Any) -> None:
    document = _valid_document(tmp_path)
    change(document)
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(document))
    with pytest.raises(rc.SavedRunError, match=r"malformed\.json"):
        rc.ExecutionInfo.load(path)


def test_load_of_pathologically_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "nested.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(rc.SavedRunError, match=r"nested\.json"):
        rc.ExecutionInfo.load(path)


# --- round trip, property-based ----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def typed(value: Any) -> Any:
    """`value` with every leaf's type made explicit, so True and 1 (or 1 and 1.0) differ."""
    if isinstance(value, list):
        return ["list", [typed(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", {k: typed(v) for k, v in value.items()}]
    return [type(value).__name__, value]


_run_numbers = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON_VALUES, extra=JSON_VALUES)
def test_round_trip_property(tmp_path: Path, value: Any, extra: Any) -> None:
    run_id = f"prop-{next(_run_numbers)}"
    with rc.Runner(run_identifier=run_id, state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(echo, value, extra=extra)
    path = tmp_path / f"{run_id}.json"
    strict_json(path.read_text())
    loaded = rc.ExecutionInfo.load(path)
    path.unlink()
    (node,) = loaded.nodes
    assert typed(node.output) == typed(value)
    assert typed(list(node.args)) == typed([value])
    assert typed(node.kwargs) == typed({"extra": extra})
    assert typed([item for _, item in loaded.streamed]) == typed([value])
    assert node.status == "succeeded"


# --- the committed v1 file ---------------------------------------------------------------

SIMPLE_ANSWER = {"good": 6, "caught": "cannot double -3"}


def test_committed_v1_file_still_loads() -> None:
    raw = json.loads(FIXTURE.read_text())
    assert raw["schema_version"] == 1  # a committed file never changes; add a v2 next to it
    info = rc.ExecutionInfo.load(FIXTURE)

    assert info.run_id == "simple-v1"
    assert info.outcome == "succeeded"
    assert info.answer == SIMPLE_ANSWER
    assert [n.name for n in info.nodes] == ["Doubler", "double", "double"]
    assert [n.type_key for n in info.nodes] == [
        "test_persistence:Doubler",
        "test_persistence:double",
        "test_persistence:double",
    ]
    assert [n.parent_id for n in info.nodes] == [None, 0, 0]
    assert [n.status for n in info.nodes] == ["succeeded", "succeeded", "failed"]
    assert [n.args for n in info.nodes] == [(3,), (3,), (-3,)]
    assert [n.output for n in info.nodes] == [SIMPLE_ANSWER, 6, None]
    assert [n.error for n in info.nodes[:2]] == [None, None]
    error = info.nodes[2].error
    assert error is not None
    assert (error.type, error.message) == ("ValueError", "cannot double -3")
    assert error.traceback.startswith("Traceback (most recent call last)")
    assert "in double" in error.traceback
    for node in info.nodes:
        assert node.end is not None
        assert node.start <= node.end
    assert info.streamed == [(0, "doubling 3")]

    _, edges = info.to_graph()
    assert [(e.source, e.target, e.status) for e in edges] == [
        (None, 0, "succeeded"),
        (0, 1, "succeeded"),
        (0, 2, "failed"),
    ]
    assert [s.message for s in info.all_stamps] == [
        "Doubler started",
        "double started",
        "double succeeded",
        "double started",
        "double failed",
        "Doubler succeeded",
    ]
    assert {name: t.count for name, t in info.timing().items()} == {"Doubler": 1, "double": 2}
    fields = info.run_fields
    assert fields["config"]["run_identifier"] == "simple-v1"
    assert set(fields["resources"]) == {"wall_time_s", "cpu_time_s", "peak_rss_bytes"}


def test_a_fresh_run_loads_like_the_committed_file(tmp_path: Path) -> None:
    run_simple(tmp_path, "simple-v1")
    fresh = rc.ExecutionInfo.load(tmp_path / "simple-v1.json")
    old = rc.ExecutionInfo.load(FIXTURE)

    def view(info: rc.ExecutionInfo) -> Any:
        nodes = [
            (n.name, n.parent_id, n.status, n.args, n.kwargs, n.output, n.error and n.error.type)
            for n in info.nodes
        ]
        edges = [(e.source, e.target, e.status) for e in info.to_graph()[1]]
        stamps = [(s.step, s.message) for s in info.all_stamps]
        return nodes, edges, stamps, info.streamed, info.answer, info.outcome

    assert view(fresh) == view(old)
    fresh_keys = set(json.loads((tmp_path / "simple-v1.json").read_text()))
    assert fresh_keys == set(json.loads(FIXTURE.read_text()))


def write_fixture() -> None:
    """Run the fixture's workflow in a scratch folder and copy its file to FIXTURE."""
    with tempfile.TemporaryDirectory() as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            run_simple("runs", "simple-v1")
        finally:
            os.chdir(cwd)
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(scratch) / "runs" / "simple-v1.json", FIXTURE)


if __name__ == "__main__":
    import test_persistence  # so the saved type keys name this module, as under pytest

    test_persistence.write_fixture()
    print(f"wrote {FIXTURE}")


def test_a_saved_run_is_private_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    info = run_simple(tmp_path, "private")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.json"]
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    copy = info.save(tmp_path / "not" / "yet" / "copy.json")  # folders made on the way
    assert [p.name for p in copy.parent.iterdir()] == ["copy.json"]
    assert rc.ExecutionInfo.load(copy).answer == info.answer


def test_a_full_disk_while_saving_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = run_simple(tmp_path / "first", "full")

    def disk_full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        info.save(tmp_path / "second" / "full.json")
    monkeypatch.undo()
    assert list((tmp_path / "second").iterdir()) == []
