"""The worker side of the distributed strategy: `NodeHost`, the Ray actor nodes run in.

Ray refuses `async def` remote functions, so nodes run in async actors. A node
runs in a task of its own on the actor's loop (a plain `def` node on a thread of
the actor's pool, the threads strategy's `DaemonPool`: a `def` node blocked in
`rc.call_sync` lends its thread, so parents waiting for their children never
hold every thread those children need) with a `WorkerLink` as its
`context.current_host` and a stand-in of its driver-side record as
`context.current_node`, so the user verbs take the same path as on the driver.
Whatever the node asks of its run (`rc.call`, `rc.stream`, `rc.context`) goes
through the link: queued for the driver, and for a call, awaited until the
driver answers with `resolve`.

Two steps, so that a node that never talks back costs one plain method call
(a streaming generator costs about twice as much per round trip):

- `NodeHost.start` starts the node and returns the first batch of messages: the
  node's outcome when it ends before sending anything else (the fast path), or
  what it has sent so far followed by `FollowUp(handle)`, the node still running;
- `NodeHost.follow(handle)` then yields the later batches until the outcome.

The queue is drained into one batch per return or yield, because each costs a
round trip. `drop(handle)` cancels a handed-off node the driver gave up on.

Whatever a node raises ends it with `Raised`, `BaseException`s too (`SystemExit`,
`KeyboardInterrupt`, a user's own): left to asyncio, they would stop the actor's
loop and leave the driver waiting for an outcome that never comes.

`rc.context` is kept here per run (`sync.WorkerContext`), brought forward by the
delta that `start` and `resolve` carry; each node reads a `sync.NodeView` of it.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import ray

from ....context import current_host, current_node
from ....nodes.base import spec_of
from ....state.records import NodeRecord
from ..threads import DaemonPool
from .messages import (
    FINAL,
    ChildCall,
    CloseBudget,
    ContextDelta,
    FollowUp,
    Message,
    ModelAsked,
    ModelChunk,
    ModelReplied,
    ModelStreamed,
    OpenBudget,
    Recall,
    Release,
    Reports,
    Reserve,
    Returned,
    Settle,
    Streamed,
)
from .sync import NodeView, WorkerContext
from .wire import dumps, encode_error, loads, pack_call

__all__ = ["NodeHost", "RemoteHold", "WorkerLink"]

_KEPT_NODE_TYPES = 256  # node types a worker keeps unpickled


class WorkerLink:
    """The driver, as a node running on this worker sees it (a `context.Host`).

    It is also how the node's model calls reach the run's budgets, which are
    kept on the driver (`llm.budget.reserve`): `budgeted` says whether any applies;
    and how an agent's model calls reach the run's events and records there (it is
    the agent loop's `nodes._agent_remote.ModelReports`), as `reports` asks.
    """

    def __init__(
        self,
        host: NodeHost,
        run: WorkerContext,
        budgeted: bool = False,
        reports: Reports | None = None,
    ) -> None:
        self.host = host
        self.run = run  # the run's context as this worker holds it
        self.budgeted = budgeted
        self.events = reports is not None and reports.events
        self.saved = reports is not None and reports.saved
        self.replay = reports is not None and reports.replay
        self._history: Sequence[Any] | None = None  # the conversation the driver has ...
        self._sent = 0  # ... up to this message
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.variables: NodeView = NodeView(run.values, self.send)

    def send(self, message: Message) -> None:
        """Queue a message for the driver; safe from the node's threads too."""
        if threading.get_ident() == self.thread:
            self.outbox.put_nowait(message)
        else:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, message)

    def stream(self, parent: NodeRecord | None, item: Any) -> None:
        self.send(Streamed(dumps(item)))

    async def call(
        self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, parent: NodeRecord
    ) -> Any:
        """Run a child on the driver (where it is recorded under the remote node)."""
        name = spec_of(node).name
        blob = pack_call(name, node, args, kwargs or None)
        return await self._ask(lambda call_id: ChildCall(call_id, blob))

    async def reserve(self, model: str, prompt: int, answer: int, where: str) -> RemoteHold:
        """Reserve a model call's worst case on the budgets over this node, on the driver.

        Raises:
            BudgetExceededError: the call would go over a limit (the driver's refusal).
            ConfigError: a cost limit applies and the driver knows no price for `model`.
        """
        hold = await self._ask(lambda call_id: Reserve(call_id, model, prompt, answer, where))
        return RemoteHold(self, hold)

    def open_budget(self, budget: Any) -> None:
        """This node, an agent, spends from a budget of its own: it opens on the driver."""
        self.budgeted = True
        self.send(OpenBudget(dumps(budget)))

    def close_budget(self) -> None:
        self.send(CloseBudget())

    # --- an agent's model calls (ModelReports) ---------------------------------------

    def asked(self, provider: str, model: str, history: Sequence[Any]) -> None:
        # the driver keeps the conversation: only what it lacks travels
        start = self._sent if history is self._history else 0
        self._history, self._sent = history, len(history)
        self.send(ModelAsked(provider, model, start, dumps(list(history[start:]))))

    def chunk(self, piece: Any) -> None:
        self.send(ModelChunk(dumps(piece)))

    def streamed(self, whole: dict[str, Any]) -> None:
        self.send(ModelStreamed(whole))

    def replied(
        self, model: str, digest: str | None, accounts: dict[str, Any] | None, response: Any
    ) -> None:
        self.send(ModelReplied(model, digest, dict(accounts or {}), dumps(response)))

    async def recorded(self, digest: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self._ask(lambda call_id: Recall(call_id, digest))
        return found

    async def _ask(self, message: Callable[[int], Message]) -> Any:
        """Send `message(call_id)` and wait for the driver's answer (`NodeHost.resolve`)."""
        call_id, future = self.host.expect(self)
        self.send(message(call_id))
        try:
            return await future
        finally:
            self.host.forget(call_id)


class RemoteHold:
    """What a model call reserved on the driver (`llm.budget.Reservation`); sent back
    in order with the node's other messages, so it is settled before the node ends."""

    __slots__ = ("hold", "link")

    def __init__(self, link: WorkerLink, hold: int) -> None:
        self.link = link
        self.hold = hold

    def release(self) -> None:
        self.link.send(Release(self.hold))

    def settle(self, model: str, usage: Any) -> None:
        self.link.send(Settle(self.hold, model, dumps(usage)))


class NodeHost:
    """Runs nodes for one driver's strategy. Async: many nodes at once on one loop."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[asyncio.Future[Any], WorkerLink]] = {}
        self._running: dict[int, tuple[WorkerLink, asyncio.Task[None]]] = {}
        self._node_types: dict[bytes, Any] = {}
        self._threads: DaemonPool | None = None  # for `def` nodes, started on the first
        self._contexts: dict[str, WorkerContext] = {}  # run token -> its context here

    def run_in_thread(self, work: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run a `def` node's work on the actor's thread pool, in the caller's context."""
        if self._threads is None:
            self._threads = DaemonPool(None)
        return asyncio.wrap_future(self._threads.submit(contextvars.copy_context().run, work))

    def _context(self, delta: ContextDelta) -> WorkerContext:
        """The run's context here, brought forward by `delta` (before anything awaits,
        so in the order the driver sent its calls)."""
        run = self._contexts.get(delta.token)
        if run is None:
            run = self._contexts[delta.token] = WorkerContext()
        run.apply(delta)
        return run

    def _node_type(self, blob: bytes) -> Any:
        """The node type these bytes hold, unpickled once (a function node's type
        is pickled by value, and unpickling it costs about as much as a round trip)."""
        node = self._node_types.get(blob)
        if node is None:
            node = loads(blob)
            if len(self._node_types) >= _KEPT_NODE_TYPES:
                del self._node_types[next(iter(self._node_types))]  # the oldest
            self._node_types[blob] = node
        return node

    async def ping(self) -> str:
        """The id of the Ray node this actor lives on (answers once it is placed)."""
        return str(ray.get_runtime_context().get_node_id())

    async def start(
        self,
        node: bytes,
        args: bytes,
        delta: ContextDelta,
        node_id: int,
        budgeted: bool = False,
        reports: Reports | None = None,
    ) -> list[Message]:
        """Run one node until it ends or sends something: the first batch of messages.

        `node` is the node type pickled (`pack_node`: the same bytes for the same type,
        so it is unpickled once), `args` its arguments (`pack_args`), `delta` what
        this worker lacks of the run's context, `node_id` the id of its record on
        the driver, `budgeted` whether a budget of the run applies to it, `reports`
        what the driver wants to hear of its model calls, if it is an agent.

        The batch ends with the node's outcome, or else with `FollowUp(handle)`:
        the node goes on running, and `follow(handle)` yields the rest.
        """
        link = WorkerLink(self, self._context(delta), budgeted, reports)
        context = contextvars.copy_context()
        context.run(current_host.set, link)
        work = _invoke(self, node, args, link, node_id)
        task = asyncio.get_running_loop().create_task(work, context=context)
        handed_off = False
        try:
            batch = await _next_batch(link)
            if not isinstance(batch[-1], FINAL):
                handle = next(self._ids)
                self._running[handle] = (link, task)
                handed_off = True
                batch.append(FollowUp(handle))
            return batch
        finally:
            if not handed_off and not task.done():  # the driver cancelled the node
                task.cancel()

    async def follow(self, handle: int) -> AsyncIterator[list[Message]]:
        """The batches of a node `start` handed off, the last one ending with its outcome."""
        if handle not in self._running:
            return  # dropped: the driver no longer waits for it
        link = self._running[handle][0]
        try:
            while True:
                batch = await _next_batch(link)
                yield batch
                if isinstance(batch[-1], FINAL):
                    return
        finally:
            self._drop(handle)

    async def drop(self, handle: int) -> None:
        """The driver gave up on a handed-off node: cancel it if it still runs."""
        self._drop(handle)

    def _drop(self, handle: int) -> None:
        _, task = self._running.pop(handle, (None, None))
        if task is not None and not task.done():
            task.cancel()

    def expect(self, link: WorkerLink) -> tuple[int, asyncio.Future[Any]]:
        """A new call id and the future its answer will resolve."""
        call_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = (future, link)
        return call_id, future

    def forget(self, call_id: int) -> None:
        self._waiting.pop(call_id, None)

    async def resolve(
        self, call_id: int, ok: bool, blob: bytes, delta: ContextDelta, applied: int
    ) -> None:
        """The driver's answer to a child call: its output (ok) or its exception.

        `delta` brings the run's context forward; `applied` is how many of the
        node's context writes the driver had applied when it answered.
        """
        future, link = self._waiting.pop(call_id, (None, None))
        try:
            run = self._context(delta)  # also when nobody waits: the cache moves on
            if future is None or future.done():
                return
            if link is not None:
                link.variables.refresh(run.values, applied)
            value = loads(blob)
        except Exception as error:  # the node fails, rather than wait for ever
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


async def _next_batch(link: WorkerLink) -> list[Message]:
    """Wait for a message from the node, then take whatever else is queued with it."""
    batch = [await link.outbox.get()]
    while not link.outbox.empty():
        batch.append(link.outbox.get_nowait())
    return batch


async def _invoke(
    host: NodeHost,
    node_blob: bytes,
    args_blob: bytes,
    link: WorkerLink,
    node_id: int,
) -> None:
    """Run the node; its outcome becomes the last message."""
    try:
        node = host._node_type(node_blob)
        args, kwargs = loads(args_blob)
        spec = spec_of(node)
        work = spec.create(args, kwargs)
        # the node as its children's parent: a stand-in of its record on the driver
        current_node.set(NodeRecord(node_id, spec, args, kwargs, None, 0.0, 0, None))
        if spec.is_async:
            output = await work
        else:
            output = await host.run_in_thread(work)  # keeps the loop free for resolve()
        try:
            blob = dumps(output)
        except Exception as error:
            raise TypeError(
                f"the output of node {spec.name!r} cannot be pickled to send it back to the "
                f"driver ({type(error).__name__}: {error}); return plain data"
            ) from None
        link.send(Returned(blob))
    except BaseException as error:  # every outcome must reach the driver
        # sent even when cancelled: nobody may listen (the driver dropped it), but
        # a node that raised CancelledError of its own accord still ends
        link.send(encode_error(error))
        if isinstance(error, asyncio.CancelledError):
            raise


RemoteNodeHost: Any = ray.remote(NodeHost)
