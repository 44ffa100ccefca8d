"""A saved run's questions and model calls are checked on load, like every other field.

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
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from requestcompletion.context import current_runner
from requestcompletion.human import DEFER, Question, QuestionPending

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

    async def human(question: Question) -> Any:
        runner = current_runner.get()
        assert runner is not None and runner.state.journal is not None
        await runner.state.journal.barrier()
        shutil.copy(folder / "w.journal", journal_copy)
        return DEFER

    runner = rc.Runner(human=human, state_dir=folder, run_identifier="w", logging_setting="NONE")
    with runner, pytest.raises(QuestionPending):
        runner.run_sync(_asks)
    return json.loads((folder / "w.json").read_text()), journal_copy


def _refused_everywhere(path: Path, where: str) -> None:
    with pytest.raises(rc.SavedRunError, match=where):
        rc.ExecutionInfo.load(path)
    with pytest.raises(rc.SavedRunError, match=where):
        rc.Runner.from_state(path, answers={"0.0": 1})
    for command in (["runs", "--state-dir", str(path.parent)], ["show", str(path)]):
        done = subprocess.run(
            [sys.executable, "-m", "requestcompletion", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "requestcompletion", "runs", "--state-dir", str(path.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and "unreadable" in listed.stdout


@pytest.mark.parametrize("questions", BAD_QUESTIONS, ids=repr)
def test_malformed_questions_in_a_saved_run_are_a_saved_run_error(
    tmp_path: Path, waiting: tuple[dict[str, Any], Path], questions: Any
) -> None:
    document = json.loads(json.dumps(waiting[0]))
    document["extras"]["0"]["questions"] = questions
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    _refused_everywhere(path, r"extras\['0'\]\.questions")


@pytest.mark.parametrize("calls", BAD_MODEL_CALLS, ids=repr)
def test_malformed_model_calls_in_a_saved_run_are_a_saved_run_error(
    tmp_path: Path, waiting: tuple[dict[str, Any], Path], calls: Any
) -> None:
    document = json.loads(json.dumps(waiting[0]))
    document["extras"]["0"]["model_calls"] = calls
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    _refused_everywhere(path, r"extras\['0'\]\.model_calls")


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
