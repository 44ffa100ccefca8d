"""`ExecutorConfig(viz=True)`: a run prints the URL of its own page, served while it goes on."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import requestcompletion as rc
from requestcompletion.viz import live


async def _child(i: int) -> int:
    return i * 2


async def _parent(n: int) -> int:
    return sum(await rc.batch(_child, range(n), return_exceptions=False))


@pytest.fixture(autouse=True)
def _no_viewer_left() -> Iterator[None]:
    yield
    live.close_viewers()  # the process's viewers would otherwise serve until the suite ends


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_a_run_with_viz_prints_its_page_and_the_viewer_serves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with rc.Runner(viz=True, state_dir=tmp_path, logging_setting="NONE") as runner:
        url = re.search(
            r"run viewer: (http://127\.0\.0\.1:\d+/)#/run/(\S+)", capsys.readouterr().err
        )
        assert url is not None
        assert url.group(2) == runner.run_id
        runner.run_sync(_parent, 3)
        during = _get(f"{url.group(1)}api/runs")  # the run in progress, from its journal
    assert runner.run_id in json.dumps(during)
    after = _get(f"{url.group(1)}api/runs/{runner.run_id}")  # still served after close
    assert "_child" in json.dumps(after)
    # a second run in the same folder shares the process's one viewer
    with rc.Runner(viz=True, state_dir=tmp_path, logging_setting="NONE"):
        again = re.search(r"run viewer: (\S+)#", capsys.readouterr().err)
    assert again is not None and again.group(1) == url.group(1)
    assert live.viewer_for(tmp_path).url == url.group(1)


def test_viz_without_save_state_warns_and_starts_nothing(tmp_path: Path) -> None:
    with (
        pytest.warns(RuntimeWarning, match="save_state=False"),
        rc.Runner(viz=True, save_state=False, state_dir=tmp_path / "none"),
    ):
        pass
    assert (tmp_path / "none").resolve() not in live._viewers


def test_viz_is_a_checked_flag() -> None:
    with pytest.raises(rc.ConfigError, match="viz"):
        rc.ExecutorConfig(viz="yes")  # type: ignore[arg-type]


def test_demo_viz_prints_the_page_and_keeps_the_viewer_up_until_ctrl_c(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "requestcompletion", "demo", "--model", "scripted", "--viz"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # started as a background job would be: with SIGINT ignored, Ctrl-C must still stop it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    ) as demo:
        try:
            assert demo.stdout is not None and demo.stderr is not None
            for line in demo.stdout:
                if "stays up at" in line:
                    break
            found = re.search(r"stays up at (http://127\.0\.0\.1:\d+/)", line)
            assert found is not None, line
            runs = _get(f"{found.group(1)}api/runs")
            assert "succeeded" in json.dumps(runs)
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=30) == 0
            assert "run viewer: http://127.0.0.1:" in demo.stderr.read()
        finally:
            demo.kill()
