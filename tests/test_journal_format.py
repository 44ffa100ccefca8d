"""The journal's line format: journals written by older versions keep loading.

`fixtures/runs/interrupted-v1.journal` was written by the version-1 writer (one line
per change) during a run of every common kind of change: calls registered and
returned in one batch (``N``) and across batches (``R``, ``S``), a failure, a
cancellation, stream items, context writes and deletes, model calls, and a value
JSON cannot hold; it was copied while its runner was still open, so it has no ``Z``
line (an interrupted run). `interrupted-v1.expected.json` is what loading it gave
then (`ExecutionInfo.to_document()`, without the file's own path).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from requestcompletion.state import _journal_lines as journal_lines
from requestcompletion.state._journal_lines import COLUMN_ROWS, JOURNAL_VERSION, LineEncoder
from requestcompletion.state.persistence import SavedType
from requestcompletion.state.records import NodeRecord

RUNS = Path(__file__).parent / "fixtures" / "runs"


def _document(path: Path) -> dict[str, Any]:
    document = rc.ExecutionInfo.load(path).to_document()
    del document["journal"]["path"]
    return json.loads(json.dumps(document))  # tuples as lists, as in the expected file


def test_a_version_1_journal_loads_as_it_did_when_it_was_written(tmp_path: Path) -> None:
    copy = tmp_path / "v1.journal"
    shutil.copy(RUNS / "interrupted-v1.journal", copy)
    expected = json.loads((RUNS / "interrupted-v1.expected.json").read_text())
    # what saved-run schema 2 adds: each type's kind, which a version-1 file never knew
    expected["schema_version"] = 2
    expected["types"] = [[*entry, "unknown"] for entry in expected["types"]]
    assert _document(copy) == expected
    info = rc.ExecutionInfo.load(copy)
    assert info.outcome == "interrupted" and not info.journal_torn
    assert [n.status for n in info.nodes].count("succeeded") == 8


# --- version 2: runs of calls in column lines (the writer's encoder, unit level) ---

T0 = 0.0  # the run's start on perf_counter, in these records (times exact in binary)
LEAF = SavedType("leaf", "tests:leaf")


class Odd:
    """A value JSON cannot hold: tagged with its repr when written."""

    def __repr__(self) -> str:
        return "<odd>"


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Column lines even for the small batches of these tests (see PLAIN_BATCH)."""
    monkeypatch.setattr(journal_lines, "PLAIN_BATCH", 0)


def _record(
    records: list[NodeRecord],
    parent: NodeRecord | None = None,
    spec: SavedType = LEAF,
    kwargs: dict[str, Any] | None = None,
) -> NodeRecord:
    """A call registered at 0.5 s steps from T0 (its id is its index)."""
    number = len(records)
    record = NodeRecord(number, spec, (number,), kwargs, parent, T0 + number / 2, number, None)
    records.append(record)
    return record


def _return(record: NodeRecord, output: Any = None) -> int:
    record.end, record.end_step = record.start + 0.25, record.start_step + 1000
    record.status, record.output = "succeeded", record.id * 10 if output is None else output
    return record.id


def _load(tmp_path: Path, lines: list[str]) -> rc.ExecutionInfo:
    path = tmp_path / "run.journal"
    header = {"journal_version": JOURNAL_VERSION, "run_id": "run", "started_at": 0.0}
    path.write_text("".join(line + "\n" for line in [json.dumps(["H", header]), *lines]))
    return rc.ExecutionInfo.load(path)


def _facts(info: rc.ExecutionInfo) -> list[tuple[Any, ...]]:
    return [(n.id, n.name, n.parent_id, n.status, n.args, n.kwargs, n.output) for n in info.nodes]


@pytest.mark.usefixtures("columns")
def test_calls_registered_together_are_one_r_line_and_returned_together_one_s_line(
    tmp_path: Path,
) -> None:
    records: list[NodeRecord] = []
    root = _record(records)
    children = [_record(records, root) for _ in range(5)]
    encoder = LineEncoder(records, T0)
    first = encoder.lines([root]) + encoder.lines(children)  # two batches: registered
    second = encoder.lines([_return(c) for c in children])  # the next: returned
    assert [json.loads(line) for line in first] == [
        ["T", 0, "leaf", "tests:leaf", "unknown"],
        ["R", 0, None, 0, 0, 0, [0], None],  # a run of one keeps its plain row
        [
            "r",
            1,
            0,
            0,
            [500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000],
            1,  # steps 1 to 5: consecutive, so only the first
            [[1], [2], [3], [4], [5]],
            None,
        ],
    ]
    assert [json.loads(line) for line in second] == [
        [
            "s",
            1,
            [750_000, 1_250_000, 1_750_000, 2_250_000, 2_750_000],
            1001,
            [10, 20, 30, 40, 50],
        ],
    ]
    info = _load(tmp_path, first + second)
    assert _facts(info) == [(0, "leaf", None, "running", (0,), {}, None)] + [
        (i, "leaf", 0, "succeeded", (i,), {}, i * 10) for i in range(1, 6)
    ]
    nodes = info.to_document()["nodes"]
    assert nodes["start_step"] == [0, 1, 2, 3, 4, 5]
    assert nodes["end_step"] == [None, 1001, 1002, 1003, 1004, 1005]
    assert nodes["end_us"] == [None, 750_000, 1_250_000, 1_750_000, 2_250_000, 2_750_000]


@pytest.mark.usefixtures("columns")
def test_columns_that_differ_row_by_row_are_lists(tmp_path: Path) -> None:
    records: list[NodeRecord] = []
    a, b = _record(records), _record(records)
    other = SavedType("other", "tests:other")
    calls = [_record(records, a), _record(records, b, other, {"k": 1}), _record(records, a)]
    encoder = LineEncoder(records, T0)
    lines = encoder.lines([a, b]) + encoder.lines(calls)
    lines += encoder.lines([_return(calls[2]), _return(calls[0])])  # out of order
    rows = [json.loads(line) for line in lines]
    assert ["T", 1, "other", "tests:other", "unknown"] in rows
    assert rows[-2][:4] == ["r", 2, [0, 1, 0], [0, 1, 0]]
    assert rows[-2][7] == [None, {"k": 1}, None]
    assert rows[-1][:2] == ["s", [4, 2]]
    assert _facts(_load(tmp_path, lines))[2:] == [
        (2, "leaf", 0, "succeeded", (2,), {}, 20),
        (3, "other", 1, "running", (3,), {"k": 1}, None),
        (4, "leaf", 0, "succeeded", (4,), {}, 40),
    ]


@pytest.mark.usefixtures("columns")
def test_calls_that_return_in_the_batch_they_registered_in_are_one_n_line(
    tmp_path: Path,
) -> None:
    records: list[NodeRecord] = []
    root = _record(records)
    items: list[Any] = [root]
    for _ in range(4):  # W1's pattern: each child registers and returns before the next
        child = _record(records, root)
        items += [child, _return(child)]
    lines = LineEncoder(records, T0).lines(items)
    rows = [json.loads(line) for line in lines]
    assert [row[0] for row in rows] == ["T", "R", "n"]  # the root has not returned
    assert rows[2][:2] == ["n", 1] and rows[2][-1] == [10, 20, 30, 40]
    assert [n.status for n in _load(tmp_path, lines).nodes] == ["running"] + ["succeeded"] * 4


@pytest.mark.usefixtures("columns")
def test_a_run_longer_than_a_line_holds_is_cut_and_same_types_share_one_t_line() -> None:
    records: list[NodeRecord] = []
    root = _record(records)
    children = [_record(records, root) for _ in range(COLUMN_ROWS * 2 + 1)]
    # the same name and key under another spec object is the same type; another name is not
    renamed = SavedType("renamed", LEAF.key)
    late = [_record(records, root, SavedType(LEAF.name, LEAF.key)), _record(records, root, renamed)]
    encoder = LineEncoder(records, T0)
    lines = encoder.lines([root]) + encoder.lines([*children, *late])
    rows = [json.loads(line) for line in lines]
    assert [row[0] for row in rows] == ["T", "R", "r", "r", "T", "r"]
    assert [len(row[4]) for row in rows if row[0] == "r"] == [COLUMN_ROWS, COLUMN_ROWS, 3]
    assert rows[4] == ["T", 1, "renamed", LEAF.key, "unknown"]
    assert rows[5][3] == [0, 0, 1]


@pytest.mark.usefixtures("columns")
def test_a_value_json_cannot_hold_sends_only_its_run_to_plain_rows_tagged(
    tmp_path: Path,
) -> None:
    records: list[NodeRecord] = []
    root = _record(records)
    children = [_record(records, root) for _ in range(3)]
    encoder = LineEncoder(records, T0)
    lines = encoder.lines([root]) + encoder.lines(children)
    outputs = [math.nan, Odd(), [1, 2]]
    lines += encoder.lines([_return(c, out) for c, out in zip(children, outputs, strict=True)])
    assert [json.loads(line)[0] for line in lines] == ["T", "R", "r", "S", "S", "S"]
    nan, odd, plain = (n.output for n in _load(tmp_path, lines).nodes[1:])
    assert nan == {"$type": "float", "$repr": "nan"}
    assert odd["$repr"] == "<odd>" and plain == [1, 2]


@pytest.mark.parametrize(
    "line",
    [
        ["r", 1, 0, 0, [1, 2], [1], [[1], [2]], None],  # a column one short
        ["s", [1, 2], [1, 2], [1, 2], [10]],
        ["n", "one", 0, 0, [1], [1], [[1]], None, [2], [2], [3]],  # the first id not an int
        ["s", 1, 5, [1], [1]],  # times not a list
        ["r", 1, 0, 0],  # columns missing
    ],
)
def test_a_malformed_column_line_is_a_saved_run_error(tmp_path: Path, line: list[Any]) -> None:
    lines = [
        json.dumps(["T", 0, "leaf", "tests:leaf"]),
        json.dumps(["R", 0, None, 0, 0, 0, [], None]),
        json.dumps(line),
    ]
    with pytest.raises(rc.SavedRunError, match="not a well-formed journal"):
        _load(tmp_path, lines)


def test_a_real_run_s_journal_loads_as_its_saved_json(tmp_path: Path) -> None:
    async def child(i: int) -> int:
        return i * 2

    async def fan() -> int:
        done = await rc.batch(child, range(COLUMN_ROWS + 50))
        return sum(await rc.batch(child, done))

    with rc.Runner(run_identifier="fan", state_dir=tmp_path, logging_setting="NONE") as runner:
        runner.run_sync(fan)
        shutil.copy(tmp_path / "fan.journal", tmp_path / "copy.journal")
    text = (tmp_path / "copy.journal").read_text()
    assert any(line.startswith(('["r"', '["n"', '["s"')) for line in text.splitlines())
    from_journal = rc.ExecutionInfo.load(tmp_path / "copy.journal")
    saved = rc.ExecutionInfo.load(tmp_path / "fan.json")
    assert _facts(from_journal) == _facts(saved) and len(saved.nodes) == 2 * COLUMN_ROWS + 101
    # torn inside its last line, it loads what the whole lines hold
    whole = text.splitlines()
    (tmp_path / "torn.journal").write_text("\n".join(whole[:-1]) + "\n" + whole[-1][:-3])
    torn = rc.ExecutionInfo.load(tmp_path / "torn.journal")
    assert torn.journal_torn and torn.run_fields["journal"]["lines"] == len(whole) - 1


def test_a_small_batch_is_written_a_row_per_change() -> None:
    records: list[NodeRecord] = []
    root = _record(records)
    children = [_record(records, root) for _ in range(journal_lines.PLAIN_BATCH - 2)]
    encoder = LineEncoder(records, T0)
    small = [json.loads(line)[0] for line in encoder.lines([root, *children])]
    assert small == ["T", *["R"] * (len(children) + 1)]
    more = [_record(records, root) for _ in range(journal_lines.PLAIN_BATCH)]
    assert [json.loads(line)[0] for line in encoder.lines(more)] == ["r"]
