"""The viewer on waiting runs, resumed runs and budgets, in a real browser.

A run stopped at `rc.ask` questions shows them (id, asking node, question, schema) in
the list and on its page, the same from the journal of a process that waits; a
resumed run says what it resumed and marks replayed nodes; a run under an
`rc.Budget` shows what it spent against each limit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from viz_runs import HOSTILE, copy_fixture, own_thread, shot

import requestcompletion as rc
from helpers import copying_journal_while_waiting
from requestcompletion.human import QuestionPending
from requestcompletion.testing import ScriptedModel
from requestcompletion.viz import Viewer


def _lookup(order: str) -> str:
    return f"{order} was paid"


async def _refund(order: str) -> str:
    agent = rc.agent_node("clerk", llm=ScriptedModel([f"checked {order}"]))
    checked = (await rc.call(agent, order)).text
    paid = await rc.call(_lookup, order)
    amount = await rc.ask(f"refund how much for {order}?", schema=int)
    return f"{checked}, {paid}: {amount}"


async def _refunds() -> list[str]:
    return list(await rc.batch(_refund, ["order <8>", "order 9"]))


@own_thread
def make_waiting_and_resumed(folder: Path) -> dict[str, str]:
    """'waiting': two open questions under a budget; 'resumed': one answered, one open;
    'journal/waiting.journal': the journal of a run while it waits. Their question ids."""
    quiet: dict[str, Any] = {"state_dir": folder, "logging_setting": "NONE"}
    budget = rc.Budget(max_model_calls=5, max_nodes=50)
    first = rc.Runner(run_identifier="waiting", budget=budget, **quiet)
    with first, pytest.raises(QuestionPending):
        first.run_sync(_refunds)
    info = rc.ExecutionInfo.load(folder / "waiting.json")
    ids = {
        q["question"]: q["id"] for n in info.nodes for q in (n.extras or {}).get("questions", ())
    }
    answers = {ids["refund how much for order 9?"]: 4}
    resumed = rc.Runner.from_state(
        folder / "waiting.json", answers=answers, run_identifier="resumed", **quiet
    )
    with resumed, pytest.raises(QuestionPending):
        resumed.run_sync(_refunds)
    journal_copy = folder / "journal" / "live.journal"
    journal_copy.parent.mkdir()

    human = copying_journal_while_waiting(folder / "live.journal", journal_copy)
    live = rc.Runner(human=human, run_identifier="live", state_dir=folder, logging_setting="NONE")
    with live, pytest.raises(QuestionPending):
        live.run_sync(_refund, "order 7")
    (folder / "live.json").unlink()
    shutil.move(journal_copy, folder / "live.journal")  # as if its process had died waiting
    return ids


def test_waiting_runs_show_their_open_questions_and_a_budget_its_spend(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    ids = make_waiting_and_resumed(runs_dir)
    page.goto(viewer.url)
    page.wait_for_selector("tr[data-run='live']")
    assert "waiting (2 open questions)" in page.locator("tr[data-run='waiting']").inner_text()
    assert "waiting (1 open questions)" in page.locator("tr[data-run='resumed']").inner_text()
    assert "(1 open questions)" in page.locator("tr[data-run='live']").inner_text()

    page.goto(viewer.url + "#/run/waiting")
    page.wait_for_selector("#questions")
    rows = page.locator("#questions tr")
    assert rows.count() == 2
    for question, question_id in ids.items():
        row = page.locator(f"#questions tr[data-question='{question_id}']").inner_text()
        assert question in row and "_refund #" in row and '"type": "integer"' in row
    assert page.locator("#questions script").count() == 0  # "<8>" stays text
    budget = page.locator("#budget").inner_text()
    assert "model_calls 2 of 5" in budget and "nodes" in budget and "of 50" in budget
    shot(page, "waiting-questions")
    asker = ids["refund how much for order 9?"].split(".")[0]
    page.click(f".row[data-id='{asker}']")
    detail = page.locator("#detail").inner_text()
    assert "questions" in detail and "refund how much for order 9?" in detail and "open" in detail

    page.goto(viewer.url + "#/run/resumed")
    page.wait_for_selector("#questions")
    assert "resumed from waiting" in page.locator("#summary").inner_text()
    [still_open] = [q for q in page.locator("#questions tr").all_inner_texts()]
    assert "order <8>" in still_open
    assert page.locator(".badge.replayed").count() == 2  # the two lookups
    again = rc.ExecutionInfo.load(runs_dir / "resumed.json")
    [answered] = [n.id for n in again.nodes if n.name == "_refund" and n.args == ("order 9",)]
    page.click(f".row[data-id='{answered}']")
    detail = page.locator("#detail").inner_text()
    assert "refund how much for order 9?" in detail and "answered" in detail
    assert page.locator("#detail .question pre").inner_text() == "4"
    assert page.locator("#budget").count() == 0  # the resumed run was given no budget

    page.goto(viewer.url + "#/run/live")
    page.wait_for_selector("#questions")
    assert "refund how much for order 7?" in page.locator("#questions").inner_text()


async def _talker() -> str:
    for word in ("first <i>item</i>", "second"):
        await rc.stream(word)
    return "done"


@own_thread
def make_streaming_run(folder: Path) -> None:
    with rc.Runner(run_identifier="streamed", state_dir=folder, logging_setting="NONE") as runner:
        runner.run_sync(_talker)


def test_a_nodes_streamed_items_are_shown_as_text_in_its_detail(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    make_streaming_run(runs_dir)
    page.goto(viewer.url + "#/run/streamed")
    page.click(".row[data-id='0']")
    detail = page.locator("#detail")
    detail.locator("pre", has_text="second").wait_for()
    assert "[object" not in detail.inner_text()  # each item drawn, not a list's toString
    items = detail.locator("pre").all_inner_texts()
    assert "first <i>item</i>" in items and "second" in items


def test_odd_budget_and_question_fields_are_shown_as_text(
    page: Any, viewer: Viewer, runs_dir: Path
) -> None:
    saved = json.loads(copy_fixture("simple-v1", runs_dir).read_text())
    saved["budget"] = {
        "limits": {"max_<b>x</b>": {"a": 1}, "__proto__": 5, "max_tokens": 9},
        "spent": {"tokens": 3},
        "reserved": {"__proto__": 1, "tokens": "<i>2</i>"},
    }
    saved["extras"]["0"] = {
        "questions": [{"id": "0.0", "question": HOSTILE, "status": "open", "schema": {"$x": 1}}]
    }
    (runs_dir / "simple-v1.json").write_text(json.dumps(saved))
    page.goto(viewer.url + "#/run/simple-v1")
    page.wait_for_selector("#questions")
    budget = page.locator("#budget").inner_text()
    assert "tokens 3 of 9 (+<i>2</i> reserved)" in budget
    assert "__proto__ ? of 5" in budget  # what the file holds, never the prototype's
    assert HOSTILE.split("\x1b")[0] in page.locator("#questions").inner_text()
    assert page.locator("#summary b").count() == 2  # the run's id and the questions' heading
    assert page.locator("#summary i, #summary img, #summary script").count() == 0
    assert page.evaluate("window.pwned") is None
