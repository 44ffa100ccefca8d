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
import shutil
from pathlib import Path
from typing import Any

import requestcompletion as rc

RUNS = Path(__file__).parent / "fixtures" / "runs"


def _document(path: Path) -> dict[str, Any]:
    document = rc.ExecutionInfo.load(path).to_document()
    del document["journal"]["path"]
    return json.loads(json.dumps(document))  # tuples as lists, as in the expected file


def test_a_version_1_journal_loads_as_it_did_when_it_was_written(tmp_path: Path) -> None:
    copy = tmp_path / "v1.journal"
    shutil.copy(RUNS / "interrupted-v1.journal", copy)
    expected = json.loads((RUNS / "interrupted-v1.expected.json").read_text())
    assert _document(copy) == expected
    info = rc.ExecutionInfo.load(copy)
    assert info.outcome == "interrupted" and not info.journal_torn
    assert [n.status for n in info.nodes].count("succeeded") == 8
