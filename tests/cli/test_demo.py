"""`requestcompletion demo`: end to end on the scripted model, and its model errors."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import requestcompletion as rc
from requestcompletion.cli import main


def test_demo_runs_end_to_end_on_the_scripted_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "runs"
    assert main(["demo", "--model", "scripted", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    # live progress: nodes starting and finishing, model calls with tokens, streamed text
    assert "▸ weather researcher #1 started" in out
    assert out.count("✓ get_weather #") == 3  # one turn, three calls, run in parallel
    assert out.count("✓ comfort_score #") == 3  # the fan-out
    assert "tokens in" in out
    assert "» From the tools:" in out
    assert "answer: Go to Tokyo" in out  # the structured pick
    run_id = re.search(r"requestcompletion show (\S+) --state-dir", out)
    assert run_id is not None
    saved = state_dir / f"{run_id.group(1)}.json"
    assert f"saved to {saved}" in out

    info = rc.ExecutionInfo.load(saved)
    assert info.outcome == "succeeded"
    names = [node.name for node in info.nodes]
    assert names.count("get_weather") == 3
    researcher = next(n for n in info.nodes if n.name == "weather researcher")
    calls = [n for n in info.nodes if n.name == "get_weather"]
    assert {n.parent_id for n in calls} == {researcher.id}
    assert {n.kwargs["city"] for n in calls} == {"Paris", "Tokyo", "Lima"}
    assert info.usage["input_tokens"] > 0

    assert main(["show", run_id.group(1), "--state-dir", str(state_dir)]) == 0
    assert "trip chooser" in capsys.readouterr().out


def _fails_before_any_work(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], expected: str
) -> None:
    state_dir = tmp_path / "runs"
    code = main([*argv, "--state-dir", str(state_dir)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert expected in captured.err
    assert captured.out == ""
    assert not state_dir.exists()  # no run was started


def test_unknown_provider(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_before_any_work(
        ["demo", "--model", "gemini:flash"], tmp_path, capsys, "unknown model provider 'gemini'"
    )


@pytest.mark.parametrize(
    ("spec", "key"),
    [("openai:gpt-4o-mini", "OPENAI_API_KEY"), ("anthropic:claude-x", "ANTHROPIC_API_KEY")],
)
def test_provider_without_its_key(
    spec: str,
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(key, raising=False)
    _fails_before_any_work(["demo", "--model", spec], tmp_path, capsys, f"set {key}")


def test_provider_without_a_model_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_before_any_work(["demo", "--model", "ollama"], tmp_path, capsys, "ollama:MODEL")


def test_local_without_the_extra_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a),
    )
    _fails_before_any_work(
        ["demo", "--model", "local"], tmp_path, capsys, "pip install 'requestcompletion[local]'"
    )


def test_demo_ask_asks_on_the_terminal_before_each_lookup(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "requestcompletion", "demo", "--model", "scripted", "--ask"],
        input="yes\nno\nyes\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    assert done.stdout.count("[weather researcher asks] Run tool 'get_weather'") == 3
    run_id = re.search(r"requestcompletion show (\S+)", done.stdout)
    assert run_id is not None
    info = rc.ExecutionInfo.load(tmp_path / ".covailence" / f"{run_id.group(1)}.json")
    assert info.outcome == "succeeded"
    assert [n.name for n in info.nodes].count("get_weather") == 2  # one refused: never ran
    researcher = next(n for n in info.nodes if n.name == "weather researcher")
    questions = (researcher.extras or {})["questions"]
    assert [q["answer"] for q in questions] == [True, False, True]
