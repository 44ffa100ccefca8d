"""Matching two runs' nodes: by place, type and inputs, then by type; what changed."""

from __future__ import annotations

import json
from pathlib import Path

from viz_runs import copy_fixture, make_rerun_pair

import requestcompletion as rc
from requestcompletion.viz.diff import match_runs


def _edited(folder: Path, name: str, edit: dict[str, dict[int, object]]) -> rc.ExecutionInfo:
    """simple-v1 (Doubler -> double(2), double(-3) failing) with some node columns changed."""
    document = json.loads(copy_fixture("simple-v1", folder).read_text())
    for column, values in edit.items():
        for node, value in values.items():
            document["nodes"][column][node] = value
    path = folder / f"{name}.json"
    path.write_text(json.dumps(document))
    return rc.ExecutionInfo.load(path)


def test_a_run_matches_itself_with_nothing_changed(tmp_path: Path) -> None:
    info = _edited(tmp_path, "same", {})
    pairs = match_runs(info, info)
    assert [(p["a"], p["b"], p["changed"]) for p in pairs] == [
        (0, 0, []),
        (1, 1, []),
        (2, 2, []),
    ]


def test_parallel_calls_match_by_inputs_whatever_order_they_ran_in(tmp_path: Path) -> None:
    a = _edited(tmp_path, "a", {})
    swapped = _edited(tmp_path, "b", {"args": {1: [-3], 2: [2]}, "status": {1: "failed"}})
    pairs = {(p["a"], p["b"]) for p in match_runs(a, swapped)}
    assert (1, 2) in pairs and (2, 1) in pairs  # double(2) with double(2), wherever it sits


def test_changed_inputs_output_status_and_latency_are_named(tmp_path: Path) -> None:
    a = _edited(tmp_path, "a", {})
    end = a.nodes[1].duration or 0.0
    b = _edited(
        tmp_path,
        "b",
        {
            "args": {1: [7]},
            "output": {1: 14},
            "end_us": {1: int((a.nodes[1].start - a.run_fields["started_at"] + end + 0.05) * 1e6)},
        },
    )
    changed = {p["a"]: p["changed"] for p in match_runs(a, b)}
    assert changed[1] == ["inputs", "output", "latency"]
    assert changed[2] == []


def test_calls_only_in_one_run_are_listed_with_their_subtree(tmp_path: Path) -> None:
    a = _edited(tmp_path, "a", {})
    b = _edited(tmp_path, "b", {"type": {2: 0}})  # the third call is another node type now
    pairs = match_runs(a, b)
    only = [(p["a"], p["b"]) for p in pairs if p["changed"] == ["only"]]
    assert only == [(2, None), (None, 2)]


def test_a_rerun_of_a_real_run_is_marked_replayed_and_diffs_against_the_original(
    tmp_path: Path,
) -> None:
    """The viewer on what `from_state(..., rerun=...)` made: replayed flags and the pairing."""
    from requestcompletion.viz.model import run_model

    first, again = make_rerun_pair(tmp_path)

    marks = run_model(again)["nodes"]["replayed"]  # columns, in the order of info.nodes
    by_name = {(n.name, n.args): mark for n, mark in zip(again.nodes, marks, strict=True)}
    assert by_name[("_rerun_mid", (1,))] is False  # re-run, and so is its ancestor
    assert by_name[("_rerun_top", (3,))] is False
    assert by_name[("_rerun_mid", (0,))] is True and by_name[("_rerun_mid", (2,))] is True
    pairs = match_runs(first, again)
    assert len(pairs) == len(first.nodes) == len(again.nodes)
    assert all(p["a"] is not None and p["b"] is not None for p in pairs)
    assert all("output" not in p["changed"] and "inputs" not in p["changed"] for p in pairs)
