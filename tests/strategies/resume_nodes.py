"""Nodes for the resume-across-strategies tests (a Ray worker imports this by name).

The leaf runs in whatever mode `SETUP["leaf"]` says (as a plain def on threads or
Ray, as an async def under asyncio): a node's type key is its module and name, not
its mode, so a run recorded in one strategy replays in another.
"""

from __future__ import annotations

from typing import Any

import requestcompletion as rc

SETUP: dict[str, Any] = {"leaf": "asyncio", "fail": False}


def _leaf(x: int) -> int:
    return x * 3


async def _leaf_async(x: int) -> int:
    return x * 3


# the same node after its `def` became `async def`: same module, same name
_leaf_async.__qualname__ = _leaf.__qualname__


async def top(n: int) -> list[int]:
    mode = SETUP["leaf"]
    leaf = rc.function_node(_leaf_async if mode == "asyncio" else _leaf, name="leaf", mode=mode)
    out = list(await rc.batch(leaf, range(n), return_exceptions=False))
    if SETUP["fail"]:
        raise RuntimeError("the run died after its leaves")
    return out
