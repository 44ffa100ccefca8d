"""`requestcompletion runs` and `show` on committed fixture runs, and on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from requestcompletion.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures" / "runs"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    for name in ("cli-demo-scripted-v1.json", "cli-failed-v1.json"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def test_runs_lists_every_saved_run(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    demo = next(line for line in out.splitlines() if "cli-demo-scripted-v1" in line)
    assert "succeeded" in demo
    assert " 9 " in demo  # nodes
    assert " 157 " in demo  # tokens
    failed = next(line for line in out.splitlines() if "cli-failed-v1" in line)
    assert "failed" in failed
    assert "requestcompletion show" in out


def test_runs_in_an_empty_folder_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--state-dir", str(tmp_path / "nothing")]) == 0
    assert "requestcompletion demo" in capsys.readouterr().out


def test_runs_lists_an_unreadable_file_as_such(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (state_dir / "broken.json").write_text("{not json")
    assert main(["runs", "--state-dir", str(state_dir)]) == 0
    captured = capsys.readouterr()
    assert "cli-demo-scripted-v1" in captured.out
    row = next(line for line in captured.out.splitlines() if "broken.json" in line)
    assert "unreadable" in row
    assert "not valid JSON" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_show_draws_the_call_tree(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "cli-demo-scripted-v1", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    assert "run cli-demo-scripted-v1" in out
    assert "succeeded" in out
    for name in ("PlanTrip #0", "weather researcher #1", "get_weather #2", "trip chooser #8"):
        assert name in out
    assert "70→43 tokens (offline-demo)" in out  # the researcher's model usage
    assert out.index("weather researcher #1") < out.index("get_weather #2")


def test_show_reports_errors_and_accepts_a_prefix_or_a_path(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "cli-fail", "--state-dir", str(state_dir)]) == 0
    by_prefix = capsys.readouterr().out
    assert "KeyError: 'no forecast for Atlantis'" in by_prefix
    assert "✗ lookup #1" in by_prefix
    assert main(["show", str(state_dir / "cli-failed-v1.json")]) == 0
    assert capsys.readouterr().out == by_prefix


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str], expected: str) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert expected in captured.err


def test_unknown_run_id(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(
        ["show", "no-such-run", "--state-dir", str(state_dir)], capsys, "no run 'no-such-run'"
    )


def test_ambiguous_prefix(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(["show", "cli-", "--state-dir", str(state_dir)], capsys, "matches several")


def test_corrupt_json(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (state_dir / "cli-failed-v1.json").read_text()
    (state_dir / "cut.json").write_text(text[: len(text) // 2])
    _fails_cleanly(["show", "cut", "--state-dir", str(state_dir)], capsys, "corrupt")


def test_json_that_is_not_a_run(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (state_dir / "other.json").write_text(json.dumps({"name": "a package.json, say"}))
    _fails_cleanly(["show", "other", "--state-dir", str(state_dir)], capsys, "not a saved")


def test_run_from_a_newer_schema(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads((state_dir / "cli-failed-v1.json").read_text())
    document["schema_version"] = 999
    (state_dir / "future.json").write_text(json.dumps(document))
    _fails_cleanly(["show", "future", "--state-dir", str(state_dir)], capsys, "upgrade")


def test_a_missing_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(["show", str(tmp_path / "gone.json")], capsys, "no saved run at")


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "requestcompletion", "show", "nope", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("requestcompletion: error: no run 'nope'")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [[], ["demo"], ["runs"], ["show"]])
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: requestcompletion" in out
    assert "--state-dir" in out or "COMMAND" in out
