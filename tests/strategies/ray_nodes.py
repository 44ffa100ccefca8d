"""Nodes for the Ray fault and placement tests (imported by name on the workers)."""

from __future__ import annotations

import os
import signal

import ray

import requestcompletion as rc


def _where() -> str:
    return str(ray.get_runtime_context().get_node_id())


ON_A = rc.function_node(
    _where,
    name="on_a",
    mode="distributed",
    execution_options={"distributed": {"num_cpus": 0, "resources": {"rc_node_a": 1}}},
)
ON_B = rc.function_node(
    _where,
    name="on_b",
    mode="distributed",
    execution_options={"distributed": {"num_cpus": 0, "resources": {"rc_node_b": 1}}},
)
GREEDY = rc.function_node(
    _where,
    name="greedy",
    mode="distributed",
    execution_options={"distributed": {"resources": {"no_such_thing": 1}}},
)


async def _die() -> str:
    os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies in the middle of the node
    return "never"


async def _survive() -> str:
    return "still here"


async def _echo(value: object) -> object:
    return value


DIE = rc.function_node(_die, name="die", mode="distributed")
SURVIVE = rc.function_node(_survive, name="survive", mode="distributed")
ECHO = rc.function_node(_echo, name="echo", mode="distributed")


async def guard() -> str:
    """Runs on the driver; its distributed child dies, it carries on."""
    try:
        await rc.call(DIE)
    except rc.errors.RemoteNodeError as error:
        return f"{await rc.call(SURVIVE)} after: {error}"
    return "not raised"


async def both() -> list[str]:
    return [await rc.call(ON_A), await rc.call(ON_B)]


class Weird(Exception):
    """Cannot be rebuilt by pickle: __init__ takes two arguments, args holds one."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)
        self.b = b


async def _raise_weird() -> None:
    raise Weird("weird thing", "b")


def _rebuild_driver_only(message: str) -> DriverOnly:
    if os.environ.get("RC_TEST_DRIVER") == "1":
        raise RuntimeError("this type cannot be rebuilt on the driver")
    return DriverOnly(message)


class DriverOnly(Exception):
    """Pickles on the worker; unpickling fails on the driver."""

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_driver_only, (str(self),))


async def _raise_driver_only() -> None:
    raise DriverOnly("only on the worker")


RAISE_WEIRD = rc.function_node(_raise_weird, name="raise_weird", mode="distributed")
RAISE_DRIVER_ONLY = rc.function_node(
    _raise_driver_only, name="raise_driver_only", mode="distributed"
)
