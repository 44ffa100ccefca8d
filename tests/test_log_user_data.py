"""Log lines carry user data safely (issue 12 item 6): newlines and other control
characters in an error are escaped, so nothing a node raises can forge a log line, and
a huge error message is cut in the log while the saved run keeps all of it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import requestcompletion as rc


def test_log_lines_escape_newlines_and_cut_huge_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "x" * 50_000

    async def forge() -> None:
        raise ValueError(f"boom\n2026-01-01 INFO [RC forged] run finished\x1b[2J{huge}")

    with (
        caplog.at_level(logging.INFO, logger="RC"),
        pytest.raises(ValueError, match="forged"),
        rc.Runner(run_identifier="logs", state_dir=tmp_path) as runner,
    ):
        runner.run_sync(forge)
    failed = [r.getMessage() for r in caplog.records if "failed after" in r.getMessage()]
    assert len(failed) == 1
    line = failed[0]
    assert "\n" not in line
    assert "\x1b" not in line
    assert "boom\\n2026-01-01 INFO [RC forged]" in line
    assert len(line) < 3_000
    assert line.endswith("more characters in the saved run)")
    saved = rc.ExecutionInfo.load(tmp_path / "logs.json").nodes[0].error
    assert saved is not None
    assert saved.message.endswith(huge)  # the saved run keeps it whole
