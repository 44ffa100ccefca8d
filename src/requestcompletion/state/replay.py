"""Replay: a new run that reuses what a saved run (or a journal) already did.

`Runner.from_state` attaches a `Replay` to a fresh runner. Two hooks consult it:
the runner's `submit` (every call goes through it) and the agent loop's model
call. Nothing else changes, and a runner that is not resuming has no `Replay`,
so an ordinary run pays nothing for this module.

How a call matches. The new call's parent must itself have matched a recorded
call (a top-level request matches among the recorded top-level requests). Under
that recorded parent, the recorded calls with the same node type key and the
same canonical inputs (encoded as the saved file encodes them) are taken in
registration order: the k-th such new call matches the k-th such recorded one,
so parallel calls match whatever order they finished in. A matched call whose
recorded run *succeeded* returns the recorded output without running (and its
recorded subtree is copied into the new run, marked replayed); any other matched
call runs live, and its children can match in turn. An unmatched call runs live
with everything under it. A model call of a matched agent node whose request
digest equals a recorded one of that node gets the recorded response instead of
reaching the provider.

Answers. The k-th `rc.ask` of a live node that matched a recorded node gets the
answer that node's k-th question had (``"{recorded id}.{k}"``): the recorded one
if it was answered, else the one `answers` gives for it. The recorded run's ids
are used because the new run's node ids may differ.

Outputs come back as they were saved: JSON data. An output the file could only
keep as a tagged repr (an object, an `AgentResult`) cannot be rebuilt, so such a
node runs live; its model calls and its children still replay.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import CoroutineType
from typing import Any

from ..errors import HumanInputError
from .answers import answer_problem
from .info import ExecutionInfo
from .persistence import encode_value
from .records import NodeRecord
from .state import RCState

__all__ = ["Replay", "load_saved"]

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=repr).encode


def load_saved(saved: Any) -> ExecutionInfo:
    """The run `saved` names: an `ExecutionInfo`, or the path of a ``.json``/``.journal``.

    Raises:
        SavedRunError: the file is missing, corrupt or from a newer schema version.
        TypeError: `saved` is neither a path nor an `ExecutionInfo`.
    """
    if isinstance(saved, ExecutionInfo):
        info = saved
    elif isinstance(saved, str | os.PathLike):
        info = ExecutionInfo.load(saved)
    else:
        raise TypeError(
            f"Runner.from_state takes the path of a saved run (.json or .journal) or an "
            f"ExecutionInfo, not {saved!r}"
        )
    if info.journal_torn:
        warnings.warn(
            f"run {info.run_id!r}: the last line of its journal was cut short when its process "
            f"died, and was dropped; resuming from the {len(info.nodes)} calls recorded before it",
            RuntimeWarning,
            stacklevel=3,
        )
    return info


def inputs_key(args: Iterable[Any], kwargs: dict[str, Any] | None) -> str:
    """The canonical form of a call's inputs: what the saved file would hold, as text."""
    return _canonical(encode_value([list(args), kwargs or {}]))


class Replay:
    """What a resumed run may reuse of the recorded run `info`.

    Args:
        info: the recorded run.
        rerun: ids of recorded nodes to run live (their ancestors run live too).
        answers: answers to the recorded run's open questions, by question id.

    Raises:
        KeyError: an id in `rerun` is not a node of the recorded run, or an id in
            `answers` is not an open question of it.
        HumanInputError: an answer cannot fit its question's saved JSON schema.
        TypeError: `answers` is not a mapping of question ids (strings) to answers.
    """

    def __init__(self, info: ExecutionInfo, rerun: Iterable[int] = (), answers: Any = None) -> None:
        state: RCState = info._state
        self.source = info.run_id
        self.old = state.records
        self._extras = state.extras
        self._children: dict[int | None, list[NodeRecord]] = {None: []}
        for old in self.old:
            self._children.setdefault(old.parent_id, []).append(old)
            self._children.setdefault(old.id, [])
        self._children[None] = [self.old[i] for i in state.roots]
        self.rerun = self._check_rerun(rerun)
        self.live: set[int] = set()  # the rerun nodes and their ancestors
        for node_id in self.rerun:
            record: NodeRecord | None = self.old[node_id]
            while record is not None:
                self.live.add(record.id)
                record = record.parent
        self._index: dict[int | None, dict[tuple[str, str], list[NodeRecord]]] = {}
        self._taken: dict[tuple[int | None, str, str], int] = {}
        self._asked: dict[int | None, int] = {}  # new calls so far under a recorded parent
        self.matched: dict[int, NodeRecord] = {}  # new node id -> the recorded node
        self._responses: dict[int, dict[str, deque[dict[str, Any]]]] = {}
        self._model_asked: dict[int, int] = {}
        self.warned = False
        self.answers = self._check_answers(answers)

    def _check_answers(self, answers: Any) -> dict[str, Any]:
        """The recorded answers and `answers`, by recorded question id."""
        if answers is not None and not isinstance(answers, Mapping):
            raise TypeError(
                f"Runner.from_state(answers=...) takes a mapping of question ids to answers "
                f"({{'1.0': 5}}), not {type(answers).__name__} {answers!r:.80}"
            )
        given = dict(answers or {})
        odd = next((key for key in given if not isinstance(key, str)), None)
        if odd is not None:
            raise TypeError(
                f"answers={{{odd!r}: ...}}: a question id is a string like {str(odd)!r} "
                f"(as `requestcompletion show {self.source}` lists them), not "
                f"{type(odd).__name__}"
            )
        found: dict[str, Any] = {}
        open_ones: dict[str, tuple[int, dict[str, Any]]] = {}
        for node_id, extras in self._extras.items():
            for question in (extras or {}).get("questions") or ():
                recorded = _recorded_answer(question)
                if recorded:
                    found[question["id"]] = recorded[0]
                else:
                    open_ones[question["id"]] = node_id, question
        unknown = [key for key in given if key not in open_ones]
        if unknown:
            raise KeyError(
                f"answers={unknown[0]!r}: run {self.source!r} has no open question with that "
                f"id; its open questions are {list(open_ones)!r} (see `requestcompletion show "
                f"{self.source}`)"
            )
        refused = [
            f"answers[{key!r}] for question {question.get('question')!r} of node "
            f"{self.old[node_id].name!r}: {problem}"
            for key, (node_id, question) in open_ones.items()
            if key in given
            and (problem := answer_problem(question.get("schema"), given[key])) is not None
        ]
        if refused:  # before anything runs: nothing is paid for an answer that cannot fit
            raise HumanInputError(
                f"resuming run {self.source!r}: {'; '.join(refused)}. Nothing has run; give "
                f"answers that fit (each question's schema is in `requestcompletion show "
                f"{self.source}`)"
            )
        found.update(given)
        self.given = set(given)  # the ids `answers` named (the rest were recorded)
        return found

    def answer(self, record: NodeRecord, k: int) -> tuple[str, Any, bool] | None:
        """(recorded question id, answer, whether `answers` gave it rather than the
        recorded run) for the k-th question of live node `record`."""
        old = self.matched.get(record.id)
        if old is None:
            return None
        question_id = f"{old.id}.{k}"
        if question_id not in self.answers:
            return None
        return question_id, self.answers[question_id], question_id in self.given

    def _check_rerun(self, rerun: Iterable[int]) -> set[int]:
        if isinstance(rerun, str | int):
            rerun = [rerun]
        ids = set()
        for node_id in rerun:
            if type(node_id) is not int or not 0 <= node_id < len(self.old):
                raise KeyError(
                    f"rerun={node_id!r}: run {self.source!r} has no node with that id (its ids "
                    f"are 0 to {len(self.old) - 1}); list them with `requestcompletion show "
                    f"{self.source}`"
                )
            ids.add(node_id)
        return ids

    # --- the hooks -----------------------------------------------------------------

    def wrap(self, submit: Callable[[NodeRecord], Awaitable[Any]], state: RCState) -> Any:
        """`submit` with replay in front: a matched, succeeded call returns its output."""

        async def replaying(record: NodeRecord) -> Any:
            old = self.match(record)
            if old is None or old.status != "succeeded" or old.id in self.live:
                return await submit(record)
            if not _rebuildable(old.output):
                return await submit(record)
            return self._replay(state, record, old)

        return replaying

    def match(self, record: NodeRecord) -> NodeRecord | None:
        """The recorded call the new `record` stands for, or None (it runs live)."""
        parent = record.parent
        if parent is None:
            where: int | None = None
        else:
            old_parent = self.matched.get(parent.id)
            if old_parent is None:
                return None  # under a call that diverged: everything runs live
            where = old_parent.id
        spec = record.spec
        inputs = inputs_key(record.args, record.kwargs)
        position = self._asked.get(where, 0)
        self._asked[where] = position + 1
        key = (where, spec.key, inputs)
        k = self._taken.get(key, 0)
        self._taken[key] = k + 1
        candidates = self._candidates(where).get((spec.key, inputs), ())
        if k < len(candidates):
            old = candidates[k]
            self.matched[record.id] = old
            return old
        recorded = self._children[where]
        if position < len(recorded):  # the recorded run did something else here
            shown = recorded[position]
            now, then = spec.name, shown.name
            if now == then and spec.key != shown.spec.key:  # moved or renamed code
                now, then = f"{now} [{spec.key}]", f"{then} [{shown.spec.key}]"
            self._diverged(
                f"call {position} {_under(parent)} is {now}"
                f"{_call_text(record.args, record.kwargs)}, but the recorded run {self.source!r} "
                f"called {then}{_call_text(shown.args, shown.kwargs)} there"
            )
        return None

    def model_response(self, record: NodeRecord, digest: str) -> dict[str, Any] | None:
        """The recorded response to this model request of agent node `record`, if any."""
        old = self.matched.get(record.id)
        if old is None or old.id in self.rerun:
            return None
        n = self._model_asked.get(record.id, 0)
        self._model_asked[record.id] = n + 1
        responses = self._responses.get(record.id)
        calls = (self._extras.get(old.id) or {}).get("model_calls") or []
        if responses is None:
            responses = self._responses[record.id] = {}
            for call in calls:
                responses.setdefault(call["digest"], deque()).append(call["response"])
        queue = responses.get(digest)
        if queue:
            return queue.popleft()
        if n < len(calls):
            self._diverged(
                f"model call {n} of {record.spec.name} (node {record.id}) sends another request "
                f"than the recorded run {self.source!r} did (its history or settings changed)"
            )
        return None

    # --- replaying one call --------------------------------------------------------

    def _replay(self, state: RCState, record: NodeRecord, old: NodeRecord) -> Any:
        work, record.work = record.work, None
        if isinstance(work, CoroutineType):
            work.close()  # the node's code never runs
        self._copy(state, record, old)
        copies = {old.id: record}
        for child in self._descendants(old):
            parent = copies[child.parent_id]  # type: ignore[index]  # never None under old
            copy = state.register(child.spec, child.args, child.kwargs, parent, None)
            copies[child.id] = copy
            self._copy(state, copy, child)
            if child.status == "succeeded":
                state.finish(copy, child.output)
            elif child.status == "failed":
                state.fail(copy, child.error)  # type: ignore[arg-type]  # an ErrorInfo
            else:
                state.cancel(copy, "cancelled in the recorded run")
        state.finish(record, old.output)
        return old.output

    def _copy(self, state: RCState, record: NodeRecord, old: NodeRecord) -> None:
        extras = dict(self._extras.get(old.id) or {})
        extras["replayed"] = True
        state.extras[record.id] = extras
        if state.journal is not None:  # a resumed run that dies keeps what it replayed
            state.journal.add(("E", record.id, extras))

    def _descendants(self, old: NodeRecord) -> list[NodeRecord]:
        """The recorded calls under `old`, parents before children."""
        found, queue = [], deque(self._children[old.id])
        while queue:
            child = queue.popleft()
            found.append(child)
            queue.extend(self._children[child.id])
        return sorted(found, key=lambda r: r.id)

    def _candidates(self, where: int | None) -> dict[tuple[str, str], list[NodeRecord]]:
        index = self._index.get(where)
        if index is None:
            index = self._index[where] = {}
            for old in self._children[where]:
                key = (old.spec.key, inputs_key(old.args, old.kwargs))
                index.setdefault(key, []).append(old)
        return index

    def _diverged(self, what: str) -> None:
        """Warn once per run: the first divergence explains the rest."""
        if self.warned:
            return
        self.warned = True
        warnings.warn(
            f"resuming run {self.source!r}: the run went another way than the recorded one "
            f"({what}); from there on that call and everything under it runs live. See "
            f"docs/guides/resume.md for what must be deterministic to replay",
            RuntimeWarning,
            stacklevel=2,
        )


def _recorded_answer(question: dict[str, Any]) -> tuple[Any] | tuple[()]:
    """(the answer,) a recorded question can be given again; () to ask it again.

    Answers are recorded as their schema's JSON data, but a saved run may hold one
    as a tagged value: with its fields (an older run's model or set), they are
    validated back into the schema; kept only as a repr (NaN, an object with no
    schema), it cannot be given back, so the question is asked again, like an
    open one.
    """
    if question.get("status") != "answered":
        return ()
    answer = question.get("answer")
    if isinstance(answer, dict) and "$type" in answer and "$value" in answer:
        answer = answer["$value"]
    return (answer,) if _rebuildable(answer) else ()


def _rebuildable(value: Any) -> bool:
    """True if the saved `value` is plain JSON data (no tagged repr it cannot come back from)."""
    if isinstance(value, dict):
        return "$type" not in value and all(_rebuildable(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_rebuildable(v) for v in value)
    return True


def _under(parent: NodeRecord | None) -> str:
    return "at the top level" if parent is None else f"under {parent.spec.name} (node {parent.id})"


def _call_text(args: Iterable[Any], kwargs: dict[str, Any] | None) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
    text = ", ".join(parts)
    return f"({text[:80]}{'…' if len(text) > 80 else ''})"
