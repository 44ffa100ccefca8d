"""`runs` and `show` on hostile folders (issue 12 item 6).

The CLI never prints a traceback and never lets saved text drive the terminal: every
control character in saved text is escaped, saved text is never read as rich markup,
one bad file is listed as unreadable while the others list, and a symlink in the
state folder that points outside it is listed as not followed (and `show` by id
refuses it; an explicit path is the user's choice and is read). Hypothesis fills
folders with broken and hostile files and runs both commands over them.
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
from requestcompletion.cli import main

HOSTILE = ["\x1b]0;owned\x07", "\x1b[2J", "a\rb", "\u202eevil", "\x9b31m"]
# what reaches a terminal must hold none of these (rich itself writes no codes to a pipe)
RAW = ["\x1b", "\x07", "\r", "\u202e", "\x9b"]


@pytest.fixture(scope="module")
def good_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return fuzzed_runs.good_document(tmp_path_factory.mktemp("good"))


def hostile_document(good: dict[str, Any], text: str) -> dict[str, Any]:
    """`good` with `text` in its run id, a node name, an error, an input, an output, a model."""
    document = json.loads(json.dumps(good))
    document["run_id"] = f"id{text}"
    document["types"][1][0] = f"leaf{text}"
    document["errors"]["1"]["message"] = f"boom{text}"
    document["errors"]["1"]["type"] = f"Err{text}"
    document["nodes"]["args"][2] = [f"in{text}"]
    document["nodes"]["output"][2] = f"out{text}"
    document["nodes"]["output"][0] = {"$type": "x", "$repr": f"repr{text}"}
    document["extras"]["1"]["llm"]["model"] = f"model{text}"
    document["outcome"] = f"odd{text}"
    return document


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_safe(output: str) -> None:
    assert "Traceback" not in output
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"


@pytest.mark.parametrize("text", HOSTILE)
def test_control_characters_are_escaped_everywhere(
    tmp_path: Path, good_document: dict[str, Any], capsys: pytest.CaptureFixture[str], text: str
) -> None:
    (tmp_path / "hostile.json").write_text(json.dumps(hostile_document(good_document, text)))
    escaped = text.encode("unicode_escape").decode()
    code, out = run_cli(["runs", "--state-dir", str(tmp_path)], capsys)
    assert code == 0
    assert_safe(out)
    assert f"id{escaped}" in out
    code, out = run_cli(["show", "hostile", "--state-dir", str(tmp_path)], capsys)
    assert code == 0
    assert_safe(out)
    collapsed = " ".join(text.split()).encode("unicode_escape").decode()  # short fields: one line
    for shown in ("id", "leaf", "boom", "Err", "in", "out", "repr", "model", "odd"):
        assert f"{shown}{escaped}" in out or f"{shown}{collapsed}" in out, shown


def test_saved_text_is_never_markup(
    tmp_path: Path, good_document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    document = hostile_document(good_document, "[/]x[bold red]")
    (tmp_path / "markup.json").write_text(json.dumps(document))
    for argv in (["runs"], ["show", "markup"]):
        code, out = run_cli([*argv, "--state-dir", str(tmp_path)], capsys)
        assert code == 0
        assert "id[/]x[bold red]" in out


def test_one_bad_file_is_listed_as_unreadable(
    tmp_path: Path, good_document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fine.json").write_text(json.dumps(good_document))
    for name, broken in {
        "name-is-a-dict": fuzzed_runs.replaced(good_document, ("types", 0, 0), {"a": 1}),
        "status-is-a-list": fuzzed_runs.replaced(good_document, ("nodes", "status", 0), []),
    }.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(broken))
    code, out = run_cli(["runs", "--state-dir", str(tmp_path)], capsys)
    assert code == 0
    assert_safe(out)
    assert any("good" in line and "succeeded" in line for line in out.splitlines())
    for name in ("name-is-a-dict", "status-is-a-list"):
        assert any(name in line and "unreadable" in line for line in out.splitlines())
    code, out = run_cli(["show", "status-is-a-list", "--state-dir", str(tmp_path)], capsys)
    assert code == 1
    assert "nodes.status[0] should be" in out
    assert_safe(out)


def test_symlinks_out_of_the_folder_are_not_followed(
    tmp_path: Path, good_document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.json").write_text(json.dumps(good_document))
    (folder / "outside.json").symlink_to(elsewhere / "secret.json")
    (folder / "real.json").write_text(json.dumps(good_document))
    (folder / "inside.json").symlink_to(folder / "real.json")  # inside the folder: followed
    code, out = run_cli(["runs", "--state-dir", str(folder)], capsys)
    assert code == 0
    assert any("outside.json" in line and "unreadable" in line for line in out.splitlines())
    assert "not followed" in out
    assert sum("succeeded" in line for line in out.splitlines()) == 2  # real and inside
    code, out = run_cli(["show", "outside", "--state-dir", str(folder)], capsys)
    assert code == 1
    assert "outside the state folder; not followed" in out
    code, out = run_cli(["show", str(folder / "outside.json")], capsys)  # an explicit path
    assert code == 0


def test_a_fifo_in_the_folder_does_not_hang_runs(
    tmp_path: Path, good_document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "fine.json").write_text(json.dumps(good_document))
    code, out = run_cli(["runs", "--state-dir", str(tmp_path)], capsys)
    assert code == 0
    assert any("pipe.json" in line and "unreadable" in line for line in out.splitlines())


# --- fuzzed folders -----------------------------------------------------------------


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_runs_and_show_on_fuzzed_folders(
    tmp_path_factory: pytest.TempPathFactory,
    good_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
) -> None:
    folder = tmp_path_factory.mktemp("fuzzed")
    count = data.draw(st.integers(1, 3))
    for i in range(count):
        document = data.draw(fuzzed_runs.broken_documents(good_document))
        if data.draw(st.booleans()) and isinstance(document, dict):
            text = data.draw(fuzzed_runs.NASTY_TEXT)
            document = hostile_document(good_document, text)
        (folder / f"run{i}.json").write_text(json.dumps(document))
    code, out = run_cli(["runs", "--state-dir", str(folder)], capsys)
    assert code == 0
    assert_safe(out)
    for i in range(count):
        code, out = run_cli(["show", f"run{i}", "--state-dir", str(folder)], capsys)
        assert code in (0, 1)
        assert_safe(out)
