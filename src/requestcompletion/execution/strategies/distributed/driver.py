"""DistributedExecutionStrategy: run nodes on a Ray cluster, recorded on the driver as if local.

A node with execution mode "distributed" runs in a `NodeHost` actor (`worker.py`).
The driver sends the node type and its arguments, pickled by rc (`wire.py`: a
value that cannot travel fails before anything is sent, naming it), with
`NodeHost.start`, a plain method call: a node that never talks back (a leaf) is
done when it returns, in one round trip. A node that does talk back is handed
off, and the driver reads the rest with `NodeHost.follow`, a streaming
generator. Either way it reads batches of typed messages (`messages.py`):
stream items and context writes go to the task's `Driver`; a child call runs
through it too, as a child of the remote node (so the graph, events and limits
are the same as for a local node), and its outcome is sent back with
`NodeHost.resolve`. `rc.context` travels as deltas (`sync.py`: the whole of it
once per worker, then what changed); the node's model calls reserve on the
run's budgets here (`spending.py`), and are announced and recorded here as an
agent's on the driver are (`model_calls.py`). The node's result or exception ends the
run: the exception is raised here with its own type and the worker's traceback
as its cause, or as a `RemoteNodeError` naming it when its type cannot be rebuilt.

Actors are pooled per resource shape (`pool.py`). A worker that dies fails its
node with a `RemoteNodeError` and its actor is replaced; so does a node raising
`SystemExit` or `KeyboardInterrupt` (its actor is killed once its other nodes
end). Closing the runner kills its actors, and, when rc started the local cluster
(or connected to an address), lets go of it (`cluster.py`).
"""

from __future__ import annotations

import asyncio
import importlib
import warnings
from collections.abc import Awaitable, Mapping
from types import CoroutineType, ModuleType
from typing import Any

from ....config import MAX_SECONDS, ExecutorConfig
from ....context import current_node, current_runner
from ....errors import ClusterError, ConfigError, MissingExtraError, RemoteNodeError
from ...strategy import Driver, ExecutionStrategy, NodeTask
from .messages import (
    ChildCall,
    CloseBudget,
    ContextDeleted,
    ContextPut,
    FollowUp,
    Message,
    ModelAsked,
    ModelChunk,
    ModelReplied,
    ModelStreamed,
    OpenBudget,
    Raised,
    Recall,
    Release,
    Reserve,
    Returned,
    Settle,
    Streamed,
)
from .model_calls import NodeModelCalls
from .pool import Host, Pool, capacity, off_loop, options_of
from .spending import NodeBudgets
from .sync import DriverContext

__all__ = ["DistributedExecutionStrategy"]

INSTALL_HINT = "pip install 'requestcompletion[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module, or a MissingExtraError with the install command."""
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise MissingExtraError(
            f"execution mode 'distributed' runs nodes on Ray, which is not installed "
            f"({error}); install it with: {INSTALL_HINT}"
        ) from None


class DistributedExecutionStrategy(ExecutionStrategy):
    """Runs nodes in Ray actors; rc calls, stream items and context writes come back here.

    Give it to a runner to choose the cluster:
    ``rc.Runner(execution_modes={"distributed": DistributedExecutionStrategy(address=...)})``;
    without one, the runner makes a default one on the first distributed node.
    What each node asks of the cluster is its ``execution_options["distributed"]``.

    Args:
        address: the cluster, "host:port"; None: the one this process is connected
            to, else `$RAY_ADDRESS`, else a new local cluster (shut down when the
            last runner using it closes).
        init: extra keyword arguments for `ray.init` when rc connects or starts the
            cluster, e.g. ``{"runtime_env": {...}, "num_cpus": 4}``.
        init_options: deprecated spelling of `init`.
        connect_timeout: seconds to reach `address` and connect to it (default:
            the class attribute, 15); an address nothing listens on fails at once.
        start_timeout: seconds to wait for a local cluster to start (120).
        placement_timeout: seconds to wait for the cluster to place a new actor
            (60): a node whose resources exist but stay taken fails after it (one
            asking for what no node of the cluster has fails at once).
        place_timeout: deprecated spelling of `placement_timeout`.

    Raises:
        MissingExtraError: Ray is not installed.
        ConfigError: a timeout is not a number of seconds > 0 (the message names it).
    """

    name = "distributed"
    connect_timeout = 15.0
    start_timeout = 120.0
    placement_timeout = 60.0

    def __init__(
        self,
        address: str | None = None,
        init: Mapping[str, Any] | None = None,
        *,
        connect_timeout: float | None = None,
        start_timeout: float | None = None,
        placement_timeout: float | None = None,
        init_options: Mapping[str, Any] | None = None,
        place_timeout: float | None = None,
    ) -> None:
        if place_timeout is not None:
            warnings.warn(
                "DistributedExecutionStrategy(place_timeout=...) is deprecated and goes away "
                "in the next release; write placement_timeout=...",
                DeprecationWarning,
                stacklevel=2,
            )
            placement_timeout = (
                placement_timeout if placement_timeout is not None else place_timeout
            )
        cls = type(self)
        self.connect_timeout = _timeout("connect_timeout", connect_timeout, cls.connect_timeout)
        self.start_timeout = _timeout("start_timeout", start_timeout, cls.start_timeout)
        self.placement_timeout = _timeout(
            "placement_timeout", placement_timeout, cls.placement_timeout
        )
        self._ray = require_ray()
        if init_options is not None:
            warnings.warn(
                "DistributedExecutionStrategy(init_options=...) is deprecated and goes away "
                "in the next release; write init=...",
                DeprecationWarning,
                stacklevel=2,
            )
            init = init if init is not None else init_options
        self.address = address
        self.init_options = dict(init or {})
        self._lock = asyncio.Lock()
        self._connected = False
        self._owned = False
        self._failure: str | None = None
        self._pools: dict[Any, Pool] = {}
        self._pool_of: dict[Any, Pool] = {}  # NodeSpec -> its pool
        self._reapers: set[asyncio.Task[None]] = set()
        self._contexts: dict[int, DriverContext] = {}  # id(run variables) -> their versions

    @classmethod
    def from_config(cls, config: ExecutorConfig) -> DistributedExecutionStrategy:
        """The runner's default strategy (from the deprecated `ray_address`, `ray_init`)."""
        return cls(config.ray_address, config.ray_init)

    # --- running a node ------------------------------------------------------

    async def execute(self, task: NodeTask) -> Any:
        from .wire import pack_args, pack_node

        if isinstance(task.work, CoroutineType):
            task.work.close()  # prepared for a local run; the node runs on the cluster instead
        if not self._connected:
            await self._connect()
        spec = task.spec
        kwargs = None if task.kwargs is None else dict(task.kwargs)
        payload = (
            pack_node(spec.name, spec.node),
            pack_args(spec.name, spec.node, task.args, kwargs),
        )
        pool = self._pool_of.get(spec) or await self._pool_for(spec)
        host = await pool.acquire(spec.name)
        try:
            return await self._drive(pool, host, task, payload, self._context_of(task))
        finally:
            pool.release(host)

    def _context_of(self, task: NodeTask) -> DriverContext:
        """The versioned view of the task's run context (one per run this strategy serves);
        it holds the variables, so their id stays theirs."""
        variables = task.driver.variables
        return self._contexts.get(id(variables)) or self._contexts.setdefault(
            id(variables), DriverContext(variables)
        )

    async def _drive(
        self,
        pool: Pool,
        host: Host,
        task: NodeTask,
        payload: tuple[bytes, bytes],
        sync: DriverContext,
    ) -> Any:
        from .wire import loads

        exceptions = self._ray.exceptions
        where = f"node {task.spec.name!r} (id {task.id})"
        driver = task.driver
        children: set[asyncio.Task[None]] = set()
        ended = False  # the node's outcome came back
        handle: int | None = None  # the node talked back: it goes on through `follow`
        stream: Any = None
        applied = [0]  # the node's context writes applied here (its call-backs' answers say)
        runner, record = current_runner.get(), current_node.get()
        spending = NodeBudgets(runner, record)
        model_calls = NodeModelCalls(runner, record)

        def take(batch: list[Message]) -> Any:
            """Apply a batch of messages; the node's output if it holds the outcome."""
            nonlocal ended
            for message in batch:
                if isinstance(message, Returned):
                    ended = True
                    return loads(message.blob)
                if isinstance(message, Raised):
                    ended = True
                    raise _remote_error(pool, host, where, message)
                if isinstance(message, ChildCall | Reserve | Recall):
                    if isinstance(message, ChildCall):
                        work = _child(driver, message.blob)
                    elif isinstance(message, Reserve):
                        work = spending.reserved(message)
                    else:
                        work = model_calls.recalled(message)
                    serve = self._serve(host, message.call_id, work, sync, applied)
                    child = asyncio.create_task(serve)  # in order: reservations too
                    children.add(child)
                    child.add_done_callback(children.discard)
                elif isinstance(message, Settle | Release | OpenBudget | CloseBudget):
                    spending.apply(message)
                elif isinstance(message, ModelAsked | ModelChunk | ModelStreamed | ModelReplied):
                    model_calls.apply(message)
                elif isinstance(message, Streamed):
                    driver.stream(loads(message.blob))
                elif isinstance(message, ContextPut | ContextDeleted):
                    sync.apply(message)
                    applied[0] += 1
            return None

        delta = sync.delta_for(host)
        reports = model_calls.reports()
        first = host.actor.start.remote(*payload, delta, task.id, spending.applies(), reports)
        try:
            batch = await first  # a node that never talks back ends here: one plain call
            sync.confirm(host, delta.version)
            if isinstance(batch[-1], FollowUp):
                handle = batch.pop().handle
                stream = self._follow(host, handle)
            output = take(batch)
            if ended:
                return output
            if stream is not None:
                async for ref in stream:
                    output = take(await ref)
                    if ended:
                        return output
            raise RemoteNodeError(f"{where} ended on the Ray worker without a result")
        except exceptions.RayActorError as error:
            ended = True  # the node is gone with its worker: nothing to drop
            pool.discard(host)
            raise RemoteNodeError(
                f"{where} was lost: the Ray worker running it died or became unreachable "
                f"({type(error).__name__}); its work is gone. Check the worker's memory and "
                f"logs; the next distributed node gets a new worker"
            ) from None
        except exceptions.RayTaskError as error:  # NodeHost itself failed (not the node)
            cause = error.cause
            if isinstance(cause, BaseException):
                raise cause from None
            raise RemoteNodeError(f"{where} failed on the Ray worker: {error}") from None
        except exceptions.RayError as error:
            raise RemoteNodeError(f"{where} failed on the Ray worker: {error}") from None
        except asyncio.CancelledError:
            # stop the remote work too, not just our waiting
            if stream is not None:
                self._ray.cancel(stream)
            else:
                self._ray.cancel(first)
                self._reap(host, first)
            raise
        finally:
            if handle is not None and not ended:
                host.actor.drop.remote(handle)  # the node would otherwise run on, unheard
            for child in children:
                child.cancel()
            if children:
                await asyncio.wait(children)
            spending.close()  # what the node still held reserved is free again

    def _follow(self, host: Host, handle: int) -> Any:
        """The stream of a node that talked back (not a leaf): its later batches."""
        return host.actor.follow.remote(handle)

    def _reap(self, host: Host, first: Any) -> None:
        """After cancelling `start`: drop the node if it had been handed off just before."""

        async def reap() -> None:
            try:
                batch = await first
            except (Exception, asyncio.CancelledError):
                return  # cancelled in time (or the worker is gone): nothing runs on
            if batch and isinstance(batch[-1], FollowUp):
                host.actor.drop.remote(batch[-1].handle)

        task = asyncio.get_running_loop().create_task(reap())
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    async def _serve(
        self,
        host: Host,
        call_id: int,
        work: Awaitable[Any],
        sync: DriverContext,
        applied: list[int],
    ) -> None:
        """Answer what the remote node asked (a child call run here, a budget
        reservation): `work`'s outcome, with what changed in the context meanwhile."""
        from .wire import reply_of

        ok, reply = await reply_of(work)
        delta = sync.delta_for(host)
        try:
            await host.actor.resolve.remote(call_id, ok, reply, delta, applied[0])
        except self._ray.exceptions.RayError:
            return  # the worker is gone: the node's own stream reports that
        sync.confirm(host, delta.version)

    # --- connecting and placing ----------------------------------------------

    async def _connect(self) -> None:
        from . import cluster

        async with self._lock:
            if self._connected:
                return
            if self._failure is not None:  # do not pay a connect timeout on every call
                raise ClusterError(self._failure)
            try:
                self._owned = await cluster.acquire(
                    self.address,
                    self.init_options,
                    connect_timeout=self.connect_timeout,
                    start_timeout=self.start_timeout,
                )
            except ClusterError as error:
                self._failure = str(error)
                raise
            self._connected = True

    async def _pool_for(self, spec: Any) -> Pool:
        options = options_of(spec)
        key = repr(sorted(options.items()))
        pool = self._pools.get(key)
        if pool is None:
            cap = await off_loop(capacity, self._ray, spec.name, options)  # asks the cluster
            pool = self._pools.get(key)  # another node of this shape may have made it meanwhile
            if pool is None:
                pool = self._pools[key] = Pool(self._ray, options, cap, self.placement_timeout)
        self._pool_of[spec] = pool
        return pool

    @property
    def place_timeout(self) -> float:
        """Deprecated name of `placement_timeout`."""
        return self.placement_timeout

    # --- closing -------------------------------------------------------------

    def shutdown(self) -> None:
        from . import cluster

        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._pool_of.clear()
        self._contexts.clear()  # the actors, and the contexts they kept, are gone
        if self._connected:
            self._connected = False
            cluster.release(self._owned)


def _timeout(name: str, value: Any, default: float) -> float:
    """A timeout option: None for the default, else a number of seconds > 0."""
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_SECONDS
    ):
        raise ConfigError(
            f"DistributedExecutionStrategy({name}=...) must be a number of seconds > 0 "
            f"and <= {MAX_SECONDS:g}, not {value!r}"
        )
    return float(value)


def _remote_error(pool: Pool, host: Host, where: str, raised: Raised) -> BaseException:
    """The exception to raise for a node's `Raised`: its own, except for SystemExit and
    KeyboardInterrupt, which become a `RemoteNodeError` and retire the node's worker.

    Re-raised here, either would stop the driver's program for what was the worker
    asking its own process to stop; and rc does not trust an actor whose node asked
    that, so it leaves the pool (killed once its other nodes end; the next node
    gets a new one)."""
    from .wire import decode_error

    error = decode_error(where, raised)
    if not isinstance(error, SystemExit | KeyboardInterrupt):
        return error
    pool.retire(host)
    failure = RemoteNodeError(
        f"{where} raised {type(error).__name__}({', '.join(map(repr, error.args))}) on its "
        f"Ray worker: the node failed, and its worker left the pool (the next distributed "
        f"node gets a new one). To fail a node, raise an Exception instead",
        remote_type=raised.type_name,
        remote_traceback=raised.traceback,
    )
    failure.__cause__ = error.__cause__  # the remote traceback
    return failure


async def _child(driver: Driver, blob: bytes) -> Any:
    """Run a child a remote node called (`ChildCall`) here: its output."""
    from .wire import loads

    node, args, kwargs = loads(blob)
    return await driver.call(node, args, kwargs)
