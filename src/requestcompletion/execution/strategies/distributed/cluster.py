"""Getting hold of a Ray cluster, in a bounded time, and letting go of it.

Three cases, decided when the first distributed node runs:

- this process is already connected (the user called `ray.init`): rc uses that
  connection and never shuts it down;
- an address is given (`DistributedExecutionStrategy(address=...)`, else
  `$RAY_ADDRESS`): rc probes it over
  TCP (a refused port fails at once), then connects on a thread it waits for
  at most `connect_timeout` seconds (Ray's own retries would hang for minutes);
- nothing is given: rc starts a local cluster.

What rc connects or starts is held by a process-wide `_Hold`, counted: runners
open at the same time share it, and the last one to close shuts it down. `ray.init`
runs on a thread of the hold's own, which lives until `ray.shutdown`: Ray ties
some of the processes it starts to the thread that started them, so an init
on a short-lived pool thread would leave them running after shutdown.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import ray

from ....errors import ClusterError

__all__ = ["acquire", "release"]

_lock = threading.Lock()
_hold: _Hold | None = None


class _Hold:
    """A connection rc made (to `address`, or to a local cluster when None) and its users."""

    def __init__(self, address: str | None, options: Mapping[str, Any]) -> None:
        self.address = address
        self.users = 0
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stop = threading.Event()
        self._options = dict(options)
        self._thread = threading.Thread(target=self._own, name="rc-ray-owner", daemon=True)
        self._thread.start()

    def _own(self) -> None:
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": "warning"}
        if self.address is None:
            options.update(address="local", include_dashboard=False)
            options["_node_ip_address"] = "127.0.0.1"
        else:
            options["address"] = self.address
        options.update(self._options)
        try:
            ray.init(**options)
        except BaseException as error:
            self.ready.set_exception(error)
            return
        self.ready.set_result(None)
        self._stop.wait()
        ray.shutdown()

    def close(self, wait: bool) -> None:
        self._stop.set()
        if wait and self.ready.done() and self.ready.exception() is None:
            self._thread.join()


async def acquire(
    address: str | None, options: Mapping[str, Any], *, connect_timeout: float, start_timeout: float
) -> bool:
    """Make sure this process is connected to the cluster; True if rc holds the connection.

    Raises:
        ClusterError: the cluster cannot be reached or started within the time allowed.
    """
    global _hold
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address in ("local", ""):
        address = None
    started = time.monotonic()
    if address is not None and _hold is None:
        await _probe(address, connect_timeout)
    with _lock:
        hold = _hold
        if hold is None and ray.is_initialized():
            _check_same(address)
            return False
    with _lock:
        hold = _hold
        if hold is not None and hold.address != address:
            raise ClusterError(
                f"this process is already connected to "
                f"{hold.address or 'a local Ray cluster'!r} (by another runner) and cannot "
                f"connect to {address or 'a local cluster'!r} too: one Ray cluster per process"
            )
        if hold is None:
            if ray.is_initialized():
                _check_same(address)
                return False
            hold = _hold = _Hold(address, options)
        hold.users += 1
    limit = start_timeout if address is None else connect_timeout
    left = max(0.0, limit - (time.monotonic() - started))  # the probe counts against it
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(hold.ready)), left)
    except BaseException as error:
        _drop(hold)
        if isinstance(error, TimeoutError):
            what = "start a local Ray cluster" if address is None else f"connect to {address!r}"
            raise ClusterError(
                f"could not {what} within {limit}s; check that the cluster is up and "
                f"reachable from here"
            ) from None
        if isinstance(error, Exception):
            raise ClusterError(
                f"could not {'start a local Ray cluster' if address is None else 'connect'} "
                f"{'' if address is None else f'to {address!r} '}: "
                f"{type(error).__name__}: {error}"
            ) from error
        raise
    return True


def _check_same(address: str | None) -> None:
    """An explicit address must be the cluster this process is already connected to."""
    if address is None or address.startswith(("ray://", "auto")):
        return
    current = ray.get_runtime_context().gcs_address
    if current != address:
        raise ClusterError(
            f"this process is already connected to the Ray cluster at {current!r} and "
            f"cannot connect to {address!r} too; drop the strategy's address, or run elsewhere"
        )


async def _probe(address: str, limit: float) -> None:
    """Fail at once on an address nothing listens on (Ray itself would retry for minutes)."""
    if address.startswith(("ray://", "auto")):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"the Ray address {address!r} is not of the form 'host:port'")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port)), min(limit, 2.0)
        )
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address!r}: {type(error).__name__}: {error}. "
            f"Start it (`ray start --head --port={port}`), or fix the strategy's address"
        ) from None
    writer.close()
    await writer.wait_closed()


def _drop(hold: _Hold) -> None:
    global _hold
    with _lock:
        hold.users -= 1
        if hold.users:
            return
        if _hold is hold:
            _hold = None
    hold.close(wait=True)


def release(owned: bool) -> None:
    """One user of rc's connection is done; the last one disconnects (and stops a local cluster)."""
    if not owned:
        return
    with _lock:
        hold = _hold
    if hold is not None:
        _drop(hold)
