"""Coordinator: runs one registered call on its strategy and records how it ended.

`submit` is the frame every node runs inside. It sets the current node, picks
the strategy, applies the node's own timeout, and turns the outcome into a
state change: finished, failed, or cancelled. It is also where the run's
cancellations stop: a cancellation aimed at this node by `runner.cancel` is
absorbed here and becomes a `NodeCancelledError` for the caller; any other
cancellation (a timeout above, the run ending) passes on up.

A node's `SystemExit` or `KeyboardInterrupt` is where a run stops: the node is
recorded, the run ended (`RunControl.end_run`), and its caller sees a
cancellation like every other node of the ending run. asyncio would let either
break out of the event loop from whatever task it left, so neither leaves a
task of rc's except inside a `control.Interrupt`; the runner raises it again,
unchanged, to whoever made the request.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any

from .. import budgets as _budget
from .._frozen import fast_constructor
from ..config import ExecutorConfig
from ..context import current_node, current_runner
from ..errors import (
    ConfigError,
    FatalError,
    ModelRetry,
    NodeCancelledError,
    NodeCreationError,
    NodeTimeoutError,
    QuestionPending,
)
from ..nodes.base import spec_of
from ..state.persistence import SavedType
from ..state.records import NodeRecord
from ..state.state import RCState
from .control import Interrupt, RunControl, carried
from .strategies import (
    AsyncioExecutionStrategy,
    DistributedExecutionStrategy,
    ThreadedExecutionStrategy,
)
from .strategy import ExecutionStrategy, NodeTask

__all__ = ["Coordinator"]

# Inline calls nest coroutine frames; every so many levels a node starts in a
# fresh task, whose stack starts empty, so deep recursion never hits the limit.
FRESH_TASK_EVERY = 64

if sys.version_info < (3, 12):
    # On 3.11 asyncio.current_task() is Python code that looks the loop up again;
    # the loop's entry in this (C) dict is the same answer at a fifth of the cost.
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

    def _task_of(loop: asyncio.AbstractEventLoop | None) -> asyncio.Task[Any] | None:
        task: asyncio.Task[Any] | None = _current_tasks.get(loop)
        return task

else:  # pragma: no cover - C-accelerated there

    def _task_of(loop: asyncio.AbstractEventLoop | None) -> asyncio.Task[Any] | None:
        return asyncio.current_task(loop)


# The built-in modes, each made on first use from the runner's config.
BUILT_IN: Mapping[str, Callable[[ExecutorConfig], ExecutionStrategy]] = {
    "asyncio": lambda config: AsyncioExecutionStrategy(),
    "threads": lambda config: ThreadedExecutionStrategy(config.max_threads),
    "distributed": DistributedExecutionStrategy.from_config,
}
_BUILT_IN_MODES: tuple[str, ...] = tuple(BUILT_IN)
# It holds nothing (it hands back the prepared coroutine), so every runner shares one.
_INLINE = AsyncioExecutionStrategy()


class Coordinator:
    """Routes calls to execution strategies and records their outcomes.

    Args:
        control: the run's control state (its fatal error, cancel reasons, loop).
        state: the run's records.
        config: the run's config.
        modes: the user's strategies by mode name, merged over the built-ins.
    """

    def __init__(
        self,
        control: RunControl,
        state: RCState,
        config: ExecutorConfig,
        modes: Mapping[str, ExecutionStrategy] | None = None,
    ) -> None:
        self.control = control
        self.state = state
        self.config = config
        self.end_on_error = config.end_on_error
        if modes is None:  # the usual case, and a short run feels every step here
            self.strategies: dict[str, ExecutionStrategy] = {"asyncio": _INLINE}
            self.modes: tuple[str, ...] = _BUILT_IN_MODES
        else:
            self.strategies = _checked(modes)
            self.strategies.setdefault("asyncio", _INLINE)
            self.modes = tuple(dict.fromkeys([*BUILT_IN, *self.strategies]))
        # The built-in inline strategy only awaits the prepared coroutine: the
        # coordinator does that itself, rather than build a task for it per call.
        asyncio_mode = self.strategies["asyncio"]
        self.inline = asyncio_mode if type(asyncio_mode) is AsyncioExecutionStrategy else None
        # "asyncio" and "threads" are what each kind of node gets anyway; any other
        # default mode sends every node that names none to that strategy.
        default = config.execution_mode
        self.default_mode = None if default in ("asyncio", "threads") else default
        self.limit = (
            None if config.max_concurrency is None else asyncio.Semaphore(config.max_concurrency)
        )
        self._holding: set[int] = set()  # ids of nodes holding a max_concurrency slot
        self._waiting_on: dict[int, int] = {}  # node id -> children of it still alive

    def strategy(self, mode: str, name: str = "a node") -> ExecutionStrategy:
        """The strategy for an execution mode; a built-in one is made on first use.

        Raises:
            ConfigError: the runner has no strategy of that name.
        """
        strategy = self.strategies.get(mode)
        if strategy is None:
            make = BUILT_IN.get(mode)
            if make is None:
                raise ConfigError(
                    f"{name} asks for execution mode {mode!r}, which this runner does not "
                    f"have; its modes are {', '.join(map(repr, self.modes))}. Give the "
                    f"runner a strategy for it: rc.Runner(execution_modes={{{mode!r}: ...}})"
                )
            strategy = self.strategies[mode] = make(self.config)
        return strategy

    def register(
        self,
        node: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        parent: NodeRecord | None,
    ) -> NodeRecord:
        """Create the node's invocation and record the call; a creation failure is recorded too.

        Raises:
            NodeCreationError: the arguments do not fit the node.
            BudgetExceededError: a budget's max_nodes would be passed.
        """
        if _budget.OPEN or self.config.budget is not None:
            runner = current_runner.get()
            if runner is not None:  # max_nodes: refused before the node exists
                _budget.count_node(runner, parent)
        try:
            spec = spec_of(node)
            work = spec.create(args, kwargs)
        except NodeCreationError as error:
            kind = getattr(node, "__rc_spec__", None) or SavedType(
                getattr(node, "__name__", type(node).__name__), repr(node)
            )
            self.state.register_failed(kind, args, kwargs, parent, error)
            if self.end_on_error:
                self.control.end_run(error)
            raise
        return self.state.register(spec, args, kwargs, parent, work)

    # --- the Host interface (context.Host): what a node asks of its run -------

    @property
    def variables(self) -> dict[str, Any]:
        """The run's `rc.context` variables."""
        return self.control.variables

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the run's requests run on."""
        return self.control.loop

    def call(
        self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, parent: NodeRecord
    ) -> Coroutine[Any, Any, Any]:
        """Run `node` as a child of `parent`: register it now, run it when awaited.

        Raises:
            NodeCreationError: the arguments do not fit the node (raised at once).
        """
        return self.submit(self.register(node, args, kwargs, parent))

    def stream(self, parent: NodeRecord | None, item: Any) -> None:
        """An `rc.stream` item of `parent`'s node (None: from the runner's block)."""
        self.state.add_streamed(parent, item)

    async def submit(self, record: NodeRecord) -> Any:
        """Run a registered call to its end; return its output or raise its error."""
        spec = record.spec
        mode = spec.mode if self.default_mode is None or spec.explicit_mode else self.default_mode
        limited = self.limit is not None and await self._take_slot(record)
        token = current_node.set(record)
        task = record.task = _task_of(self.control.loop)
        try:
            # inside the try: a strategy that cannot start (Ray missing) fails this node
            strategy = self.strategies.get(mode) or self.strategy(mode, f"node {spec.name!r}")
            if record.cancel_requested:  # cancelled between registration and now
                raise asyncio.CancelledError
            work = record.work if strategy is self.inline else strategy.execute(self._task(record))
            if spec.timeout is not None:
                output = await self._with_timeout(work, record, spec.timeout)
            elif record.depth % FRESH_TASK_EVERY or not record.depth:
                output = await work
            else:
                output = await asyncio.create_task(carried(work))
        except asyncio.CancelledError:
            if record.cancel_requested:  # aimed at this node: the cancellation stops here
                if task is not None and task.cancelling():
                    task.uncancel()
                error = NodeCancelledError(
                    f"node {spec.name!r} (id {record.id}) was cancelled by runner.cancel"
                )
                self.state.cancel(record, "cancelled by runner.cancel", error)
                raise error from None
            self.state.cancel(record, self.control.cancel_reason())
            raise
        except BaseException as error:
            stop = _interrupt_in(error)
            if stop is not None:
                self._stop_run(record, stop)
                raise asyncio.CancelledError from None  # never out of a task: see Interrupt
            self.state.fail(record, error)
            # an open rc.ask question is no error: siblings go on and ask theirs too; nor is
            # a ModelRetry, a message for the agent that called this node
            ends = self.end_on_error and not isinstance(error, QuestionPending | ModelRetry)
            if ends or isinstance(error, FatalError):
                self.control.end_run(error)
            raise
        finally:
            current_node.reset(token)
            if limited:
                await self._give_slot(record)
        if self.control.fatal is not None:  # the run ended while this node was finishing
            self.state.cancel(record, self.control.cancel_reason())
            raise asyncio.CancelledError
        self.state.finish(record, output)
        return output

    def _stop_run(self, record: NodeRecord, error: KeyboardInterrupt | SystemExit) -> None:
        """A node raised `error`: record it, and end the whole run, whatever `end_on_error` says.

        `sys.exit()` stops a program and Ctrl-C cancels it, so neither is an error
        a caller could handle: the run ends, every other node still running is
        cancelled, and the runner raises `error` to whoever made the request.
        """
        if isinstance(error, KeyboardInterrupt):
            self.state.cancel(
                record, "KeyboardInterrupt in the node: the run stops, as on Ctrl-C", error
            )
        else:
            self.state.fail(record, error)
        self.control.end_run(error)

    async def _take_slot(self, record: NodeRecord) -> bool:
        """Wait for a max_concurrency slot.

        A node waiting on children it called is not running its own code, so
        its slot is lent out while any child it called is alive, and taken back
        when the last one ends: chains deeper than the limit cannot deadlock.
        """
        assert self.limit is not None
        parent = record.parent
        if parent is not None:
            waiting = self._waiting_on
            waiting[parent.id] = waiting.get(parent.id, 0) + 1
            if parent.id in self._holding:
                self._holding.discard(parent.id)
                self.limit.release()
        try:
            await self.limit.acquire()
        except asyncio.CancelledError:
            self.state.cancel(record, self.control.cancel_reason())
            await self._give_slot(record)
            raise
        self._holding.add(record.id)
        return True

    async def _give_slot(self, record: NodeRecord) -> None:
        """Free this node's slot; the caller takes one back when its last child ends."""
        assert self.limit is not None
        if record.id in self._holding:
            self._holding.discard(record.id)
            self.limit.release()
        parent = record.parent
        if parent is None:
            return
        left = self._waiting_on[parent.id] - 1
        if left:
            self._waiting_on[parent.id] = left
            return
        del self._waiting_on[parent.id]
        if parent.status == "running":
            await self.limit.acquire()
            self._holding.add(parent.id)

    def _task(self, record: NodeRecord) -> NodeTask:
        kwargs = record.kwargs
        return _new_task(
            record.id,
            record.parent_id,
            record.spec,
            record.args,
            None if not kwargs else MappingProxyType(kwargs),
            record.work,
            _BoundDriver(self, record),
        )

    async def _with_timeout(self, work: Awaitable[Any], record: NodeRecord, seconds: float) -> Any:
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await work
        except TimeoutError:
            if not scope.expired():
                raise  # the node's own TimeoutError, not ours
            raise NodeTimeoutError(
                f"node {record.spec.name!r} (id {record.id}) ran past its timeout of "
                f"{seconds}s; raise the node's timeout or make it faster"
            ) from None

    def shutdown(self) -> None:
        """Shut every strategy down."""
        for strategy in self.strategies.values():
            strategy.shutdown()


def _checked(modes: Mapping[str, ExecutionStrategy]) -> dict[str, ExecutionStrategy]:
    """The user's strategies, each a strategy instance under a non-empty name."""
    if not isinstance(modes, Mapping):
        raise ConfigError(
            f"execution_modes must map mode names to strategies, e.g. "
            f"{{'gpu': MyStrategy()}}, not {modes!r}"
        )
    for mode, strategy in modes.items():
        if not isinstance(mode, str) or not mode:
            raise ConfigError(
                f"execution_modes: a mode name must be a non-empty string, not {mode!r}"
            )
        if not isinstance(strategy, ExecutionStrategy):
            hint = " (an instance, not the class)" if isinstance(strategy, type) else ""
            raise ConfigError(
                f"execution_modes[{mode!r}] must be an rc.ExecutionStrategy{hint}, not {strategy!r}"
            )
    return dict(modes)


_new_task = fast_constructor(NodeTask)


class _BoundDriver:
    """The coordinator as the node of one task sees it (`strategy.Driver`)."""

    __slots__ = ("coordinator", "record")

    def __init__(self, coordinator: Coordinator, record: NodeRecord) -> None:
        self.coordinator = coordinator
        self.record = record

    @property
    def variables(self) -> dict[str, Any]:
        return self.coordinator.variables

    def call(
        self, node: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None
    ) -> Awaitable[Any]:
        return self.coordinator.call(node, args, dict(kwargs) if kwargs else None, self.record)

    def stream(self, item: Any) -> None:
        self.coordinator.stream(self.record, item)


def _interrupt_in(error: BaseException) -> KeyboardInterrupt | SystemExit | None:
    """The KeyboardInterrupt or SystemExit `error` is (or carries), else None."""
    if isinstance(error, Interrupt):
        return error.error
    if isinstance(error, KeyboardInterrupt | SystemExit):
        return error
    return None
