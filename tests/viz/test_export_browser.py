"""The exported one-file run, opened from disk in a browser with the network blocked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from viz_runs import HOSTILE, make_agent_run, make_hostile_run, shot

from requestcompletion.cli import main
from requestcompletion.viz import export_html


def _offline(page: Any) -> list[str]:
    """Block every request that is not the file itself; return the URLs that were tried."""
    tried: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
        else:
            tried.append(url)
            route.abort()

    page.context.route("**/*", route)
    return tried


def test_the_exported_file_shows_the_run_from_disk_with_no_network(
    page: Any, runs_dir: Path, tmp_path: Path, capsys: Any
) -> None:
    make_agent_run(runs_dir)
    target = tmp_path / "bug-report.html"
    assert (
        main(["viz", "--export", "agent-run", "-o", str(target), "--state-dir", str(runs_dir)]) == 0
    )
    assert str(target) in capsys.readouterr().out
    tried = _offline(page)
    page.goto(target.as_uri())
    page.wait_for_selector(".row[data-id='2']")
    assert "agent-run" in page.locator("#summary").inner_text()
    page.click(".row[data-id='0']")
    assert "Lima is warmer." in page.locator("#detail pre.output").inner_text()
    assert page.locator("#detail .conversation .msg").count() >= 4
    page.click("button[data-tab='timeline']")
    assert page.locator(".bar").count() == 3
    assert tried == []
    shot(page, "export")


def test_saved_text_cannot_close_the_exports_data_block(
    page: Any, runs_dir: Path, tmp_path: Path
) -> None:
    target = export_html(make_hostile_run(runs_dir), tmp_path / "hostile.html")
    html = target.read_text()
    assert "</script><img" not in html and "\x1b" not in html
    _offline(page)
    page.goto(target.as_uri())
    page.wait_for_selector(".row[data-id='1']")
    page.click(".row[data-id='1']")
    assert "<script>window.pwned = 1</script>" in page.locator("#detail pre.error").inner_text()
    assert page.evaluate("window.pwned") is None
    assert HOSTILE not in page.content()
