"""rc.ask: the human handler answers, the run records it, an open question ends it waiting."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest

import requestcompletion as rc
from requestcompletion.human import DEFER, MAX_TRIES, Question, QuestionPending


class Order(pydantic.BaseModel):
    city: str
    count: int


async def _two_questions() -> tuple[Any, Any]:
    name = await rc.ask("your name?")
    count = await rc.ask("how many?", schema=int)
    return name, count


def test_a_sync_handler_answers_and_the_run_records_questions_and_answers(
    tmp_path: Path,
) -> None:
    seen: list[Question] = []

    def human(question: Question) -> Any:
        seen.append(question)
        return "ada" if question.schema is None else "42"

    with rc.Runner(human=human, state_dir=tmp_path, run_identifier="asked") as runner:
        info = runner.run_sync(_two_questions)
    assert info.answer == ("ada", 42)  # "42" validated into the schema: int
    assert [(q.id, q.text, q.node) for q in seen] == [
        ("0.0", "your name?", "_two_questions"),
        ("0.1", "how many?", "_two_questions"),
    ]
    saved = rc.ExecutionInfo.load(tmp_path / "asked.json")
    assert saved.outcome == "succeeded"
    questions = (saved.nodes[0].extras or {})["questions"]
    assert [(q["id"], q["status"], q["answer"]) for q in questions] == [
        ("0.0", "answered", "ada"),
        ("0.1", "answered", 42),
    ]
    assert questions[1]["schema"] == {"type": "integer"}


async def test_an_async_handler_and_a_pydantic_schema() -> None:
    async def human(question: Question) -> Any:
        await asyncio.sleep(0)
        return {"city": "Oslo", "count": "3"}

    async def order() -> Order:
        answer: Order = await rc.ask("what to ship?", schema=Order)
        return answer

    async with rc.Runner(human=human, save_state=False, logging_setting="NONE") as runner:
        info = await runner.run(order)
    assert info.answer == Order(city="Oslo", count=3)


async def test_an_answer_that_does_not_fit_is_asked_for_again() -> None:
    answers = iter(["many", "7"])
    problems: list[str | None] = []

    def human(question: Question) -> Any:
        problems.append(question.problem)
        return next(answers)

    async def count() -> int:
        answer: int = await rc.ask("how many?", schema=int)
        return answer

    async with rc.Runner(human=human, save_state=False, logging_setting="NONE") as runner:
        info = await runner.run(count)
    assert info.answer == 7
    assert problems[0] is None
    assert problems[1] is not None and "'many' does not fit" in problems[1]


async def test_answers_that_never_fit_are_a_clear_error() -> None:
    async def count() -> int:
        answer: int = await rc.ask("how many?", schema=int)
        return answer

    async with rc.Runner(
        human=lambda q: "lots", save_state=False, logging_setting="NONE"
    ) as runner:
        with pytest.raises(
            rc.HumanInputError, match=rf"question '0.0' \('how many\?'\).*{MAX_TRIES} times"
        ):
            await runner.run(count)


async def test_ask_outside_a_runner_or_a_node_is_a_context_error() -> None:
    with pytest.raises(rc.ContextError, match=r"rc\.ask"):
        await rc.ask("anyone?")
    async with rc.Runner(save_state=False, logging_setting="NONE"):
        with pytest.raises(rc.ContextError, match="inside a node"):
            await rc.ask("anyone?")
    with pytest.raises(rc.ContextError, match=r"rc\.ask_sync"):
        rc.ask_sync("anyone?")


def test_ask_sync_from_a_thread_node() -> None:
    def thread_node() -> int:
        answer: int = rc.ask_sync("how many?", schema=int)
        return answer + 1

    with rc.Runner(human=lambda q: 41, save_state=False, logging_setting="NONE") as runner:
        assert runner.run_sync(thread_node).answer == 42


async def test_ask_sync_in_async_code_is_refused() -> None:
    async def node() -> Any:
        return rc.ask_sync("how many?")

    async with rc.Runner(human=lambda q: 1, save_state=False, logging_setting="NONE") as runner:
        with pytest.raises(rc.ContextError, match=r"await rc\.ask"):
            await runner.run(node)


@pytest.mark.parametrize("human", [None, lambda q: DEFER], ids=["no handler", "deferred"])
def test_unanswered_questions_in_parallel_branches_are_all_recorded_and_the_run_waits(
    tmp_path: Path, human: Any
) -> None:
    async def branch(i: int) -> Any:
        return await rc.ask(f"question {i}?")

    async def fan() -> list[Any]:
        return await rc.batch(branch, range(3))

    with (
        rc.Runner(human=human, state_dir=tmp_path, run_identifier="waits") as runner,
        pytest.raises(QuestionPending, match=r"question '1\.0'"),  # the caller pauses too
    ):
        runner.run_sync(fan)
    saved = rc.ExecutionInfo.load(tmp_path / "waits.json")
    assert [n.status for n in saved.nodes] == ["failed"] * 4  # stopped by the open question
    assert saved.outcome == "waiting"
    open_ = [q for n in saved.nodes for q in (n.extras or {}).get("questions", ())]
    assert [(q["id"], q["question"], q["status"]) for q in open_] == [
        ("1.0", "question 0?", "open"),
        ("2.0", "question 1?", "open"),
        ("3.0", "question 2?", "open"),
    ]


def test_a_question_does_not_get_lost_in_a_nodes_except_exception() -> None:
    async def careless() -> str:
        try:
            await rc.ask("go on?")
        except Exception:  # a node that swallows errors must not swallow the pause
            return "swallowed"
        return "answered"

    with (
        rc.Runner(save_state=False, logging_setting="NONE") as runner,
        pytest.raises(QuestionPending) as caught,
    ):
        runner.run_sync(careless)
    assert caught.value.question_id == "0.0"


def test_a_bad_human_handler_is_a_config_error() -> None:
    with pytest.raises(rc.ConfigError, match="human must be a callable"):
        rc.ExecutorConfig(human="me")  # type: ignore[arg-type]


async def test_the_terminal_asks_again_until_the_answer_fits() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        pipe.write("many\n7\n")
    shown = io.StringIO()

    async def count() -> int:
        answer: int = await rc.ask("how many?", schema=int)
        return answer

    with os.fdopen(read) as stdin:
        human = rc.human.terminal(stdin=stdin, stdout=shown)
        async with rc.Runner(human=human, save_state=False, logging_setting="NONE") as runner:
            info = await runner.run(count)
    assert info.answer == 7
    text = shown.getvalue()
    assert text.count("[count asks] how many?") == 2
    assert "'many' does not fit" in text


def test_the_terminal_reads_the_real_stdin_and_an_ended_input_leaves_it_open(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        """
        import requestcompletion as rc

        async def two() -> list:
            return [await rc.ask("first?", schema=int), await rc.ask("second?")]

        human = rc.human.terminal()
        with rc.Runner(human=human, run_identifier="tty", logging_setting="NONE") as r:
            try:
                r.run_sync(two)
            except rc.human.QuestionPending as pending:
                print("pending", pending.question_id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="x\n5\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert "pending 0.1" in done.stdout
    assert done.stdout.count("[two asks] first?") == 2
    saved = rc.ExecutionInfo.load(tmp_path / ".covailence" / "tty.json")
    assert saved.outcome == "waiting"
    questions = (saved.nodes[0].extras or {})["questions"]
    assert [(q["status"], q.get("answer")) for q in questions] == [("answered", 5), ("open", None)]


def test_the_journal_keeps_questions_and_answers_of_a_killed_run(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal
        import requestcompletion as rc

        def human(question):
            if question.text == "die?":
                os.kill(os.getpid(), signal.SIGKILL)
            return 3

        async def first() -> int:
            return await rc.ask("how many?", schema=int)

        async def second() -> int:
            return await rc.ask("die?")

        with rc.Runner(human=human, run_identifier="killed", logging_setting="NONE") as r:
            r.run_sync(first)  # its end flushes the journal
            r.run_sync(second)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == -9
    info = rc.ExecutionInfo.load(tmp_path / ".covailence" / "killed.journal")
    assert info.outcome == "interrupted"
    questions = (info.nodes[0].extras or {})["questions"]
    assert questions == [
        {
            "id": "0.0",
            "question": "how many?",
            "schema": {"type": "integer"},
            "status": "answered",
            "answer": 3,
        }
    ]


def test_runs_and_show_list_the_open_questions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from requestcompletion.cli import main

    async def two() -> list[Any]:
        return [await rc.ask("first?"), await rc.ask("second one?", schema=int)]

    answers = iter(["fine", DEFER])
    with (
        rc.Runner(human=lambda q: next(answers), state_dir=tmp_path, run_identifier="open"),
        pytest.raises(QuestionPending),
    ):
        rc.call_sync(two)
    assert main(["runs", "--state-dir", str(tmp_path)]) == 0
    assert "waiting (1 open questions)" in capsys.readouterr().out
    assert main(["show", "open", "--state-dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "1 open questions (rc.ask), by id:" in shown
    assert '0.1  two: second one?  (answer: {"type": "integer"})' in shown  # what fits
    assert "first?" not in shown  # answered: not listed


def test_answers_that_never_fit_stop_a_batch_instead_of_being_a_branch_value(
    tmp_path: Path,
) -> None:
    async def branch(i: int) -> int:
        answer: int = await rc.ask(f"how many for {i}?", schema=int)
        return answer

    async def fan() -> list[Any]:
        return list(await rc.batch(branch, range(2)))

    runner = rc.Runner(
        human=lambda q: "lots", state_dir=tmp_path, run_identifier="r", logging_setting="NONE"
    )
    with runner, pytest.raises(rc.HumanInputError, match=r"'lots'"):
        runner.run_sync(fan)
    info = rc.ExecutionInfo.load(tmp_path / "r.json")
    assert [n.status for n in info.nodes] == ["failed", "failed", "failed"]
    assert info.outcome == "waiting"  # its questions are still open: resume with answers


def test_the_live_outcome_says_how_the_requests_so_far_ended() -> None:
    seen: list[str | None] = []

    async def look() -> str:
        seen.append(runner.info.outcome)
        return "ok"

    async def ask() -> Any:
        return await rc.ask("anyone?")

    async def fail() -> None:
        raise ValueError("no")

    runner = rc.Runner(save_state=False, logging_setting="NONE")
    with runner:
        assert runner.info.outcome is None  # nothing asked of it yet
        assert runner.run_sync(look).outcome == "succeeded"
        assert seen == ["running"]
        with pytest.raises(QuestionPending):
            runner.run_sync(ask)
        assert runner.info.outcome == "waiting"
    assert runner.info.outcome == "waiting"
    with rc.Runner(save_state=False, logging_setting="NONE") as failing:
        with pytest.raises(ValueError, match="no"):
            failing.run_sync(fail)
        assert failing.info.outcome == "failed"


async def test_a_top_level_batch_stops_at_its_open_questions_and_resumes_with_answers(
    tmp_path: Path,
) -> None:
    async def branch(i: int) -> int:
        answer: int = await rc.ask(f"how many for {i}?", schema=int)
        return answer * 10

    quiet: dict[str, Any] = {"state_dir": tmp_path, "logging_setting": "NONE"}
    async with rc.Runner(run_identifier="top", **quiet):
        with pytest.raises(QuestionPending):  # raised, never two QuestionPending values
            await rc.batch(branch, range(2))
    waiting = rc.ExecutionInfo.load(tmp_path / "top.json")
    assert waiting.outcome == "waiting"
    open_ids = [q["id"] for n in waiting.nodes for q in (n.extras or {}).get("questions", ())]
    resumed = rc.Runner.from_state(
        tmp_path / "top.json", answers=dict(zip(open_ids, [1, 2], strict=True)), **quiet
    )
    async with resumed:
        assert await rc.batch(branch, range(2)) == [10, 20]


@pytest.mark.parametrize("end_on_error", [False, True])
def test_a_question_left_open_is_no_error_for_end_on_error_so_every_branch_asks(
    tmp_path: Path, end_on_error: bool
) -> None:
    asked = [asyncio.Event() for _ in range(3)]

    def human(question: Question) -> Any:
        asked[int(question.text.split()[1].rstrip("?"))].set()
        return DEFER

    async def branch(i: int) -> Any:
        if i:  # ask only once the branch before has left its question open
            await asked[i - 1].wait()
        return await rc.ask(f"question {i}?")

    async def fan() -> list[Any]:
        return await rc.batch(branch, range(3))

    runner = rc.Runner(
        human=human, end_on_error=end_on_error, state_dir=tmp_path, run_identifier="eoe"
    )
    with runner, pytest.raises(QuestionPending):
        runner.run_sync(fan)
    saved = rc.ExecutionInfo.load(tmp_path / "eoe.json")
    assert saved.outcome == "waiting"
    assert [n.status for n in saved.nodes] == ["failed"] * 4  # none was cancelled
    questions = [q["id"] for n in saved.nodes for q in (n.extras or {}).get("questions", ())]
    assert questions == ["1.0", "2.0", "3.0"]  # all answered together on resume
