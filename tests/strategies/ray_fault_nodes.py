"""Nodes for the Ray worker fault tests (imported by name on the workers).

`ALONE` is a resource shape the cluster can hold one actor of (the second node
has 100 `rc_node_b`): its nodes all run in the same actor, so a test can tell
when that actor leaves the pool.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import ray

import requestcompletion as rc

WIDE = 24  # wider than a worker's thread pool on this machine (min(32, cores + 4))
ALONE = {"distributed": {"num_cpus": 0, "resources": {"rc_node_b": 100}}}


def remote(func: Any, **options: Any) -> Any:
    return rc.function_node(func, mode="distributed", **options)


# --- item 1: def nodes that wait for def children on the same worker -------------


def _leaf(i: int) -> int:
    return i * 2


REMOTE_LEAF = remote(_leaf, name="remote_leaf")
LOCAL_LEAF = rc.function_node(_leaf, name="local_leaf", mode="threads")


def _mid_remote(i: int) -> int:
    return int(rc.call_sync(REMOTE_LEAF, i)) + 1


def _mid_local(i: int) -> int:
    return int(rc.call_sync(LOCAL_LEAF, i)) + 1


MID_REMOTE = remote(_mid_remote, name="mid_remote")
MID_LOCAL = remote(_mid_local, name="mid_local")


def _nap(i: int) -> int:
    time.sleep(0.05)
    return i


NAP = remote(_nap, name="nap")


async def wide(node: Any) -> list[Any]:
    """On the driver: `node` over range(WIDE) at once."""
    return await rc.batch(node, range(WIDE), return_exceptions=False)


# --- item 2: BaseException subclasses ---------------------------------------------


class Boom(BaseException):
    """Not an Exception: `except Exception` lets it through."""


class OddBoom(BaseException):
    """A BaseException pickle cannot rebuild (__init__ takes two arguments)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)
        self.b = b


async def _boom_async() -> None:
    raise Boom("async boom")


def _boom_def() -> None:
    raise Boom("def boom")


async def _odd_boom() -> None:
    raise OddBoom("odd boom", "b")


BOOM_ASYNC = remote(_boom_async, name="boom_async")
BOOM_DEF = remote(_boom_def, name="boom_def")
ODD_BOOM = remote(_odd_boom, name="odd_boom")
LOCAL_BOOM = rc.function_node(_boom_async, name="local_boom", mode="asyncio")


async def _relay_boom() -> None:
    await rc.call(LOCAL_BOOM)  # a child on the driver raises Boom; not caught here


async def _catch_boom() -> str:
    try:
        await rc.call(LOCAL_BOOM)
    except Boom as error:
        return f"caught {type(error).__name__}: {error}"
    return "not raised"


RELAY_BOOM = remote(_relay_boom, name="relay_boom")
CATCH_BOOM = remote(_catch_boom, name="catch_boom")


# --- item 3: nodes that stop their worker's process --------------------------------


def _actor() -> str:
    return str(ray.get_runtime_context().get_actor_id())


async def _sys_exit() -> None:
    sys.exit(3)


def _sys_exit_def() -> None:
    sys.exit("bye")


async def _interrupt() -> None:
    raise KeyboardInterrupt


def _interrupt_def() -> None:
    raise KeyboardInterrupt


async def _os_exit() -> None:
    os._exit(1)


WHO = remote(_actor, name="who", execution_options=ALONE)
STOPPERS = {
    "sys.exit": remote(_sys_exit, name="sys_exit", execution_options=ALONE),
    "sys.exit in def": remote(_sys_exit_def, name="sys_exit_def", execution_options=ALONE),
    "KeyboardInterrupt": remote(_interrupt, name="interrupt", execution_options=ALONE),
    "KeyboardInterrupt in def": remote(
        _interrupt_def, name="interrupt_def", execution_options=ALONE
    ),
    "os._exit": remote(_os_exit, name="os_exit", execution_options=ALONE),
}


async def stop_then_who(stopper: Any) -> tuple[str, str, str]:
    """On the driver: the actor, the stopper's error, then the actor after it."""
    before = await rc.call(WHO)
    try:
        await rc.call(stopper)
    except rc.errors.RemoteNodeError as error:
        failure = str(error)
    else:
        failure = "not raised"
    return before, failure, await rc.call(WHO)
