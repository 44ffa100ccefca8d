"""Nodes for the context-over-Ray tests (imported by name on the workers)."""

from __future__ import annotations

import asyncio

import requestcompletion as rc

STEPS = 2  # write, call, read back: this many times per node


async def _write_other(tag: str) -> str:
    rc.context.put(f"other-{tag}", tag)  # a child writing keys of its own
    return tag


def _write_other_sync(tag: str) -> str:
    rc.context.put(f"other-sync-{tag}", tag)
    return tag


WRITE_OTHER_REMOTE = rc.function_node(_write_other, name="write_other_remote", mode="distributed")
WRITE_OTHER_LOCAL = rc.function_node(_write_other, name="write_other_local", mode="asyncio")
WRITE_OTHER_THREAD = rc.function_node(_write_other_sync, name="write_other_thread", mode="threads")


async def _own_write(key: str, value: int, child: str) -> list[object]:
    """Write `key`, call a child, read it back: the node's own value each time."""
    target = CHILDREN[child]
    seen: list[object] = []
    for step in range(STEPS):
        rc.context.put(key, (value, step))
        await rc.call(target, f"{key}-{step}")
        seen.append(rc.context.get(key))
    return seen


def _own_write_sync(key: str, value: int, child: str) -> list[object]:
    target = CHILDREN[child]
    seen: list[object] = []
    for step in range(STEPS):
        rc.context.put(key, (value, step))
        rc.call_sync(target, f"{key}-{step}")
        seen.append(rc.context.get(key))
    return seen


OWN_WRITE = rc.function_node(_own_write, name="own_write", mode="distributed")
OWN_WRITE_SYNC = rc.function_node(_own_write_sync, name="own_write_sync", mode="distributed")

CHILDREN = {
    "remote": WRITE_OTHER_REMOTE,
    "local": WRITE_OTHER_LOCAL,
    "thread": WRITE_OTHER_THREAD,
}


async def own_writes_in_parallel(n: int) -> list[object]:
    """Runs on the driver: `n` remote nodes at once, each with its own key and children."""
    kinds = [list(CHILDREN)[i % len(CHILDREN)] for i in range(n)]
    asyncs = rc.batch(OWN_WRITE, [f"k{i}" for i in range(n)], range(n), kinds)
    syncs = rc.batch(OWN_WRITE_SYNC, [f"s{i}" for i in range(n)], range(n), kinds)
    return [*(await asyncs), *(await syncs)]


async def _write_during_call(key: str, child: str) -> list[object]:
    """Write `key` while a child call is on its way: its answer must not undo the write.

    The two bare yields let the call's message leave in a batch of its own, so the
    driver answers it before it has the write.
    """
    target = CHILDREN[child]
    seen: list[object] = []
    for step in range(STEPS):
        call = asyncio.ensure_future(rc.call(target, f"{key}-{step}"))
        await asyncio.sleep(0)  # the call task sends its message
        await asyncio.sleep(0)  # ... and the batch holding it leaves
        rc.context.put(key, step)
        await call
        seen.append(rc.context.get(key))
    return seen


WRITE_DURING_CALL = rc.function_node(
    _write_during_call, name="write_during_call", mode="distributed"
)


async def writes_during_calls(n: int) -> list[object]:
    """Runs on the driver: `n` remote nodes at once writing while their calls are out."""
    kinds = [list(CHILDREN)[i % len(CHILDREN)] for i in range(n)]
    return await rc.batch(WRITE_DURING_CALL, [f"w{i}" for i in range(n)], kinds)


async def _whose(tag: str) -> list[object]:
    """Reads its run's "who", marks it, and asks a remote child what it sees."""
    who = rc.context.get("who")
    rc.context.put(f"mark-{tag}", who)
    child = await rc.call(WHOSE_CHILD, tag)
    return [who, *child]


async def _whose_child(tag: str) -> list[object]:
    return [rc.context.get("who"), rc.context.get(f"mark-{tag}")]


WHOSE = rc.function_node(_whose, name="whose", mode="distributed")
WHOSE_CHILD = rc.function_node(_whose_child, name="whose_child", mode="distributed")


async def whose_many(n: int) -> list[object]:
    return await rc.batch(WHOSE, [str(i) for i in range(n)], return_exceptions=False)


async def _size(key: str) -> int:
    return len(rc.context.get(key, ""))


SIZE = rc.function_node(_size, name="size", mode="distributed")


async def sizes(key: str, n: int) -> list[int]:
    """Runs on the driver: `n` remote calls one after another."""
    return [await rc.call(SIZE, key) for _ in range(n)]
