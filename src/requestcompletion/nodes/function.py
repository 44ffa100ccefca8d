"""function_node: turn a function into a named node type (also usable as an agent's tool).

Any function can be passed to `rc.call` directly; `function_node` is for when the
node needs a name, a timeout or an execution mode of its own, or is handed to an
agent as a tool. The result is a `Node` subclass whose spec calls the function
straight away, so calling it costs the same as calling the bare function.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar, cast

from ..errors import NodeCreationError
from .base import EXECUTION_MODES, ExecutionMode, Node, NodeSpec

__all__ = ["FunctionNode", "function_node"]

T = TypeVar("T")


class FunctionNode(Node[T], Generic[T]):
    """The base of the node types `function_node` makes. `func` is the wrapped function."""

    func: Callable[..., T | Awaitable[T]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.args, self.kwargs = args, kwargs

    def invoke(self) -> T | Awaitable[T]:
        return type(self).func(*self.args, **self.kwargs)


def function_node(
    func: Callable[..., Awaitable[T]] | Callable[..., T],
    *,
    name: str | None = None,
    timeout: float | None = None,
    mode: ExecutionMode | None = None,
    ray_options: Mapping[str, Any] | None = None,
) -> type[FunctionNode[T]]:
    """Make a node type from a function.

    Args:
        func: an `async def` (runs on the loop) or a plain `def` (runs on a thread).
        name: the node's name in logs and saved runs; default the function's name.
        timeout: seconds one call may take; None for no limit.
        mode: "asyncio", "threads" or "distributed"; default by the kind of function.
        ray_options: for distributed nodes, what to ask of the Ray cluster
            (``num_cpus``, ``num_gpus``, ``memory``, ``resources``); see `Node`.

    Returns:
        A `Node` subclass: `rc.call(Upper, "x")`, or a tool for `rc.agent_node`.

    Raises:
        NodeCreationError: `func` is not callable, or an option is not allowed.
    """
    if not callable(func):
        raise NodeCreationError(f"function_node needs a function, not {func!r}")
    if mode is not None and mode not in EXECUTION_MODES:
        raise NodeCreationError(
            f"function_node({getattr(func, '__name__', func)!r}): mode must be one of "
            f"{', '.join(EXECUTION_MODES)} or None, not {mode!r}"
        )
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise NodeCreationError(
            f"function_node({getattr(func, '__name__', func)!r}): timeout must be a number "
            f"of seconds > 0 or None, not {timeout!r}"
        )
    node_name: str = name or str(getattr(func, "__name__", None) or type(func).__name__)
    node_type = cast(
        "type[FunctionNode[T]]",
        type(
            node_name if node_name.isidentifier() else "FunctionNode",
            (FunctionNode,),
            {
                "func": staticmethod(func),
                "timeout": timeout,
                "execution_mode": mode,
                "ray_options": None if ray_options is None else dict(ray_options),
                "__doc__": func.__doc__,
                "__module__": getattr(func, "__module__", __name__),
                "__qualname__": getattr(func, "__qualname__", node_name),
                "pretty_name": classmethod(lambda cls: node_name),
            },
        ),
    )
    node_type.__rc_spec__ = NodeSpec(  # type: ignore[attr-defined]
        node_type,
        name=node_name,
        func=func,
        is_async=inspect.iscoroutinefunction(func),
        mode=mode,
        timeout=timeout,
    )
    return node_type
