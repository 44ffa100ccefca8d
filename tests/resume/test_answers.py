"""Runner.from_state(answers=): a run waiting on questions resumes with their answers."""

from __future__ import annotations

import datetime
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from helpers import signal_when_ready
from requestcompletion.errors import HumanInputError
from requestcompletion.human import QuestionPending
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

HERE = Path(__file__).parent


def make_fan(base_url: str) -> Any:
    """Three branches: each asks the model, then the human (an int), then the model again."""
    model = OpenAICompatibleModel("test-model", base_url=base_url, api_key=API_KEY, timeout=10.0)
    agent = rc.agent_node("helper", llm=model)

    async def branch(i: int) -> str:
        before = await rc.call(agent, f"before {i}")
        count = await rc.ask(f"how many for branch {i}?", schema=int)
        after = await rc.call(agent, f"after {i}: {count}")
        return f"{before.text}/{count}/{after.text}"

    async def fan() -> list[str]:
        return list(await rc.batch(branch, range(3)))

    return rc.function_node(fan)


def waiting_run(server: FakeLLMServer, tmp_path: Path) -> tuple[Path, list[str]]:
    """The fan with no human: it ends waiting on its 3 questions (their recorded ids)."""
    for _ in range(3):
        server.text("ok")
    with (
        rc.Runner(state_dir=tmp_path, run_identifier="first", logging_setting="NONE") as first,
        pytest.raises(QuestionPending),
    ):
        first.run_sync(make_fan(server.base_url))
    saved = tmp_path / "first.json"
    info = rc.ExecutionInfo.load(saved)
    assert info.outcome == "waiting"
    assert len(server.requests) == 3
    return saved, _open_questions(info)


def _open_questions(info: rc.ExecutionInfo) -> list[str]:
    return [
        q["id"]
        for node in info.nodes
        for q in (node.extras or {}).get("questions", ())
        if q["status"] == "open"
    ]


def _answers_by_branch(info: rc.ExecutionInfo, counts: list[int]) -> dict[str, int]:
    """The answer counts[i] for branch i's question, by its recorded id."""
    answers = {}
    for node in info.nodes:
        for q in (node.extras or {}).get("questions", ()):
            branch = int(q["question"].split()[-1].rstrip("?"))
            if branch < len(counts):
                answers[q["id"]] = counts[branch]
    return answers


def _warm_up() -> str:
    return "warm"


def test_resuming_with_all_3_answers_finishes_with_only_the_calls_after_the_questions(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved, open_ids = waiting_run(llm_server, tmp_path)
    assert len(open_ids) == 3
    llm_server.reset()
    for _ in range(3):
        llm_server.text("done")
    answers = _answers_by_branch(rc.ExecutionInfo.load(saved), [10, 11, 12])
    with rc.Runner.from_state(saved, answers=answers, logging_setting="NONE") as resumed:
        with pytest.warns(RuntimeWarning, match="went another way"):
            resumed.run_sync(rc.function_node(_warm_up))  # shifts the new run's node ids
        info = resumed.run_sync(make_fan(llm_server.base_url))
    assert info.answer == ["ok/10/done", "ok/11/done", "ok/12/done"]
    new_ids = [q["id"] for n in info.nodes for q in (n.extras or {}).get("questions", ())]
    assert sorted(new_ids) != sorted(answers)  # answered through the match, not by new id
    prompts = sorted(str(r.body["messages"][-1]["content"]) for r in llm_server.requests)
    assert prompts == ["after 0: 10", "after 1: 11", "after 2: 12"]  # no "before" paid twice
    assert info.outcome == "succeeded"


def test_resuming_with_2_of_3_answers_stops_again_on_the_third(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved, _ = waiting_run(llm_server, tmp_path)
    llm_server.reset()
    for _ in range(2):
        llm_server.text("done")
    answers = _answers_by_branch(rc.ExecutionInfo.load(saved), [10, 11])
    second = rc.Runner.from_state(
        saved, answers=answers, state_dir=tmp_path, run_identifier="second", logging_setting="NONE"
    )
    with second, pytest.raises(QuestionPending, match="waiting for an answer"):
        second.run_sync(make_fan(llm_server.base_url))
    again = rc.ExecutionInfo.load(tmp_path / "second.json")
    assert again.outcome == "waiting"
    assert len(llm_server.requests) == 2
    [last] = _open_questions(again)
    llm_server.reset()
    llm_server.text("done")
    resumed = rc.Runner.from_state(
        tmp_path / "second.json", answers={last: 12}, logging_setting="NONE"
    )
    with resumed:
        info = resumed.run_sync(make_fan(llm_server.base_url))
    assert info.answer == ["ok/10/done", "ok/11/done", "ok/12/done"]
    assert len(llm_server.requests) == 1


def test_an_unknown_question_id_is_an_error_listing_the_open_ones(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved, open_ids = waiting_run(llm_server, tmp_path)
    with pytest.raises(KeyError) as raised:
        rc.Runner.from_state(saved, answers={"9.0": 1})
    message = str(raised.value)
    assert "'9.0'" in message and all(repr(q) in message for q in open_ids)


def test_an_answer_that_cannot_fit_the_saved_schema_is_refused_before_anything_runs(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved, open_ids = waiting_run(llm_server, tmp_path)
    llm_server.reset()
    before = sorted(tmp_path.iterdir())
    answers = dict.fromkeys(open_ids, "many")
    with pytest.raises(HumanInputError) as raised:
        rc.Runner.from_state(saved, answers=answers, state_dir=tmp_path)
    message = str(raised.value)
    for recorded_id in open_ids:  # every bad answer is named, so one retry fixes them all
        assert f"answers[{recorded_id!r}] for question 'how many" in message
    assert "'many' does not fit" in message and "Nothing has run" in message
    assert llm_server.requests == []
    assert sorted(tmp_path.iterdir()) == before  # no runner was made: no run, no journal


def make_positive_fan(base_url: str) -> Any:
    """The fan, asking for a positive count: a bound the saved JSON schema shows but the
    early check leaves to the node's own type."""
    model = OpenAICompatibleModel("test-model", base_url=base_url, api_key=API_KEY, timeout=10.0)
    agent = rc.agent_node("helper", llm=model)

    async def branch(i: int) -> str:
        count = await rc.ask(f"how many for branch {i}?", schema=Annotated[int, Field(gt=0)])
        return (await rc.call(agent, f"after {i}: {count}")).text

    async def fan() -> list[str]:
        return list(await rc.batch(branch, range(3)))

    return rc.function_node(fan)


def test_an_answer_only_the_node_type_refuses_stops_the_run_waiting_and_can_be_fixed(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    fan = make_positive_fan(llm_server.base_url)
    first = rc.Runner(state_dir=tmp_path, run_identifier="first", logging_setting="NONE")
    with first, pytest.raises(QuestionPending):
        first.run_sync(fan)
    questions = _answers_by_branch(rc.ExecutionInfo.load(tmp_path / "first.json"), [1, 2, 3])
    bad = {qid: -1 if n == 1 else n for qid, n in questions.items()}
    for _ in range(2):
        llm_server.text("done")
    second = rc.Runner.from_state(
        tmp_path / "first.json",
        answers=bad,
        state_dir=tmp_path,
        run_identifier="second",
        logging_setting="NONE",
    )
    with second, pytest.raises(HumanInputError, match=r"the answer -1 does not fit") as raised:
        second.run_sync(fan)  # raised, never a branch's value in the batch
    assert "greater than 0" in str(raised.value)
    assert second.info.outcome == "waiting"
    again = rc.ExecutionInfo.load(tmp_path / "second.json")
    assert again.outcome == "waiting"
    assert again.nodes[0].status == "failed"  # the fan did not succeed with an error inside
    [still_open] = _open_questions(again)
    assert len(llm_server.requests) == 2  # the branches whose answers fitted went on
    llm_server.reset()
    llm_server.text("done")
    with rc.Runner.from_state(
        tmp_path / "second.json", answers={still_open: 1}, logging_setting="NONE"
    ) as third:
        info = third.run_sync(fan)
    assert info.answer == ["done", "done", "done"]
    assert len(llm_server.requests) == 1
    assert info.outcome == "succeeded"


def test_sigkill_while_waiting_keeps_the_question_in_the_journal(
    llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    for _ in range(3):
        llm_server.text("ok")
    script = (
        "import sys, os, signal\n"
        f"sys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]\n"
        "import requestcompletion as rc\n"
        "from test_answers import make_fan\n"
        "from requestcompletion.context import current_runner\n"
        "asked = []\n"
        "async def human(question):\n"
        "    asked.append(question)\n"
        "    if len(asked) == 3:  # all three are journaled: die waiting on the last\n"
        "        await current_runner.get().state.journal.barrier()\n"
        "        print('READY', flush=True)\n"
        "        signal.pause()\n"
        "    return rc.human.DEFER\n"
        f"with rc.Runner(human=human, run_identifier='killed', state_dir={str(tmp_path)!r},\n"
        "               logging_setting='NONE') as r:\n"
        f"    r.run_sync(make_fan({llm_server.base_url!r}))\n"
    )
    done = signal_when_ready([sys.executable, "-c", script], signal.SIGKILL)
    assert done.returncode == -9, done.stderr
    journal = tmp_path / "killed.journal"
    info = rc.ExecutionInfo.load(journal)
    assert info.outcome == "interrupted"
    open_ids = _open_questions(info)
    assert len(open_ids) == 3  # the third was journaled before the handler got it
    llm_server.reset()
    for _ in range(3):
        llm_server.text("done")
    answers = _answers_by_branch(info, [1, 2, 3])
    with rc.Runner.from_state(journal, answers=answers, logging_setting="NONE") as resumed:
        result = resumed.run_sync(make_fan(llm_server.base_url))
    assert result.answer == ["ok/1/done", "ok/2/done", "ok/3/done"]
    assert len(llm_server.requests) == 3


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ("abc", r"takes a mapping of question ids to answers .*not str 'abc'"),
        (5, r"not int 5"),
        ([("1.0", 1)], r"not list"),
        ({1.0: 1}, r"a question id is a string like '1\.0'.*not float"),
        ({("1", 0): 1}, r"not tuple"),
    ],
    ids=repr,
)
def test_answers_that_are_not_a_mapping_of_string_ids_are_a_clear_error(
    llm_server: FakeLLMServer, tmp_path: Path, answers: Any, says: str
) -> None:
    saved, _ = waiting_run(llm_server, tmp_path)
    with pytest.raises(TypeError, match=says):
        rc.Runner.from_state(saved, answers=answers)


class Order(BaseModel):
    city: str
    count: int = 1


async def _when_and_what() -> str:
    when = await rc.ask("when?", schema=datetime.datetime)
    order = await rc.ask("what?", schema=Order)
    return f"{when.isoformat()} {order.city} x{order.count}"


def test_answers_recorded_as_objects_are_given_back_on_every_later_resume(
    tmp_path: Path,
) -> None:
    quiet: dict[str, Any] = {"state_dir": tmp_path, "logging_setting": "NONE"}
    first = rc.Runner(run_identifier="first", **quiet)
    with first, pytest.raises(QuestionPending):
        first.run_sync(_when_and_what)
    second = rc.Runner.from_state(
        tmp_path / "first.json",
        answers={"0.0": "2030-01-02T03:04:05"},
        run_identifier="second",
        **quiet,
    )
    with second, pytest.raises(QuestionPending, match=r"'0\.1'"):
        second.run_sync(_when_and_what)  # the date is answered, now as JSON data
    saved = rc.ExecutionInfo.load(tmp_path / "second.json")
    [asked] = [n.extras["questions"] for n in saved.nodes if n.extras]
    assert asked[0]["answer"] == "2030-01-02T03:04:05"  # not a repr: it can be read back
    third = rc.Runner.from_state(
        tmp_path / "second.json", answers={"0.1": {"city": "Oslo"}}, run_identifier="third", **quiet
    )
    with third:
        assert third.run_sync(_when_and_what).answer == "2030-01-02T03:04:05 Oslo x1"
    fourth = rc.Runner.from_state(tmp_path / "third.json", run_identifier="fourth", **quiet)
    with fourth:  # the model answer, recorded as its fields, is read back too
        assert fourth.run_sync(_when_and_what).answer == "2030-01-02T03:04:05 Oslo x1"


def test_an_answer_recorded_only_as_a_repr_is_asked_again(tmp_path: Path) -> None:
    quiet: dict[str, Any] = {"state_dir": tmp_path, "logging_setting": "NONE"}
    runner = rc.Runner(human=lambda q: float("nan"), run_identifier="nan", **quiet)
    with runner:

        async def ratio() -> float:
            answer: float = await rc.ask("ratio?", schema=float)
            return answer

        runner.run_sync(ratio)
    [entry] = rc.ExecutionInfo.load(tmp_path / "nan.json").nodes[0].extras["questions"]
    assert entry["answer"] == {"$type": "float", "$repr": "nan"}
    again = rc.Runner.from_state(tmp_path / "nan.json", human=lambda q: 0.5, **quiet)
    with again:  # the human is asked again: a repr cannot be given back
        assert again.run_sync(ratio).answer == 0.5
