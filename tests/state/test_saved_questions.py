"""A saved run's questions and model calls, and a journal's lines, are checked on load.

Resuming reads them (`from_state(answers=)` lists the open questions, replay reads the
recorded model calls) and so do `runs` and `show`: a file whose questions were not a
list of question objects made `from_state` raise TypeError/AttributeError and made
`runs` stop with an internal error instead of listing the other runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_load_safe import every_view

import fuzzed_runs
import requestcompletion as rc
from helpers import copying_journal_while_waiting
from requestcompletion.human import QuestionPending

BAD_QUESTIONS: list[Any] = [
    None,
    1,
    "x",
    {"a": 1},
    [1],
    [None],
    [{}],
    [{"id": 1, "question": "q", "status": "open"}],
    [{"id": ["1.0"], "question": "q", "status": "open"}],
    [{"id": "1.0", "question": ["q"], "status": "open"}],
    [{"id": "1.0", "question": "q", "status": []}],
    [{"id": "1.0", "question": "q"}],
]
BAD_MODEL_CALLS: list[Any] = ["x", [1], [{"digest": 1, "response": {}}], [{"digest": "d"}]]


async def _asks() -> int:
    answer: int = await rc.ask("how many?", schema=int)
    return answer


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """A run waiting on one question: its saved document, and a copy of its journal
    taken while it waited."""
    folder = tmp_path_factory.mktemp("waiting")
    journal_copy = folder / "copy" / "w.journal"
    journal_copy.parent.mkdir()

    human = copying_journal_while_waiting(folder / "w.journal", journal_copy)
    runner = rc.Runner(human=human, state_dir=folder, run_identifier="w", logging_setting="NONE")
    with runner, pytest.raises(QuestionPending):
        runner.run_sync(_asks)
    return json.loads((folder / "w.json").read_text()), journal_copy


def _refused_everywhere(path: Path, where: str) -> None:
    with pytest.raises(rc.SavedRunError, match=where):
        rc.ExecutionInfo.load(path)
    with pytest.raises(rc.SavedRunError, match=where):
        rc.Runner.from_state(path, answers={"0.0": 1})
    for command in (["show", str(path)], ["runs", "--state-dir", str(path.parent)]):
        done = subprocess.run(
            [sys.executable, "-m", "requestcompletion", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.returncode == 0 and "unreadable" in done.stdout  # `runs` lists it so


@pytest.mark.parametrize(
    ("field", "value"),
    [("questions", q) for q in BAD_QUESTIONS] + [("model_calls", c) for c in BAD_MODEL_CALLS],
    ids=repr,
)
def test_malformed_questions_or_model_calls_in_a_saved_run_are_a_saved_run_error(
    tmp_path: Path, waiting: tuple[dict[str, Any], Path], field: str, value: Any
) -> None:
    document = json.loads(json.dumps(waiting[0]))
    document["extras"]["0"][field] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    _refused_everywhere(path, rf"extras\['0'\]\.{field}")


@pytest.mark.parametrize(
    "line",
    [
        ["E", 0, {"questions": "x"}],
        ["E", 0, {"questions": [{"id": "0.1", "question": 5, "status": "open"}]}],
        ["E", 0, {"model_calls": [None]}],
        ["Q", 0, 1, ["0.1"], "again?", None],
    ],
    ids=repr,
)
def test_malformed_questions_in_a_journal_are_a_saved_run_error(
    tmp_path: Path, waiting: tuple[dict[str, Any], Path], line: list[Any]
) -> None:
    path = tmp_path / "bad.journal"
    shutil.copy(waiting[1], path)
    assert rc.ExecutionInfo.load(path).outcome == "interrupted"  # the copy itself is good
    with path.open("a") as journal:
        journal.write(json.dumps(line) + "\n")
    _refused_everywhere(path, r"extras\['0'\]")


@pytest.mark.parametrize(
    ("kind", "place", "value"),
    [
        ("T", 2, ["a name"]),  # the node type's name
        ("T", 3, {"a": "key"}),  # its key: replay indexes by it
        ("R", 6, None),  # args
        ("R", 7, True),  # kwargs
        ("R", 5, [1]),  # the step
    ],
    ids=repr,
)
def test_a_journal_line_of_the_wrong_shape_is_a_saved_run_error(
    tmp_path: Path, waiting: tuple[dict[str, Any], Path], kind: str, place: int, value: Any
) -> None:
    rows = [json.loads(line) for line in waiting[1].read_text().splitlines()]
    row = next(r for r in rows if r[0] == kind)
    row[place] = value
    path = tmp_path / "bad.journal"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _refused_everywhere(path, "call 0")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_resuming_a_fuzzed_journal_runs_or_is_a_saved_run_error(
    waiting: tuple[dict[str, Any], Path], data: st.DataObject
) -> None:
    rows = [json.loads(line) for line in waiting[1].read_text().splitlines()]
    i = data.draw(st.integers(0, len(rows) - 1))
    place = data.draw(st.sampled_from(fuzzed_runs.paths(rows[i])[1:]))
    rows[i] = fuzzed_runs.replaced(rows[i], place, data.draw(fuzzed_runs.JSON_VALUES))
    folder = Path(tempfile.mkdtemp())
    path = folder / "fuzzed.journal"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        every_view(rc.ExecutionInfo.load(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # it went another way: fine
            runner = rc.Runner.from_state(
                path, human=lambda q: 5, save_state=False, logging_setting="NONE"
            )
            with runner:
                runner.run_sync(_asks)
    except (rc.SavedRunError, KeyError):
        pass  # refused, with what is wrong and where
    finally:
        shutil.rmtree(folder)
