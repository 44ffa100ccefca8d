"""The workflows every strategy must run alike, in two flavours with the same node names.

`ASYNC` holds `async def` nodes (run by the asyncio strategy), `SYNC` plain `def`
nodes (run by the threads strategy); the distributed strategy runs both. A Ray
worker imports this module by name to run its nodes (the session cluster has
this folder on its PYTHONPATH).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import requestcompletion as rc

RELEASE = threading.Event()  # lets the stuck thread nodes go once a test is done
STUCK_TIMEOUT = 0.5


# --- async flavour ---------------------------------------------------------------


async def _leaf(x: int) -> int:
    return x * 2


async def _chain(x: int) -> int:
    y = await rc.call(ASYNC.leaf, x)
    return await rc.call(ASYNC.leaf, y)


async def _fan(n: int) -> int:
    return sum(await rc.batch(ASYNC.leaf, range(n), return_exceptions=False))


async def _outer(x: int) -> int:
    await rc.stream(f"outer:{x}")
    return await rc.call(ASYNC.middle, x) + 1


async def _middle(x: int) -> int:
    await rc.stream(f"middle:{x}")
    return await rc.call(ASYNC.leaf, x)


async def _boom(text: str) -> str:
    raise ValueError(f"boom {text}")


async def _catcher() -> str:
    try:
        await rc.call(ASYNC.boom, "x")
    except ValueError as error:
        return f"caught {type(error).__name__}: {error}"
    return "not raised"


async def _relay() -> str:
    result: str = await rc.call(ASYNC.boom, "y")
    return result


async def _stuck() -> str:
    await asyncio.Event().wait()  # until cancelled
    return "never"


async def _patient() -> str:
    try:
        await rc.call(ASYNC.stuck_limited)
    except rc.NodeTimeoutError:
        return "timed out"
    return "not timed out"


async def _forever() -> str:
    result: str = await rc.call(ASYNC.stuck)
    return result


async def _reader() -> str:
    rc.context.put("seen", rc.context.get("user", default="nobody") + "!")
    await rc.call(ASYNC.leaf, 1)
    return f"{rc.context.get('user')} {rc.context.get('seen')}"


# --- sync flavour ----------------------------------------------------------------


def _leaf_s(x: int) -> int:
    return x * 2


def _chain_s(x: int) -> int:
    y = rc.call_sync(SYNC.leaf, x)
    result: int = rc.call_sync(SYNC.leaf, y)
    return result


def _fan_s(n: int) -> int:
    return sum(rc.call_sync(SYNC.leaf, i) for i in range(n))


def _outer_s(x: int) -> int:
    rc.stream(f"outer:{x}")
    result: int = rc.call_sync(SYNC.middle, x) + 1
    return result


def _middle_s(x: int) -> int:
    rc.stream(f"middle:{x}")
    result: int = rc.call_sync(SYNC.leaf, x)
    return result


def _boom_s(text: str) -> str:
    raise ValueError(f"boom {text}")


def _catcher_s() -> str:
    try:
        rc.call_sync(SYNC.boom, "x")
    except ValueError as error:
        return f"caught {type(error).__name__}: {error}"
    return "not raised"


def _relay_s() -> str:
    result: str = rc.call_sync(SYNC.boom, "y")
    return result


def _stuck_s() -> str:
    RELEASE.wait(10)  # Python cannot stop a thread: the test releases it when done
    return "never"


def _patient_s() -> str:
    try:
        rc.call_sync(SYNC.stuck_limited)
    except rc.NodeTimeoutError:
        return "timed out"
    return "not timed out"


def _forever_s() -> str:
    result: str = rc.call_sync(SYNC.stuck)
    return result


def _reader_s() -> str:
    rc.context.put("seen", rc.context.get("user", default="nobody") + "!")
    rc.call_sync(SYNC.leaf, 1)
    return f"{rc.context.get('user')} {rc.context.get('seen')}"


def _flavour(suffix: str) -> SimpleNamespace:
    """The node types of one flavour, named alike across flavours."""
    found = globals()
    names = [
        "leaf", "chain", "fan", "outer", "middle", "boom", "catcher", "relay",
        "stuck", "patient", "forever", "reader",
    ]  # fmt: skip
    nodes = {name: rc.function_node(found[f"_{name}{suffix}"], name=name) for name in names}
    nodes["stuck_limited"] = rc.function_node(
        found[f"_stuck{suffix}"], name="stuck", timeout=STUCK_TIMEOUT
    )
    return SimpleNamespace(**nodes)


ASYNC = _flavour("")
SYNC = _flavour("_s")


def quiet(**overrides: Any) -> rc.Runner:
    """A runner that neither logs nor saves."""
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)


def graph(info: rc.ExecutionInfo) -> list[Any]:
    """The run's call tree, independent of ids and of the order siblings ran in:
    (name, status, output, error type, children) per node."""
    children: dict[int | None, list[Any]] = defaultdict(list)
    for node in info.nodes:
        children[node.parent_id].append(node)

    def tree(node: Any) -> tuple[Any, ...]:
        error = None if node.error is None else node.error.type
        below = sorted((tree(child) for child in children[node.id]), key=repr)
        return (node.name, node.status, repr(node.output), error, below)

    return sorted((tree(node) for node in children[None]), key=repr)
