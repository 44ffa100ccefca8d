"""ExecutionInfo: what a run did, as views built on demand from its records.

`runner.info` is live: each property reads the records as they are now and
returns frozen snapshots (`NodeInfo`, `Edge`, `Stamp`). A loaded run
(`ExecutionInfo.load`) offers the same views over the saved records.
"""

from __future__ import annotations

import os
import statistics
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SavedRunError
from ._validate import check_journal
from .journal_reader import load_journal
from .persistence import dumps, load_state, state_document, write_atomic
from .records import Edge, ErrorInfo, NodeInfo, NodeRecord, Stamp, kind_of
from .state import RCState

__all__ = ["ExecutionInfo", "TimingSummary"]


@dataclass(frozen=True, slots=True)
class TimingSummary:
    """Latency of one node type over a run, in seconds."""

    count: int
    total: float
    mean: float
    median: float
    max: float


class ExecutionInfo:
    """The record of a run: its nodes, requests, stamps and answer.

    Args:
        state: the run's state (live or loaded).
        run: run-level fields (outcome, config summary, resources) when known.
        ids: restrict the view to these node ids (see `get_info`).
        answer_of: the top-level request whose output `answer` is (default: the last one).
    """

    def __init__(
        self,
        state: RCState,
        run: dict[str, Any] | None = None,
        ids: list[int] | None = None,
        answer_of: int | None = None,
    ) -> None:
        self._state = state
        self._run = run if run is not None else {}
        self._ids = ids
        self._answer_of = answer_of

    # --- the records ------------------------------------------------------------

    def _records(self) -> list[NodeRecord]:
        records = self._state.records
        return list(records) if self._ids is None else [records[i] for i in self._ids]

    def _view(self, record: NodeRecord) -> NodeInfo:
        state = self._state
        to_wall = state.wall0 - state.t0
        return NodeInfo(
            id=record.id,
            name=record.spec.name,
            type_key=record.spec.key,
            parent_id=record.parent_id,
            status=record.status,
            args=record.args,
            kwargs=record.kwargs or {},
            output=record.output,
            error=None if record.error is None else ErrorInfo.of(record.error),
            start=record.start + to_wall,
            end=None if record.end is None else record.end + to_wall,
            extras=state.extras.get(record.id),
            kind=kind_of(record),
        )

    @property
    def run_id(self) -> str:
        return self._state.run_id

    @property
    def outcome(self) -> str | None:
        """How the run ended: "succeeded", "failed", "timeout", "cancelled" or "waiting"
        (an `rc.ask` question is open) once it closed; "interrupted" for a run loaded
        from the journal of a process that died.

        While the runner is open: "running" while a top-level request runs, else how
        its requests so far ended (as above, but a timeout shows as "failed" until
        the run closes); None before the first request.
        """
        closed = self._run.get("outcome")
        if closed is not None:
            return closed  # type: ignore[no-any-return]
        state = self._state
        statuses = {state.records[i].status for i in state.roots}
        if not statuses:
            return None
        if "running" in statuses:
            return "running"
        if any(q.get("status") == "open" for q in state.questions()):
            return "waiting"
        return next((s for s in ("failed", "cancelled") if s in statuses), "succeeded")

    @property
    def journal_torn(self) -> bool:
        """True if this run was loaded from a journal whose last line a crash cut short
        (that line was dropped; everything before it is here)."""
        return bool((self._run.get("journal") or {}).get("torn"))

    @property
    def nodes(self) -> list[NodeInfo]:
        """One snapshot per node run, in the order they started."""
        return [self._view(r) for r in self._records()]

    def node(self, node_id: int) -> NodeInfo:
        """The snapshot of one node."""
        return self._view(self._state.records[node_id])

    @property
    def insertion_requests(self) -> list[NodeInfo]:
        """The top-level requests, in order."""
        roots = self._state.roots
        if self._ids is not None:
            wanted = set(self._ids)
            roots = [i for i in roots if i in wanted]
        return [self.node(i) for i in roots]

    @property
    def answer(self) -> Any:
        """The output of the request this info was returned for (`runner.run`), else of the
        last top-level request; None if it has not succeeded."""
        if self._answer_of is not None:
            return self._state.records[self._answer_of].output
        roots = self._state.roots
        return self._state.records[roots[-1]].output if roots else None

    @property
    def streamed(self) -> list[tuple[int | None, Any]]:
        """Every item passed to rc.stream: (node id, item)."""
        return [(node_id, item) for node_id, _, item in self._state.streamed]

    @property
    def all_stamps(self) -> list[Stamp]:
        """Every state change on the run's logical clock, in order."""
        to_wall = self._state.wall0 - self._state.t0
        stamps = []
        for r in self._records():
            stamps.append(Stamp(r.start_step, r.start + to_wall, r.id, f"{r.spec.name} started"))
            if r.end_step is not None and r.end is not None:
                stamps.append(Stamp(r.end_step, r.end + to_wall, r.id, f"{r.spec.name} {r.status}"))
        stamps.sort(key=lambda s: s.step)
        return stamps

    def get_info(self, ids: int | Iterable[int]) -> ExecutionInfo:
        """The sub-trees rooted at `ids`, as an ExecutionInfo of their own."""
        roots = {ids} if isinstance(ids, int) else set(ids)
        records = self._state.records
        unknown = [i for i in roots if not 0 <= i < len(records)]
        if unknown:
            raise KeyError(f"no node with id {unknown[0]!r} in run {self.run_id!r}")
        keep = []
        for record in records:  # parents start before children, so one pass suffices
            parent = record.parent
            if record.id in roots or (parent is not None and parent.id in roots):
                roots.add(record.id)
                keep.append(record.id)
        return ExecutionInfo(self._state, self._run, keep)

    def to_graph(self) -> tuple[list[NodeInfo], list[Edge]]:
        """(vertices, edges): a vertex per node, an edge per request (source None: top level)."""
        vertices = self.nodes
        edges = [Edge(v.parent_id, v.id, v.status, v.duration) for v in vertices]
        return vertices, edges

    def timing(self) -> dict[str, TimingSummary]:
        """Latency per node name, over the nodes that finished."""
        durations: dict[str, list[float]] = {}
        for r in self._records():
            if r.end is not None:
                durations.setdefault(r.spec.name, []).append(r.end - r.start)
        return {
            name: TimingSummary(len(d), sum(d), sum(d) / len(d), statistics.median(d), max(d))
            for name, d in durations.items()
        }

    @property
    def usage(self) -> dict[str, Any]:
        """LLM tokens and cost summed over the run; a count or the cost is None when any
        model call's tokens or price are unknown."""
        totals: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "cost": 0.0}
        for node_id, extra in self._state.extras.items():
            if self._ids is not None and node_id not in self._ids:
                continue
            llm = extra.get("llm")
            if not llm:
                continue
            for key in ("input_tokens", "output_tokens"):
                # a count a provider did not report is None: unknown, never 0
                count, total = llm.get(key), totals[key]
                totals[key] = None if count is None or total is None else total + count
            cost = llm.get("cost")
            totals["cost"] = (
                None if cost is None or totals["cost"] is None else totals["cost"] + cost
            )
        if self._run.get("budget") is not None:  # the run's rc.Budget: limits, spent, reserved
            totals["budget"] = self._run["budget"]
        return totals

    @property
    def run_fields(self) -> dict[str, Any]:
        """Run-level fields: outcome, config summary, resources, times."""
        return dict(self._run)

    # --- saving and loading ---------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        run = {k: v for k, v in self._run.items() if k not in ("schema_version", "run_id")}
        document = state_document(self._state, **run)
        document["timing"] = {
            name: {"count": t.count, "total_s": t.total, "mean_s": t.mean, "max_s": t.max}
            for name, t in self.timing().items()
        }
        document["usage"] = self.usage
        return document

    def to_json(self) -> str:
        """The run in the saved-file format (see `requestcompletion.state.persistence`).

        Never raises for a value a node returned or raised: what JSON cannot hold is
        tagged in place, and a `RuntimeWarning` names what could not be stored as it was.
        """
        text, problems = dumps(self.to_document())
        self._warn_unstored(problems)
        return text

    def save(
        self, path: str | os.PathLike[str], *, overwrite: bool = True, fsync: bool = False
    ) -> Path:
        """Write the run to `path` atomically; return the path written.

        Args:
            path: the file to write.
            overwrite: replace a file already at `path` (the default). With False (what
                a runner does on close), an existing file is kept and the run goes to
                `{stem}.2.json` (or the next free number), with a `RuntimeWarning`.
            fsync: also fsync the file and its folder before returning, so that a power
                cut keeps it (what a runner with ``journal_fsync=True`` does).

        Raises:
            OSError: the file could not be written.
        """
        target = path if isinstance(path, Path) else Path(path)
        text, problems = dumps(self.to_document())
        written = write_atomic(target, text, overwrite=overwrite, fsync=fsync)
        if written is not target:
            warnings.warn(
                f"run {self.run_id!r}: {os.fspath(target)!r} already holds a saved run (another "
                f"runner with the same run_identifier?), so this run was saved to "
                f"{os.fspath(written)!r} instead and neither is lost; give each runner its "
                f"own run_identifier",
                RuntimeWarning,
                stacklevel=2,
            )
        self._warn_unstored(problems)
        return written

    def _warn_unstored(self, problems: list[str]) -> None:
        if not problems:
            return
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        warnings.warn(
            f"run {self.run_id!r}: some values could not be stored as they were, and the "
            f"rest of the run is saved: {shown}{more}",
            RuntimeWarning,
            stacklevel=3,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExecutionInfo:
        """Read a run saved by a runner (or by `save`), or the ``.journal`` of one whose
        process died (its `outcome` is then ``"interrupted"``; see `journal_torn`).

        Any file is safe to load: only regular files of at most
        `persistence.MAX_FILE_BYTES` (256 MiB) are read, and every field is checked, so
        neither this nor any view of the loaded run fails on what the file holds.

        Raises:
            SavedRunError: the file is missing, not a regular file, too large, corrupt,
                not a run, malformed (the message names the field), or from a newer version.
        """
        where = os.fspath(path)
        if where.endswith(".journal"):
            state, run = load_journal(path)
            check_journal(state, where)  # its lines are read unchecked
            return cls(state, run)
        journal = Path(where).with_suffix(".journal")
        if where.endswith(".json") and not os.path.lexists(where) and journal.is_file():
            raise SavedRunError(
                f"no saved run at {where!r}: its process ended before saving it. Its journal "
                f"is {os.fspath(journal)!r}; load that (or `requestcompletion show` its run id)"
            )
        state, document = load_state(path)
        skip = {"types", "roots", "nodes", "errors", "extras", "streamed"}
        return cls(state, {k: v for k, v in document.items() if k not in skip})

    def __repr__(self) -> str:
        return f"<ExecutionInfo run={self.run_id!r} nodes={len(self._records())}>"
