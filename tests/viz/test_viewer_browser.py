"""The viewer in a real browser: list, tree, detail, timeline, conversation, diff, big runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from viz_runs import (
    HOSTILE,
    SHOTS,
    copy_fixture,
    make_agent_run,
    make_big_run,
    make_hostile_run,
    make_pair,
    make_parallel_run,
    make_rerun_pair,
    shot,
)

from requestcompletion.viz import Viewer


def _open(page: Any, viewer: Viewer, run_id: str, node: int) -> None:
    """Open a run's page and wait until its tree shows `node`."""
    page.goto(viewer.url + "#/run/" + run_id)
    page.wait_for_selector(f".row[data-id='{node}']")


def test_the_list_shows_each_run_and_a_corrupt_file_as_unreadable(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    copy_fixture("cli-demo-scripted-v1", runs_dir)
    copy_fixture("cli-failed-v1", runs_dir)
    for outcome in ("waiting", "interrupted"):
        saved = json.loads(copy_fixture("simple-v1", runs_dir).read_text())
        saved["run_id"], saved["outcome"] = outcome, outcome
        (runs_dir / f"{outcome}.json").write_text(json.dumps(saved))
    (runs_dir / "simple-v1.json").unlink()
    (runs_dir / "torn.json").write_text('{"schema_version": 1, "run_id": "torn", "nod')
    (runs_dir / "not-a-run.json").write_text("[1, 2, 3]")
    page.goto(viewer.url)
    page.wait_for_selector("tr[data-run='cli-failed-v1']")
    demo = page.locator("tr[data-run='cli-demo-scripted-v1']").inner_text()
    assert "succeeded" in demo and "\t9\t" in demo and "157" in demo  # outcome, nodes, tokens
    assert "failed" in page.locator("tr[data-run='cli-failed-v1']").inner_text()
    for outcome in ("waiting", "interrupted"):
        assert page.locator(f"tr[data-run='{outcome}'] .st-{outcome}").inner_text() == outcome
    torn = page.locator("tr[data-run='torn']")
    assert "unreadable" in torn.inner_text() and "not valid JSON" in torn.inner_text()
    assert (
        "not a saved requestcompletion run" in page.locator("tr[data-run='not-a-run']").inner_text()
    )
    shot(page, "list")
    # the server stayed up: a good run still opens
    page.click("a[href='#/run/cli-demo-scripted-v1']")
    page.wait_for_selector(".row[data-id='8']")


def test_a_node_expands_and_shows_its_inputs_output_error_and_traceback(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    copy_fixture("simple-v1", runs_dir)
    _open(page, viewer, "simple-v1", 2)
    page.click(".row[data-id='0'] .toggle")  # collapse the root: its children go away
    assert page.locator(".row[data-id='2']").count() == 0
    page.click(".row[data-id='0'] .toggle")
    page.click(".row[data-id='2']")
    detail = page.locator("#detail")
    assert "failed" in detail.locator("dl").inner_text()
    assert "ValueError: cannot double -3" in detail.locator("pre.error").inner_text()
    assert "Traceback (most recent call last)" in detail.locator("pre.traceback").inner_text()
    assert "-3" in detail.locator("pre.inputs").inner_text()
    assert "latency" in detail.inner_text()
    shot(page, "tree-detail")


def test_search_and_status_filter_keep_matches_and_their_ancestors(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    copy_fixture("cli-demo-scripted-v1", runs_dir)
    _open(page, viewer, "cli-demo-scripted-v1", 8)
    page.fill("#search", "weather")
    page.wait_for_function("() => document.querySelectorAll('.row').length === 5")
    ids = page.eval_on_selector_all(".row", "rows => rows.map(r => r.dataset.id)")
    assert ids == ["0", "1", "2", "3", "4"]  # PlanTrip and the researcher lead to the matches
    page.fill("#search", "")
    page.select_option("#status", "failed")
    page.wait_for_function("() => document.querySelectorAll('.row').length === 0")


def test_the_timeline_draws_a_bar_per_node_and_parallel_bars_overlap(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_parallel_run(runs_dir, n=4)
    _open(page, viewer, "parallel-run", 4)
    page.click("button[data-tab='timeline']")
    page.wait_for_selector(".bar")
    boxes = page.eval_on_selector_all(
        ".row",
        "rows => rows.map(r => { const b = r.querySelector('.bar').getBoundingClientRect();"
        " return [Number(r.dataset.id), b.left, b.right]; })",
    )
    assert sorted(b[0] for b in boxes) == [0, 1, 2, 3, 4]  # one bar per node
    leaves = [b for b in boxes if b[0] != 0]
    latest_start = max(b[1] for b in leaves)
    earliest_end = min(b[2] for b in leaves)
    assert latest_start < earliest_end  # all four calls ran at one moment
    shot(page, "timeline")


def test_an_agents_detail_shows_its_conversation_tokens_and_tool_calls(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_agent_run(runs_dir)
    _open(page, viewer, "agent-run", 2)
    page.click(".row[data-id='0']")
    detail = page.locator("#detail")
    talk = detail.locator(".conversation")
    assert talk.locator(".msg.user").inner_text().endswith("Which city is warmer?")
    calls = talk.locator(".toolcall").all_inner_texts()
    assert len(calls) == 2 and "Paris" in calls[0] and "Lima" in calls[1]
    assert "Lima: 20°C" in talk.locator(".msg.tool").nth(1).inner_text()
    assert "Lima is warmer." in detail.locator("pre.output").inner_text()
    assert re.search(r"tokens\s*\d+ in / \d+ out", detail.locator("dl").inner_text())
    shot(page, "conversation")


def test_saved_markup_and_control_characters_are_shown_as_text(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_hostile_run(runs_dir)
    _open(page, viewer, "hostile-run", 1)
    for node in ("0", "1"):
        page.click(f".row[data-id='{node}']")
        page.wait_for_selector("#detail pre.inputs")
    detail = page.locator("#detail")
    assert "<script>window.pwned = 1</script>" in detail.locator("pre.error").inner_text()
    assert "\\u001b[31m" in detail.locator("pre.inputs").inner_text()  # the escape, visibly
    assert detail.locator("script, img, b").count() == 0
    assert page.evaluate("window.pwned") is None
    assert HOSTILE not in page.content()  # no raw control character reached the page


def test_the_diff_of_two_runs_marks_what_changed_and_opens_from_the_list(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_pair(runs_dir)
    page.goto(viewer.url)
    page.wait_for_selector("tr[data-run='after']")
    assert page.locator("#compare").is_disabled()
    page.check("tr[data-run='before'] input")
    page.check("tr[data-run='after'] input")
    page.click("#compare")
    page.wait_for_selector(".row[data-pair]")
    rows = page.eval_on_selector_all(
        ".row[data-pair]",
        "rows => rows.map(r => [r.querySelector('.label').textContent.trim(),"
        " [...r.querySelectorAll('.badge')].map(b => b.textContent)])",
    )
    labels = [label for label, _ in rows]
    assert labels[0] == "_pipeline" and labels.count("_score") == 3
    # latency is left out: these calls take microseconds, and their jitter is not a change
    changes = [[b for b in badges if b != "latency changed"] for _, badges in rows]
    assert "output changed" in changes[0]  # the root's total differs
    assert changes[1] == []  # _score(1) matched unchanged
    assert "inputs changed" in changes[2]  # _score(2) became _score(5)
    assert {"inputs changed", "status changed", "error changed"} <= set(changes[3])
    page.click(".row[data-pair='3']")
    sides = page.locator("#diffdetail .detail").all_inner_texts()
    assert "ValueError" in sides[0] and "ValueError" not in sides[1]
    shot(page, "diff")


def test_a_rerun_shows_its_replayed_nodes_and_diffs_cleanly_against_the_original(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    first, again = make_rerun_pair(runs_dir)
    page.goto(viewer.url + "#/run/again")
    page.wait_for_selector(".row[data-id]")
    replayed = page.eval_on_selector_all(
        ".row[data-id]",
        "rows => rows.filter(r => r.querySelector('.badge.replayed'))"
        ".map(r => r.querySelector('.name').textContent.trim())",
    )
    # the re-run _rerun_mid(1) and its ancestor ran live; the other calls replayed
    assert sorted(replayed) == sorted(n.name for n in again.nodes if n.replayed)
    assert replayed.count("_rerun_mid") == 2 and "_rerun_top" not in replayed
    page.goto(viewer.url + "#/diff/first/again")
    page.wait_for_selector(".row[data-pair]")
    badges = page.eval_on_selector_all(
        ".row[data-pair]",
        "rows => rows.map(r => [...r.querySelectorAll('.badge')].map(b => b.textContent))",
    )
    assert len(badges) == len(first.nodes) == len(again.nodes)
    assert not any(b in ("inputs changed", "output changed") for row in badges for b in row)
    shot(page, "diff-rerun")


def test_a_10000_node_run_opens_fast_and_the_tree_stays_virtualised(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_big_run(runs_dir)
    page.goto(viewer.url + "#/run/big-run")
    page.wait_for_function("() => window.rcFirstRender !== undefined")
    first_render_ms = page.evaluate("window.rcFirstRender")
    assert page.locator("#summary").inner_text().count("10000 nodes") == 1
    drawn = page.locator(".row").count()
    assert 0 < drawn < 100  # only the rows in view exist
    page.click(".row[data-id='1'] .toggle")  # open every group: thousands of rows
    page.fill("#search", "_leaf")
    page.wait_for_function(
        "() => document.querySelector('.spacer').style.height === (10000 * 24) + 'px'"
    )
    page.eval_on_selector(".vlist", "box => { box.scrollTop = box.scrollHeight; }")
    page.wait_for_selector(".row[data-id='9999']")
    assert page.locator(".row").count() < 100
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "big-run-first-render.txt").write_text(f"{first_render_ms:.0f} ms\n")
    print(f"10,000-node run: first render {first_render_ms:.0f} ms after navigation")
    shot(page, "big-run")
