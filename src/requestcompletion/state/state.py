"""RCState: owns a run's records and publishes each change of them.

Every operation is O(1): a record is appended to a list (its id is its index),
finishing one touches only that record, and the logical clock is one counter.
Nothing scans the records per event; views that need all of them (graphs,
stamps, saving) are built on demand by `ExecutionInfo`. When the run keeps a
journal, each change also hands the record to `Journal.add` (one append; the
journal's thread writes the line).
"""

from __future__ import annotations

import time
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..pubsub.events import (
    RequestCancelled,
    RequestCreated,
    RequestCreationFailed,
    RequestFailed,
    RequestSucceeded,
    Streamed,
    fast_constructor,
)
from ..pubsub.publisher import RCPublisher
from .records import TOOL_WHEN_AN_AGENT_CALLS, NodeRecord, kind_of

if TYPE_CHECKING:
    from .journal import Journal
    from .replay import Replay

__all__ = ["RCState"]

_now = time.perf_counter
_created = fast_constructor(RequestCreated)
_succeeded = fast_constructor(RequestSucceeded)


class RCState:
    """The records of one run, and the publisher told about each change."""

    def __init__(self, run_id: str, publisher: RCPublisher) -> None:
        self.run_id = run_id
        self.publisher = publisher
        self.records: list[NodeRecord] = []
        self.roots: list[int] = []  # ids of the top-level requests, in order
        self.streamed: list[tuple[int | None, float, Any]] = []  # (node id, time, item)
        self.extras: dict[int, dict[str, Any]] = {}  # per-node additions, e.g. LLM usage
        self.step = 0
        self.running = 0
        self.t0 = _now()  # perf_counter at the start; times in records are perf_counter
        self.wall0 = time.time()  # the same instant on the wall clock
        self.journal: Journal | None = None  # set by the runner when it keeps one
        self.replay: Replay | None = None  # set by Runner.from_state: what may be reused
        # bound once: a bound method made per call would be one more object per event
        self.build_created = self._created_event
        self.build_succeeded = self._succeeded_event

    def register(
        self,
        spec: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        parent: NodeRecord | None,
        work: Any,
    ) -> NodeRecord:
        """Record a new call (a node and its request) and announce it."""
        self.running += 1
        record = self._new_record(spec, args, kwargs, parent, work)
        journal = self.journal
        if journal is not None:  # Journal.add, inlined: this is every call's path
            journal.queue.append(record)  # the record itself: nothing made per call
            if not journal.awake:
                journal.wake()
        if self.publisher.active:
            self.publisher.defer(self.build_created, record)
        return record

    def register_failed(
        self,
        spec: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        parent: NodeRecord | None,
        error: BaseException,
    ) -> NodeRecord:
        """Record a call whose node could not even be created."""
        record = self._new_record(spec, args, kwargs, parent, None)
        record.status, record.error = "failed", error
        end = self._end(record)
        if self.journal is not None:
            self.journal.queue.append(record)
            self.journal.add(("F", record))
        if self.publisher.active:
            self.publisher.publish(
                RequestCreationFailed(
                    self.run_id,
                    record.id,
                    spec.name,
                    record.parent_id,
                    end,
                    error,
                    kind=kind_of(record),
                )
            )
        return record

    def _new_record(
        self,
        spec: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        parent: NodeRecord | None,
        work: Any,
    ) -> NodeRecord:
        records = self.records
        self.step += 1
        record = NodeRecord(len(records), spec, args, kwargs, parent, _now(), self.step, work)
        records.append(record)
        if parent is None:
            self.roots.append(record.id)
        return record

    def _end(self, record: NodeRecord) -> float:
        self.step += 1
        record.end_step = self.step
        record.end = end = _now()
        work, record.task, record.work = record.work, None, None
        if isinstance(work, CoroutineType):
            work.close()  # never started (cancelled first): close it rather than leak a warning
        return end

    def finish(self, record: NodeRecord, output: Any) -> None:
        """The node returned `output`."""
        self.running -= 1
        self.step += 1
        record.status = "succeeded"
        record.output = output
        record.end_step = self.step
        record.end = _now()
        record.task = record.work = None  # the work ran: nothing to close, unlike in _end
        journal = self.journal
        if journal is not None:  # Journal.add, inlined: this is every call's path
            journal.queue.append(record.id)  # an int already made: nothing made per call
            if not journal.awake:
                journal.wake()
        if self.publisher.active:
            self.publisher.defer(self.build_succeeded, record)

    # The two per-call events are built by the subscribers' workers, from the
    # record (whose fields they show are final by then): see RCPublisher.defer.

    def _created_event(self, record: NodeRecord) -> RequestCreated:
        parent, spec = record.parent, record.spec
        kind = spec.kind  # records.kind_of, inlined: two of these per call
        if parent is not None and parent.spec.kind == "agent" and kind in TOOL_WHEN_AN_AGENT_CALLS:
            kind = "tool"
        return _created(
            self.run_id,
            record.id,
            spec.name,
            None if parent is None else parent.id,
            record.start,
            record.args,
            record.kwargs,
            kind,
        )

    def _succeeded_event(self, record: NodeRecord) -> RequestSucceeded:
        parent, spec = record.parent, record.spec
        kind = spec.kind  # records.kind_of, inlined: two of these per call
        if parent is not None and parent.spec.kind == "agent" and kind in TOOL_WHEN_AN_AGENT_CALLS:
            kind = "tool"
        end = record.end or record.start
        return _succeeded(
            self.run_id,
            record.id,
            spec.name,
            None if parent is None else parent.id,
            end,
            record.output,
            end - record.start,
            kind,
        )

    def fail(self, record: NodeRecord, error: BaseException) -> None:
        """The node raised `error`."""
        self.running -= 1
        record.status = "failed"
        record.error = error
        end = self._end(record)
        if self.journal is not None:
            self.journal.add(("F", record))
        if self.publisher.active:
            self.publisher.publish(
                RequestFailed(
                    self.run_id,
                    record.id,
                    record.spec.name,
                    record.parent_id,
                    end,
                    error,
                    end - record.start,
                    kind=kind_of(record),
                )
            )

    def cancel(self, record: NodeRecord, reason: str, error: BaseException | None = None) -> None:
        """The node was cancelled before it finished."""
        if record.status != "running":
            return
        self.running -= 1
        record.status = "cancelled"
        record.error = error
        end = self._end(record)
        if self.journal is not None:
            self.journal.add(("X", record, reason))
        if self.publisher.active:
            self.publisher.publish(
                RequestCancelled(
                    self.run_id,
                    record.id,
                    record.spec.name,
                    record.parent_id,
                    end,
                    reason,
                    end - record.start,
                    kind=kind_of(record),
                )
            )

    def add_streamed(self, record: NodeRecord | None, item: Any, *, publish: bool = True) -> None:
        """A node passed `item` to rc.stream (`publish=False`: its pieces were published
        as they came, and this is the record of the whole)."""
        now = _now()
        node_id = None if record is None else record.id
        self.streamed.append((node_id, now, item))
        if self.journal is not None:
            self.journal.add(("I", node_id, now, item))
        if publish and self.publisher.active:
            if record is None:
                event = Streamed(self.run_id, None, None, None, now, item)
            else:
                event = Streamed(
                    self.run_id,
                    node_id,
                    record.spec.name,
                    record.parent_id,
                    now,
                    item,
                    kind=kind_of(record),
                )
            self.publisher.publish(event)

    def model_call(self, record: NodeRecord, digest: str, response: dict[str, Any]) -> None:
        """An agent node's model answered: keep the response with its request's digest.

        Args:
            record: the agent node.
            digest: the `journal.RequestDigest` of what was sent.
            response: the full response, as plain JSON data.
        """
        calls = self.extras.setdefault(record.id, {}).setdefault("model_calls", [])
        calls.append({"digest": digest, "response": response})
        if self.journal is not None:
            self.journal.add(("M", record.id, len(calls) - 1, digest, response))

    def questions(self) -> list[dict[str, Any]]:
        """Every `rc.ask` question of the run, open or answered (a scan: at the end)."""
        return [q for extra in self.extras.values() for q in extra.get("questions", ())]

    def running_records(self) -> list[NodeRecord]:
        """Records still running (a scan: for closing and timeouts, never per event)."""
        if not self.running:
            return []
        return [record for record in self.records if record.status == "running"]
