"""Asking a human: `rc.ask`, `rc.ask_sync`, and the handlers that answer.

    async def approve(order: Order) -> bool:
        return await rc.ask(f"ship {order.total} to {order.city}?", schema=bool)

    with rc.Runner(human=rc.human.terminal()) as runner: ...

The runner's ``human`` handler gets a `Question` and returns the answer, sync or
async, or `DEFER` to leave it open. The answer is validated into the question's
``schema`` (any type pydantic validates); an answer that does not fit is asked for
again, with `Question.problem` saying what was wrong, up to `MAX_TRIES` times.

Every question is recorded on its node, in ``extras[node_id]["questions"]`` of the
saved run, and in the journal (``["Q", node, k, id, text, schema]`` when asked,
``["A", id, answer]`` when answered). Its id is ``"{node id}.{k}"``: the k-th
question (from 0) of that node, which a resumed run can match by the node's place.

With no handler, or a handler that defers, the question stays open: the asking
node raises `QuestionPending` (a `BaseException`, so that a node's own
``except Exception`` does not swallow it), its callers stop with it, and the run
ends ``waiting``.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TextIO

from .context import current_node, current_runner, loop_running
from .errors import ContextError, HumanInputError, QuestionPending
from .state.answers import as_data, validate

if TYPE_CHECKING:
    from .runner import Runner
    from .state.records import NodeRecord

__all__ = ["DEFER", "MAX_TRIES", "Question", "QuestionPending", "ask", "ask_sync", "terminal"]

MAX_TRIES: Final = 3
"""How many answers a handler may give that do not fit the schema (the terminal: any)."""


class _Defer:
    def __repr__(self) -> str:
        return "rc.human.DEFER"


DEFER: Final = _Defer()
"""What a handler returns to leave the question open (the run ends ``waiting``)."""


@dataclass(frozen=True, slots=True)
class Question:
    """A question for the human.

    Attributes:
        id: ``"{node id}.{k}"``, the k-th question of the asking node.
        text: the question.
        schema: the type the answer must fit, or None for any answer.
        node: the asking node's name.
        problem: why the last answer was refused, when it is asked again.
    """

    id: str
    text: str
    schema: Any = None
    node: str | None = None
    problem: str | None = None


async def ask(question: str, *, schema: Any = None) -> Any:
    """Ask the run's human `question`; return the answer (validated into `schema`).

    Raises:
        ContextError: not called inside a node of a runner.
        QuestionPending: no handler, or it deferred: the question stays open.
        HumanInputError: the handler's answers did not fit `schema` `MAX_TRIES` times.
    """
    runner, record = _asker("rc.ask")
    return await _ask(runner, record, question, schema)


def ask_sync(question: str, *, schema: Any = None) -> Any:
    """`ask` from a thread node (it blocks the thread until the answer comes).

    Raises:
        ContextError: not in a thread node of a runner (in async code, `await rc.ask`).
    """
    if loop_running():
        raise ContextError(
            "rc.ask_sync was called inside a running event loop, where it would block it; "
            "use `await rc.ask(...)` instead"
        )
    runner, record = _asker("rc.ask_sync")
    loop = runner.loop
    if loop is None or loop.is_closed():
        raise ContextError("rc.ask_sync: this runner's event loop is not running")
    future = asyncio.run_coroutine_threadsafe(_ask(runner, record, question, schema), loop)
    return future.result()


def _asker(what: str) -> tuple[Runner, NodeRecord]:
    runner = current_runner.get()
    if runner is None:
        raise ContextError(
            f"{what} needs an active runner: call it inside a node run by rc.Runner "
            f"(with rc.Runner(human=...) as runner: runner.run_sync(node))"
        )
    record = current_node.get()
    if record is None:
        raise ContextError(f"{what} must be called inside a node, where the question is recorded")
    return runner, record


async def _ask(runner: Runner, record: NodeRecord, text: str, schema: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"rc.ask needs the question as a non-empty string, not {text!r}")
    questions = runner.state.extras.setdefault(record.id, {}).setdefault("questions", [])
    asked = Question(f"{record.id}.{len(questions)}", text, schema, record.spec.name)
    entry: dict[str, Any] = {
        "id": asked.id,
        "question": text,
        "schema": None if schema is None else _schema_text(schema),
        "status": "open",
    }
    questions.append(entry)
    journal = runner.state.journal
    if journal is not None:
        journal.add(("Q", record.id, len(questions) - 1, asked.id, text, entry["schema"]))
    replay = runner.state.replay
    given = None if replay is None else replay.answer(record, len(questions) - 1)
    if given is not None:
        return _answered(runner, entry, asked, _given(given, asked, record, schema))
    handler = runner.config.human
    answer: Any = DEFER
    for _ in range(MAX_TRIES):
        answer = DEFER if handler is None else handler(asked)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is DEFER:
            break
        try:
            answer = validate(schema, answer)
            break
        except ValueError as error:
            asked = Question(asked.id, text, schema, asked.node, str(error))
    else:
        raise HumanInputError(
            f"question {asked.id!r} ({text!r}) of node {record.spec.name!r}: the human "
            f"handler's answers did not fit the schema {MAX_TRIES} times; the last: "
            f"{answer!r} ({asked.problem})"
        )
    if answer is DEFER:
        waiting = f"question {asked.id!r} of node {record.spec.name!r} is waiting for an answer"
        raise QuestionPending(waiting, asked.id)
    return _answered(runner, entry, asked, answer)


def _given(given: tuple[str, Any, bool], asked: Question, record: NodeRecord, schema: Any) -> Any:
    """The answer a resumed run was given (`Runner.from_state(answers=)`) or had
    recorded, validated."""
    recorded_id, answer, by_user = given
    try:
        return validate(schema, answer)
    except ValueError as error:
        recorded = f"the answer recorded for {recorded_id!r}"
        source = f"answers[{recorded_id!r}]" if by_user else recorded
        raise HumanInputError(
            f"{source} for question {asked.text!r} of node {record.spec.name!r} (now "
            f"question {asked.id!r}): {error}; resume again with an answer that fits"
        ) from None


def _answered(runner: Runner, entry: dict[str, Any], asked: Question, answer: Any) -> Any:
    # recorded as the schema's JSON data (a date as text, a model as its fields), so a
    # resumed run can validate it back into the schema: a repr could not be
    recorded = as_data(asked.schema, answer)
    entry.update(status="answered", answer=recorded)
    journal = runner.state.journal
    if journal is not None:
        journal.add(("A", asked.id, recorded))
    return answer


def _schema_text(schema: Any) -> Any:
    """The schema as the saved run shows it: its JSON schema, else its name."""
    try:
        from .llm.structured import output_json_schema

        return output_json_schema(schema)
    except Exception:  # a schema pydantic cannot express is still shown by name
        return getattr(schema, "__name__", repr(schema))


def terminal(
    stdin: TextIO | None = None, stdout: TextIO | None = None
) -> Callable[[Question], Any]:
    """A handler that asks on the terminal, and asks again while the answer does not fit.

    Args:
        stdin: where answers are read (default `sys.stdin`); end of input defers.
        stdout: where questions are written (default `sys.stdout`).
    """

    async def prompt(question: Question) -> Any:
        out = stdout or sys.stdout
        while True:
            if question.problem:
                out.write(f"  {question.problem}\n")
            out.write(f"[{question.node} asks] {question.text}\n> ")
            out.flush()
            line = await asyncio.to_thread((stdin or sys.stdin).readline)
            if not line:  # end of input: nobody to answer, leave it open
                return DEFER
            try:
                return validate(question.schema, line.rstrip("\r\n"))
            except ValueError as error:
                question = Question(
                    question.id, question.text, question.schema, question.node, str(error)
                )

    return prompt
