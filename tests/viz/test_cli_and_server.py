"""`requestcompletion viz` as a user starts it, and what the server refuses."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from viz_runs import copy_fixture

from requestcompletion.cli import main
from requestcompletion.viz import Viewer


def _get(url: str, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    netloc = url.removeprefix("http://").rstrip("/")
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host} if host else {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("named", "page"),
    [
        (["simple"], "#/run/simple-v1"),  # a unique start of an id names the run
        (["--diff", "simple-v1", "cli-failed"], "#/diff/simple-v1/cli-failed-v1"),
        ([], ""),
    ],
)
def test_the_command_prints_the_url_and_serves_the_runs(
    runs_dir: Path, named: list[str], page: str
) -> None:
    copy_fixture("simple-v1", runs_dir)
    copy_fixture("cli-failed-v1", runs_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "requestcompletion", "viz", *named, "--state-dir", str(runs_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("run viewer: http://127.0.0.1:"), line
        url = line.split()[2]
        assert url.endswith("/" + page)
        status, _, body = _get(url.split("#")[0], "/api/runs")
        assert status == 200
        assert {run["id"] for run in json.loads(body)} == {"simple-v1", "cli-failed-v1"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_a_non_loopback_host_is_refused_unless_allowed(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["viz", "--host", "0.0.0.0", "--state-dir", str(runs_dir)]) == 1
    error = capsys.readouterr().err
    assert "'0.0.0.0'" in error and "--allow-remote" in error
    with pytest.raises(ValueError, match="allow_remote=True"):
        Viewer(runs_dir, host="192.0.2.1")
    with Viewer(runs_dir, host="0.0.0.0", allow_remote=True) as viewer:
        assert viewer.url.startswith("http://0.0.0.0:")


def test_an_unknown_run_for_the_command_is_one_clear_line(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["viz", "--export", "nope", "--state-dir", str(runs_dir)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err


def test_the_server_answers_only_for_its_own_host_name(runs_dir: Path) -> None:
    copy_fixture("simple-v1", runs_dir)
    with Viewer(runs_dir) as viewer:
        status, headers, _ = _get(viewer.url, "/")
        assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
        # a site whose name resolves to 127.0.0.1 (DNS rebinding) reads nothing
        status, _, body = _get(viewer.url, "/api/runs", host="evil.example:80")
        assert status == 403 and b"evil.example" in body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/runs/..%2F..%2Fetc%2Fpasswd", 404),
        ("/api/runs/nope", 404),
        ("/api/diff?a=simple-v1&b=nope", 404),
        ("/api/runs/torn", 422),
        ("/nothing-here", 404),
    ],
)
def test_bad_requests_get_a_clear_json_error(runs_dir: Path, path: str, status: int) -> None:
    copy_fixture("simple-v1", runs_dir)
    (runs_dir / "torn.json").write_text("{")
    with Viewer(runs_dir) as viewer:
        got, _, body = _get(viewer.url, path)
        assert got == status
        assert json.loads(body)["error"]
        assert _get(viewer.url, "/api/runs/simple-v1")[0] == 200  # still serving


def test_a_file_cut_short_anywhere_is_listed_or_refused_never_a_crash(runs_dir: Path) -> None:
    whole = copy_fixture("cli-demo-scripted-v1", runs_dir).read_text()
    with Viewer(runs_dir) as viewer:
        for cut in range(0, len(whole), max(1, len(whole) // 60)):
            (runs_dir / "cli-demo-scripted-v1.json").write_text(whole[:cut])
            status, _, body = _get(viewer.url, "/api/runs")
            assert status == 200
            (entry,) = json.loads(body)
            assert "not valid JSON" in entry["unreadable"] or "not a" in entry["unreadable"]
            status, _, body = _get(viewer.url, "/api/runs/cli-demo-scripted-v1")
            assert status == 422 and json.loads(body)["unreadable"]


def test_a_run_id_saved_twice_is_listed_and_served_once_per_file(runs_dir: Path) -> None:
    first = copy_fixture("simple-v1", runs_dir)
    (runs_dir / "simple-v1.2.json").write_text(first.read_text())  # how a taken id is saved
    with Viewer(runs_dir) as viewer:
        listing = json.loads(_get(viewer.url, "/api/runs")[2])
        assert sorted(e["id"] for e in listing) == ["simple-v1", "simple-v1.2"]
        assert {e["run_id"] for e in listing} == {"simple-v1"}
        status, _, body = _get(viewer.url, "/api/runs/simple-v1.2")
        assert status == 200 and json.loads(body)["summary"]["id"] == "simple-v1"


def test_a_symlink_out_of_the_state_folder_is_listed_as_not_followed_and_never_served(
    runs_dir: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = copy_fixture("simple-v1", elsewhere)
    (runs_dir / "leak.json").symlink_to(secret)
    (runs_dir / "zero.json").symlink_to("/dev/zero")
    inside = copy_fixture("cli-failed-v1", runs_dir)
    (runs_dir / "alias.json").symlink_to(inside)  # a link that stays inside is read
    with Viewer(runs_dir) as viewer:
        status, _, body = _get(viewer.url, "/api/runs")
        listing = {entry["id"]: entry for entry in json.loads(body)}
        for name in ("leak", "zero"):
            assert "outside the state folder; not followed" in listing[name]["unreadable"]
            status, _, body = _get(viewer.url, f"/api/runs/{name}")
            assert status == 422 and b"not followed" in body
        assert "unreadable" not in listing["alias"]
        assert _get(viewer.url, "/api/runs/alias")[0] == 200
