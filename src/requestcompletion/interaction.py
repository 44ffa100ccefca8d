"""What nodes (and users) call: call, call_sync, batch, stream.

The path of one call reads top to bottom in `call`: find the caller, create the
node's invocation, register it in the state, hand it to the coordinator. A call
inside a node runs inline in the caller's task; a call at the top of a runner
block is a new top-level request; a call with no runner at all gets a
temporary one.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable, Collection, Coroutine, Generator, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from .context import active_host, current_host, current_node, current_runner, loop_running
from .errors import ContextError, HumanInputError, NodeCreationError
from .execution.control import Interrupt, carried
from .execution.coordinator import Coordinator
from .execution.strategies.threads import lending_slot
from .human import QuestionPending
from .nodes.base import Node
from .runner import Runner, request, request_sync
from .state.records import NodeRecord

__all__ = ["batch", "call", "call_sync", "stream"]

P = ParamSpec("P")
T = TypeVar("T")

PAUSE_COLLECTOR_FROM = 64  # calls in one batch; see call_all

# From Python 3.12 a batch's calls start eagerly: each runs at once, in a task of
# its own, up to its first real wait, and one that never waits finishes without
# ever being scheduled. So an agent whose tools answer at once goes straight on
# to its next model call instead of queueing behind every other agent's step.
EAGER = sys.version_info >= (3, 12)

if EAGER:

    def _spawn(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]

else:

    def _spawn(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
        return loop.create_task(coro)


@overload
async def call(node: type[Node[T]], /, *args: Any, **kwargs: Any) -> T: ...
@overload
async def call(node: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
@overload
async def call(node: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


async def call(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run `node` with these arguments and return its output (or raise its exception).

    Inside a node, the node becomes a child of the caller. At the top of a runner
    block it is a new top-level request (the runner's `timeout` applies). With
    no runner at all it runs in a temporary runner made from the global config.

    Raises:
        NodeCreationError: the arguments do not fit the node.
    """
    parent = current_node.get()
    if parent is not None:  # inside a node: here, or on a Ray worker (its host is the link)
        host = current_host.get()
        assert host is not None  # a node runs only where a host is set
        return await host.call(node, args, kwargs or None, parent)
    runner: Runner | None = current_runner.get()
    if runner is None:
        return await _in_temporary_runner(node, args, kwargs)
    return await request(runner, node, args, kwargs)


async def _in_temporary_runner(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    async with Runner() as runner:
        return await request(runner, node, args, kwargs)


def call_sync(node: Any, /, *args: Any, **kwargs: Any) -> Any:
    """`call` for synchronous code: a thread node, or a program with no event loop running.

    Raises:
        ContextError: called in a thread that is running an event loop (use `await rc.call`).
    """
    if loop_running():
        raise ContextError(
            "rc.call_sync was called inside a running event loop, where it would block the "
            "loop; use `await rc.call(...)` instead"
        )
    if current_node.get() is not None:  # a thread node: hand the call to its host's loop
        host = current_host.get()
        loop = None if host is None else host.loop
        if loop is None or loop.is_closed():
            raise ContextError("rc.call_sync: this runner's event loop is not running")
        # lent before the call is handed over: the child may be submitted at once
        with lending_slot():  # a waiting parent must not hold the thread its child needs
            return asyncio.run_coroutine_threadsafe(call(node, *args, **kwargs), loop).result()
    runner: Runner | None = current_runner.get()
    if runner is None:
        with Runner() as temporary:
            return request_sync(temporary, node, args, kwargs)
    return request_sync(runner, node, args, kwargs)


async def batch(
    node: Any, /, *iterables: Iterable[Any], return_exceptions: bool = True
) -> list[Any]:
    """Run `node` over zipped `iterables` in parallel; outputs in input order.

    `rc.batch(f, [1, 2], "ab")` runs `f(1, "a")` and `f(2, "b")` at once, each
    in a task of its own (from Python 3.12 an eager one: a call runs at once up
    to its first real wait). With `return_exceptions=True` (the default) a failed
    call puts its exception in its slot; with False the first failure cancels
    the other calls and is raised. Cancelling the batch cancels every call. A
    call stopped at an `rc.ask` (an open question, or an answer that does not fit)
    is never a value: once every call has asked, that stops the batch too.

    Raises:
        ValueError: the iterables have different lengths.
        QuestionPending: a call's question is open (the run ends waiting).
        HumanInputError: a call's answer did not fit its question's schema.
    """
    # a list: uneven input fails here, before any call starts
    calls = [(node, args, None) for args in zip(*iterables, strict=True)]
    if current_host.get() is None:
        async with Runner():  # one temporary runner for the whole batch
            return await call_all(calls, return_exceptions)
    return await call_all(calls, return_exceptions)


async def call_all(
    calls: Collection[tuple[Any, tuple[Any, ...], dict[str, Any] | None]],
    return_exceptions: bool = True,
) -> list[Any]:
    """Run several calls `(node, args, kwargs)` in parallel, as `batch` does one node.

    Inside a node the calls are registered at once and each runs in a task of
    its own; elsewhere (top level, a Ray worker) each is an ordinary `call`.
    """
    host = current_host.get()
    parent = current_node.get()
    # Registering all calls at once needs the records: only the coordinator has them.
    if parent is None or not isinstance(host, Coordinator):
        # each call in a task gather makes: a node's sys.exit() or KeyboardInterrupt
        # comes out of it carried (control.Interrupt), and is raised again here
        runs = [carried(call(node, *args, **(kwargs or {}))) for node, args, kwargs in calls]
        try:
            results = await asyncio.gather(*runs, return_exceptions=return_exceptions)
        except Interrupt as interrupt:
            stop = interrupt.error
        else:
            interrupted = next((r for r in results if isinstance(r, Interrupt)), None)
            if interrupted is None:
                return _unless_stopped_at_an_ask(list(results))
            stop = interrupted.error
        raise stop
    # Spawning allocates a few objects per call that all stay alive until the
    # call ends, so during a big spawn Python's cyclic collector runs over and
    # over and frees nothing (at 100,000 calls, a quarter of the batch's time).
    # It is paused for this synchronous section only; one the program switched
    # off stays off.
    paused = len(calls) >= PAUSE_COLLECTOR_FROM and gc.isenabled()
    if paused:
        gc.disable()
    try:
        records: list[NodeRecord | BaseException] = []
        for node, args, kwargs in calls:
            try:
                records.append(host.register(node, args, kwargs or None, parent))
            except NodeCreationError as error:
                if not return_exceptions:
                    _discard(host, records)
                    raise
                records.append(error)
        if not EAGER:
            outcomes = _start_all(host, records, return_exceptions)
    finally:
        if paused:
            gc.enable()
    if EAGER:  # the calls start running right away: not with the collector paused
        outcomes = _start_all(host, records, return_exceptions)
    return await outcomes


def _start_all(
    coordinator: Coordinator, records: list[NodeRecord | BaseException], return_exceptions: bool
) -> Coroutine[Any, Any, list[Any]]:
    """Start the registered calls, each in a task of its own; await the result for their outcomes.

    Lighter than `asyncio.gather`: each task writes its own slot and counts
    down, so there is no per-child done-callback and no wrapper future.
    """
    results: list[Any] = list(records)
    pending = [i for i, r in enumerate(records) if not isinstance(r, BaseException)]
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    remaining = len(pending)
    if not remaining:
        done.set_result(None)
    submit = coordinator.submit

    async def one(index: int, record: NodeRecord) -> None:
        nonlocal remaining
        try:
            results[index] = await submit(record)
        except BaseException as error:
            results[index] = error  # never leave the record itself in its slot
            if isinstance(error, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise  # cancelled: the task ends cancelled too
            if not return_exceptions and not done.done():
                done.set_exception(error)
        finally:
            remaining -= 1
            if not remaining and not done.done():
                done.set_result(None)

    tasks = [_spawn(loop, one(i, records[i])) for i in pending]  # type: ignore[arg-type]

    async def outcomes() -> list[Any]:
        try:
            await done
        except BaseException:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            raise
        return _unless_stopped_at_an_ask(results)

    return outcomes()


def _unless_stopped_at_an_ask(results: list[Any]) -> list[Any]:
    """`results`, or raise what stopped a call at an `rc.ask`.

    That is about the human's input, not the call's code: an answer that does not
    fit its schema, or a question left open. So it stops the batch's caller too
    (once every call has asked what it had to ask) rather than being a value: a
    caller that succeeded with such a value would end the run as if answered, and
    a resumed run would replay it instead of asking again.
    """
    for stop in (HumanInputError, QuestionPending):
        stopped = next((r for r in results if isinstance(r, stop)), None)
        if stopped is not None:
            raise stopped
    return results


def _discard(coordinator: Coordinator, records: list[NodeRecord | BaseException]) -> None:
    """Cancel registered calls that will never run, closing their prepared invocations."""
    for record in records:
        if not isinstance(record, BaseException):
            coordinator.state.cancel(
                record, "not started: another call of the batch failed to start"
            )


class _Done:
    """What `stream` returns: awaiting it finishes at once (so sync code may skip the await)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that ends at once


_DONE = _Done()


def stream(item: Any) -> Awaitable[None]:
    """Hand `item` to the runner's `subscriber` and publish it as a `Streamed` event.

    Usable as `await rc.stream(x)` in async nodes and `rc.stream(x)` in thread nodes.

    Raises:
        ContextError: no runner is active.
    """
    active_host("rc.stream").stream(current_node.get(), item)
    return _DONE
