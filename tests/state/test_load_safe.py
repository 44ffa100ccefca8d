"""Loading any file is safe (issue 12 item 5).

`rc.ExecutionInfo.load` and every view of a loaded run raise only `SavedRunError` on
anything malformed: fuzzed documents (hypothesis: any field of a real saved run
replaced by any JSON value, or the file's bytes cut and flipped), literals Python
cannot hold as they are (huge ints, 1e400, NaN), and files that are not regular
(a FIFO, a symlink to /dev/zero) or over the size limit, refused without hanging.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzed_runs
import requestcompletion as rc
from requestcompletion.state import persistence


@pytest.fixture(scope="module")
def good_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return fuzzed_runs.good_document(tmp_path_factory.mktemp("good"))


def every_view(info: rc.ExecutionInfo) -> list[Any]:
    """Touch every view a user (or the CLI) can ask of a loaded run."""
    seen: list[Any] = [info.answer, info.outcome, info.run_fields, info.streamed, info.usage]
    seen += [info.timing(), info.all_stamps, info.insertion_requests, info.to_graph()]
    for node in info.nodes:
        seen += [node.duration, info.node(node.id), info.get_info(node.id).nodes]
    seen += [info.to_json(), repr(info)]
    return seen


def load_and_view(path: Path) -> None:
    try:
        info = rc.ExecutionInfo.load(path)
    except rc.SavedRunError as error:
        message = str(error)
    else:
        every_view(info)
        return
    assert str(path) in message  # the error says which file


def test_a_good_file_has_every_view(tmp_path: Path, good_document: dict[str, Any]) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(good_document))
    info = rc.ExecutionInfo.load(path)
    every_view(info)
    assert info.answer == [1, 2]
    assert info.usage == {"input_tokens": 3, "output_tokens": 4, "cost": 0.5}


# --- any field replaced by any value ---------------------------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_field_replaced_by_any_value(
    tmp_path: Path, good_document: dict[str, Any], data: st.DataObject
) -> None:
    target = tmp_path / "fuzzed.json"
    target.write_text(json.dumps(data.draw(fuzzed_runs.broken_documents(good_document))))
    load_and_view(target)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_cut_and_flipped_bytes(
    tmp_path: Path, good_document: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(json.dumps(good_document).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from(b'{}[]",:0123456789-.eE \\ntfu\xff'))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    target = tmp_path / "flipped.json"
    target.write_bytes(bytes(raw))
    load_and_view(target)


# --- literals, special files, sizes -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("started_at", "9" * 5000),  # over CPython's 4300-digit limit for int()
        ("started_at", "1e400"),  # a float literal that parses as inf
        ("started_at", "NaN"),
        ("started_at", "-Infinity"),
        ("ended_at", "1" + "0" * 30),  # an int, but no time
    ],
)
def test_literals_python_cannot_hold(
    tmp_path: Path, good_document: dict[str, Any], field: str, literal: str
) -> None:
    text = json.dumps({**good_document, field: "HOLE"}).replace('"HOLE"', literal)
    target = tmp_path / "literal.json"
    target.write_text(text)
    with pytest.raises(rc.SavedRunError, match=r"literal\.json"):
        rc.ExecutionInfo.load(target)


def test_huge_numbers_in_node_columns(tmp_path: Path, good_document: dict[str, Any]) -> None:
    nodes = {**good_document["nodes"], "start_us": [10**300] * len(good_document["nodes"]["type"])}
    target = tmp_path / "huge.json"
    target.write_text(json.dumps({**good_document, "nodes": nodes}))
    with pytest.raises(rc.SavedRunError, match=r"nodes\.start_us\[0\] should be an integer"):
        rc.ExecutionInfo.load(target)


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(rc.SavedRunError, match="not a regular file"):
        rc.ExecutionInfo.load(fifo)


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(rc.SavedRunError, match="not a regular file"):
        rc.ExecutionInfo.load(link)


def test_a_file_over_the_size_limit_is_refused(
    tmp_path: Path, good_document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "big.json"
    target.write_text(json.dumps(good_document))
    monkeypatch.setattr(persistence, "MAX_FILE_BYTES", target.stat().st_size - 1)
    with pytest.raises(rc.SavedRunError, match=r"over the .* a saved run may have"):
        rc.ExecutionInfo.load(target)
    monkeypatch.setattr(persistence, "MAX_FILE_BYTES", target.stat().st_size)
    assert rc.ExecutionInfo.load(target).answer == [1, 2]


def test_the_documented_limit() -> None:
    assert persistence.MAX_FILE_BYTES == 256 * 1024 * 1024
