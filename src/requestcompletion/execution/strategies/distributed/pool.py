"""The Ray actors distributed nodes run in, pooled per resource shape.

A node's shape is its ``execution_options["distributed"]`` (`num_cpus`,
`num_gpus`, `memory`, `resources`). A pool grows up to as many actors as the
cluster could place (`capacity`) and gives each node the least busy one. A
shape that no node of the cluster has fails at once; one that exists but stays
taken fails after `place_timeout`. The cluster's blocking calls (its resources,
creating an actor) run on a thread (`off_loop`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from ....errors import ClusterError, NodeCreationError

__all__ = ["Host", "Pool", "capacity", "off_loop", "options_of"]

OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources")
_RESOURCE_OF = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def options_of(spec: Any) -> dict[str, Any]:
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


def needs_of(options: Mapping[str, Any]) -> dict[str, float]:
    needs = {_RESOURCE_OF[k]: float(v) for k, v in options.items() if k in _RESOURCE_OF and v}
    needs.update({k: float(v) for k, v in options.get("resources", {}).items() if v})
    return needs


class Host:
    """One NodeHost actor, how many nodes it runs now, and whether it may take more.

    `ready` ends once the actor is created (off the loop: the first creation of
    the class is a blocking call to the cluster) and placed (it answers `ping`).
    """

    __slots__ = ("actor", "busy", "ready", "retired")

    def __init__(self, factory: Any) -> None:
        self.actor: Any = None
        self.busy = 0
        self.retired = False  # out of the pool: killed once its last node ends
        self.ready: asyncio.Task[None] = asyncio.ensure_future(self._start(factory))

    async def _start(self, factory: Any) -> None:
        # cancelled while the thread creates it, the actor's handle is dropped
        # unseen, and Ray ends an actor no handle refers to
        self.actor = await off_loop(factory.remote)
        await asyncio.wrap_future(self.actor.ping.remote().future())


class Pool:
    """The actors of one resource shape: grown up to `cap`, least busy first."""

    def __init__(self, ray: ModuleType, options: dict[str, Any], cap: int, place_timeout: float):
        from .worker import RemoteNodeHost  # imports ray: only once a node runs distributed

        self.ray = ray
        self.options = options
        self.cap = cap
        self.place_timeout = place_timeout
        self.hosts: list[Host] = []
        self._factory = RemoteNodeHost.options(**options) if options else RemoteNodeHost

    async def acquire(self, name: str) -> Host:
        """The least busy actor, a new one while the pool may grow; counted busy.

        Raises:
            ClusterError: no actor could be placed within `place_timeout`.
        """
        host = min(self.hosts, key=_busy, default=None)
        if host is None or (host.busy and len(self.hosts) < self.cap):
            host = Host(self._factory)
            self.hosts.append(host)
        host.busy += 1
        if host.ready.done() and host.ready.exception() is None:
            return host
        try:
            await asyncio.wait_for(asyncio.shield(host.ready), self.place_timeout)
        except BaseException as error:
            self.release(host)
            self.discard(host)
            if isinstance(error, TimeoutError):
                raise ClusterError(
                    f"the Ray cluster did not place a worker for node {name!r} "
                    f"(options {self.options!r}) within {self.place_timeout}s: the "
                    f"resources exist on a node but stay taken; free them, add nodes, "
                    f"or raise DistributedExecutionStrategy(placement_timeout=)"
                ) from None
            if isinstance(error, Exception):
                raise ClusterError(
                    f"could not start a Ray worker for node {name!r}: "
                    f"{type(error).__name__}: {error}"
                ) from None
            raise
        return host

    def release(self, host: Host) -> None:
        """A node `acquire` gave `host` ended; a retired host is killed once idle."""
        host.busy -= 1
        if host.retired and not host.busy:
            self._kill(host)

    def retire(self, host: Host) -> None:
        """Take `host` out of the pool (the next node gets a new actor); the nodes it
        still runs finish first."""
        if host in self.hosts:
            self.hosts.remove(host)
            host.retired = True
            if not host.busy:
                self._kill(host)

    def discard(self, host: Host) -> None:
        """Take `host` out of the pool and kill it now (it is dead or unplaceable)."""
        if host in self.hosts:
            self.hosts.remove(host)
            self._kill(host)

    def _kill(self, host: Host) -> None:
        if not host.ready.done():
            host.ready.cancel()
        elif not host.ready.cancelled():
            host.ready.exception()  # retrieved: no "never retrieved" noise
        if host.actor is None:
            return
        try:
            self.ray.kill(host.actor)
        except Exception:  # already gone, or the cluster is
            pass

    def close(self) -> None:
        for host in self.hosts:
            self._kill(host)
        self.hosts.clear()


def _busy(host: Host) -> int:
    return host.busy


def off_loop(query: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """`query(*args)` on a thread of its own: a blocking call to the cluster (its state,
    an actor's creation) must not stop the event loop. A fresh thread that ends with the
    call, not an executor's, so nothing outlives the runner; these calls are rare."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Callable[[Any], None], value: Any) -> None:
        if not future.done():  # not cancelled meanwhile
            outcome(value)

    def run() -> None:
        try:
            outcome, value = future.set_result, query(*args)
        except BaseException as error:  # whatever it is, the awaiting task gets it
            outcome, value = future.set_exception, error
        try:
            loop.call_soon_threadsafe(settle, outcome, value)
        except RuntimeError:  # the loop closed meanwhile: nobody waits
            pass

    threading.Thread(target=run, name="rc-ray-query", daemon=True).start()
    return future


def capacity(ray: ModuleType, name: str, options: Mapping[str, Any]) -> int:
    """How many actors of this shape the cluster can hold; fails if no node can hold one."""
    needs = needs_of(options)
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if needs and not any(
        all(have.get(r, 0) >= amount for r, amount in needs.items()) for have in nodes
    ):
        available = [{r: v for r, v in have.items() if not r.startswith("node:")} for have in nodes]
        raise ClusterError(
            f"node {name!r} asks the Ray cluster for {needs!r}, but no node of the "
            f"cluster has that much (its nodes have {available!r}); change the node's "
            f"execution_options['distributed'], or add a node that has them"
        )
    totals = ray.cluster_resources()
    cap = max(1, int(totals.get("CPU", 1)))
    for resource, amount in needs.items():
        if amount > 0:
            cap = min(cap, max(1, math.floor(totals.get(resource, 0) / amount)))
    return cap
