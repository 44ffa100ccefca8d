"""DistributedExecutionStrategy: run nodes on a Ray cluster, recorded on the driver as if local.

A node with execution mode "distributed" runs in a `NodeHost` actor (see
`_ray_worker`). The driver sends the node type and its arguments, pickled by
rc (so a value that cannot travel fails before anything is sent, naming it),
with `NodeHost.start`, a plain method call: a node that never talks back (a
leaf) is done when it returns, in one round trip. A node that does talk back
is handed off, and the driver reads the rest with `NodeHost.follow`, a
streaming generator. Either way it reads batches of messages: `rc.stream` items and
`rc.context` writes are applied to the runner here; an `rc.call` is run here,
through the ordinary call path with the remote node as its parent (so the
graph, events and limits are the same as for a local node), and its outcome is
sent back with `NodeHost.resolve`. The node's result or exception ends the run:
the exception is raised here with its own type and the worker's traceback as
its cause, or as a `RemoteNodeError` naming it when its type cannot be rebuilt.

Actors are pooled per resource shape (the node's ``execution_options["distributed"]``:
`num_cpus`, `num_gpus`, `memory`, `resources`), at most as many as the cluster could
place, and each node goes to the least busy one. A shape that no node of the cluster has fails
at once; one that exists but stays taken fails after `place_timeout`. A worker
that dies fails its node with a `RemoteNodeError` and its actor is replaced.
Closing the runner kills its actors, and, when rc started the local cluster
(or connected to an address), lets go of it (see `_ray_cluster`).
"""

from __future__ import annotations

import asyncio
import importlib
import math
import warnings
from collections.abc import Mapping
from types import CoroutineType, ModuleType
from typing import Any

from ...config import ExecutorConfig
from ...errors import ClusterError, MissingExtraError, NodeCreationError, RemoteNodeError
from ..strategy import Driver, ExecutionStrategy, NodeTask

__all__ = ["DistributedExecutionStrategy"]

INSTALL_HINT = "pip install 'requestcompletion[ray]'"
OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources")
_RESOURCE_OF = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


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
        connect_timeout: seconds to wait for a connection to `address`
            (default: the class attribute, 15).
        start_timeout: seconds to wait for a local cluster to start (120).
        place_timeout: seconds to wait for the cluster to place a new actor (60).

    Raises:
        MissingExtraError: Ray is not installed.
    """

    name = "distributed"
    connect_timeout = 15.0
    start_timeout = 120.0
    place_timeout = 60.0

    def __init__(
        self,
        address: str | None = None,
        init: Mapping[str, Any] | None = None,
        *,
        connect_timeout: float | None = None,
        start_timeout: float | None = None,
        place_timeout: float | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
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
        self.connect_timeout = connect_timeout or type(self).connect_timeout
        self.start_timeout = start_timeout or type(self).start_timeout
        self.place_timeout = place_timeout or type(self).place_timeout
        self._lock = asyncio.Lock()
        self._connected = False
        self._owned = False
        self._failure: str | None = None
        self._pools: dict[Any, _Pool] = {}
        self._pool_of: dict[Any, _Pool] = {}  # NodeSpec -> its pool
        self._reapers: set[asyncio.Task[None]] = set()

    @classmethod
    def from_config(cls, config: ExecutorConfig) -> DistributedExecutionStrategy:
        """The runner's default strategy (from the deprecated `ray_address`, `ray_init`)."""
        return cls(config.ray_address, config.ray_init)

    # --- running a node ------------------------------------------------------

    async def execute(self, task: NodeTask) -> Any:
        from ._ray_wire import pack_args, pack_node, pack_variables

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
        pool = self._pool_of.get(spec) or self._pool_for(spec)
        host = await pool.acquire(spec.name)
        try:
            return await self._drive(
                pool, host, task, payload, pack_variables(task.driver.variables)
            )
        finally:
            host.busy -= 1

    async def _drive(
        self,
        pool: _Pool,
        host: _Host,
        task: NodeTask,
        payload: tuple[bytes, bytes],
        variables: bytes | None,
    ) -> Any:
        from ._ray_wire import decode_error, loads

        exceptions = self._ray.exceptions
        where = f"node {task.spec.name!r} (id {task.id})"
        driver = task.driver
        children: set[asyncio.Task[None]] = set()
        ended = False  # the node's outcome came back
        handle: int | None = None  # the node talked back: it goes on through `follow`
        stream: Any = None

        def take(batch: list[tuple[Any, ...]]) -> Any:
            """Apply a batch of messages; the node's output if it holds the outcome."""
            nonlocal ended
            for message in batch:
                kind = message[0]
                if kind == "result":
                    ended = True
                    return loads(message[1])
                if kind == "error":
                    ended = True
                    raise decode_error(where, *message[1:])
                if kind == "call":
                    child = asyncio.create_task(self._serve(host, driver, *message[1:]))
                    children.add(child)
                    child.add_done_callback(children.discard)
                elif kind == "stream":
                    driver.stream(loads(message[1]))
                elif kind == "put":
                    driver.variables[message[1]] = loads(message[2])
                elif kind == "delete":
                    driver.variables.pop(message[1], None)
            return None

        first = host.actor.start.remote(*payload, variables, task.id)
        try:
            batch = await first  # a node that never talks back ends here: one plain call
            if batch[-1][0] == "follow":
                handle = batch.pop()[1]
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

    def _follow(self, host: _Host, handle: int) -> Any:
        """The stream of a node that talked back (not a leaf): its later batches."""
        return host.actor.follow.remote(handle)

    def _reap(self, host: _Host, first: Any) -> None:
        """After cancelling `start`: drop the node if it had been handed off just before."""

        async def reap() -> None:
            try:
                batch = await first
            except (Exception, asyncio.CancelledError):
                return  # cancelled in time (or the worker is gone): nothing runs on
            if batch and batch[-1][0] == "follow":
                host.actor.drop.remote(batch[-1][1])

        task = asyncio.get_running_loop().create_task(reap())
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    async def _serve(self, host: _Host, driver: Driver, call_id: int, blob: bytes) -> None:
        """Run a child the remote node called, here, and send its outcome back."""
        from ._ray_wire import dumps, encode_error, loads, pack_variables

        ok = False
        try:
            node, args, kwargs = loads(blob)
            output = await driver.call(node, args, kwargs)
            try:
                reply, ok = dumps(output), True
            except Exception as error:
                raise TypeError(
                    f"the output of node {getattr(node, '__name__', node)!r} cannot be "
                    f"pickled to send it to the Ray worker that called it: {error}"
                ) from None
        except Exception as error:
            _, name, text, reply_or_none = encode_error(error)
            reply = reply_or_none or dumps(
                RemoteNodeError(f"{name}: {error}", remote_type=name, remote_traceback=text)
            )
        try:
            await host.actor.resolve.remote(call_id, ok, reply, pack_variables(driver.variables))
        except self._ray.exceptions.RayError:
            pass  # the worker is gone: the node's own stream reports that

    # --- connecting and placing ----------------------------------------------

    async def _connect(self) -> None:
        from . import _ray_cluster

        async with self._lock:
            if self._connected:
                return
            if self._failure is not None:  # do not pay a connect timeout on every call
                raise ClusterError(self._failure)
            try:
                self._owned = await _ray_cluster.acquire(
                    self.address,
                    self.init_options,
                    connect_timeout=self.connect_timeout,
                    start_timeout=self.start_timeout,
                )
            except ClusterError as error:
                self._failure = str(error)
                raise
            self._connected = True

    def _pool_for(self, spec: Any) -> _Pool:
        options = _options_of(spec)
        key = repr(sorted(options.items()))
        pool = self._pools.get(key)
        if pool is None:
            cap = self._capacity(spec.name, options)
            pool = self._pools[key] = _Pool(self, options, cap)
        self._pool_of[spec] = pool
        return pool

    def _capacity(self, name: str, options: Mapping[str, Any]) -> int:
        """How many actors of this shape the cluster can hold; fails if no node can hold one."""
        needs = _needs(options)
        nodes = [n["Resources"] for n in self._ray.nodes() if n.get("Alive")]
        if needs and not any(
            all(have.get(r, 0) >= amount for r, amount in needs.items()) for have in nodes
        ):
            available = [
                {r: v for r, v in have.items() if not r.startswith("node:")} for have in nodes
            ]
            raise ClusterError(
                f"node {name!r} asks the Ray cluster for {needs!r}, but no node of the "
                f"cluster has that much (its nodes have {available!r}); change the node's "
                f"execution_options['distributed'], or add a node that has them"
            )
        totals = self._ray.cluster_resources()
        cap = max(1, int(totals.get("CPU", 1)))
        for resource, amount in needs.items():
            if amount > 0:
                cap = min(cap, max(1, math.floor(totals.get(resource, 0) / amount)))
        return cap

    # --- closing -------------------------------------------------------------

    def shutdown(self) -> None:
        from . import _ray_cluster

        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._pool_of.clear()
        if self._connected:
            self._connected = False
            _ray_cluster.release(self._owned)


def _options_of(spec: Any) -> dict[str, Any]:
    """A node's options for the cluster (`execution_options["distributed"]`), checked."""
    raw = spec.options.get("distributed")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or set(raw) - set(OPTION_KEYS):
        raise NodeCreationError(
            f"node {spec.name!r}: execution_options['distributed'] must be a mapping with "
            f"keys among "
            f"{', '.join(OPTION_KEYS)}, not {raw!r}"
        )
    options = dict(raw)
    resources = options.get("resources", {})
    amounts = [v for k, v in options.items() if k != "resources"] + list(resources.values())
    if not isinstance(resources, Mapping) or not all(
        isinstance(a, int | float) and not isinstance(a, bool) and a >= 0 for a in amounts
    ):
        raise NodeCreationError(
            f"node {spec.name!r}: execution_options['distributed'] amounts must be numbers >= 0 "
            f"(resources a mapping of names to numbers), not {raw!r}"
        )
    return options


def _needs(options: Mapping[str, Any]) -> dict[str, float]:
    needs = {_RESOURCE_OF[k]: float(v) for k, v in options.items() if k in _RESOURCE_OF and v}
    needs.update({k: float(v) for k, v in options.get("resources", {}).items() if v})
    return needs


class _Host:
    """One NodeHost actor and how many nodes it runs now."""

    __slots__ = ("actor", "busy", "ready")

    def __init__(self, actor: Any, ready: asyncio.Future[Any]) -> None:
        self.actor = actor
        self.ready = ready
        self.busy = 0


class _Pool:
    """The actors of one resource shape: grown up to `cap`, least busy first."""

    def __init__(self, strategy: DistributedExecutionStrategy, options: dict[str, Any], cap: int):
        from ._ray_worker import RemoteNodeHost

        self.strategy = strategy
        self.options = options
        self.cap = cap
        self.hosts: list[_Host] = []
        self._factory = RemoteNodeHost.options(**options) if options else RemoteNodeHost

    async def acquire(self, name: str) -> _Host:
        host = min(self.hosts, key=_busy, default=None)
        if host is None or (host.busy and len(self.hosts) < self.cap):
            actor = self._factory.remote()
            host = _Host(actor, asyncio.wrap_future(actor.ping.remote().future()))
            self.hosts.append(host)
        host.busy += 1
        if host.ready.done() and host.ready.exception() is None:
            return host
        try:
            await asyncio.wait_for(asyncio.shield(host.ready), self.strategy.place_timeout)
        except BaseException as error:
            host.busy -= 1
            self.discard(host)
            if isinstance(error, TimeoutError):
                raise ClusterError(
                    f"the Ray cluster did not place a worker for node {name!r} "
                    f"(options {self.options!r}) within {self.strategy.place_timeout}s: "
                    f"the resources exist but stay taken; free them or add nodes"
                ) from None
            if isinstance(error, Exception):
                raise ClusterError(
                    f"could not start a Ray worker for node {name!r}: "
                    f"{type(error).__name__}: {error}"
                ) from None
            raise
        return host

    def discard(self, host: _Host) -> None:
        if host in self.hosts:
            self.hosts.remove(host)
            self._kill(host)

    def _kill(self, host: _Host) -> None:
        if not host.ready.done():
            host.ready.cancel()
        elif not host.ready.cancelled():
            host.ready.exception()  # retrieved: no "never retrieved" noise
        try:
            self.strategy._ray.kill(host.actor)
        except Exception:  # already gone, or the cluster is
            pass

    def close(self) -> None:
        for host in self.hosts:
            self._kill(host)
        self.hosts.clear()


def _busy(host: _Host) -> int:
    return host.busy
