"""function_node: turn a function into a named node type (also usable as an agent's tool).

Any function can be passed to `rc.call` directly; `function_node` is for when the
node needs a name, a timeout or an execution mode of its own, or is handed to an
agent as a tool. The result is a `Node` subclass whose spec calls the function
straight away, so calling it through `rc.call` costs the same as calling the bare
function; called directly, outside `rc.call`, it *is* the function (users
unit-test their tools that way).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast, overload

from ..errors import NodeCreationError
from .base import ExecutionMode, Node, NodeSpec, check_mode, check_options, merge_ray_options

__all__ = ["FunctionNode", "function_node"]

T = TypeVar("T")


class _CallsTheFunction(type):
    """The metaclass of function nodes: calling the node type calls the function.

    `rc.call` never instantiates a function node (its spec calls the function
    itself), so the class call is free to mean what a user expects of a
    decorated function: `upper("x") == "X"`.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        func = cls.__dict__.get("func")
        if func is None:  # FunctionNode itself, or a subclass a user wrote
            return super().__call__(*args, **kwargs)
        return func.__func__(*args, **kwargs)


class FunctionNode(Node[T], Generic[T], metaclass=_CallsTheFunction):
    """The base of the node types `function_node` makes. `func` is the wrapped function.

    Calling such a type directly (`Upper("x")`) runs the function and returns its
    result (a coroutine for an `async def`), as the undecorated function would.
    """

    kind: ClassVar[str] = "function"
    func: Callable[..., T | Awaitable[T]]
    tool_description: str | None = None  # for a model, instead of the docstring's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.args, self.kwargs = args, kwargs

    def invoke(self) -> T | Awaitable[T]:
        return type(self).func(*self.args, **self.kwargs)


@overload
def function_node(
    func: Callable[..., Awaitable[T]] | Callable[..., T],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    mode: ExecutionMode | None = None,
    execution_options: Mapping[str, Mapping[str, Any]] | None = None,
    ray_options: Mapping[str, Any] | None = None,
    kind: str = "function",
) -> type[FunctionNode[T]]: ...
@overload
def function_node(
    func: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    mode: ExecutionMode | None = None,
    execution_options: Mapping[str, Mapping[str, Any]] | None = None,
    ray_options: Mapping[str, Any] | None = None,
    kind: str = "function",
) -> Callable[[Callable[..., Any]], type[FunctionNode[Any]]]: ...


def function_node(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    mode: ExecutionMode | None = None,
    execution_options: Mapping[str, Mapping[str, Any]] | None = None,
    ray_options: Mapping[str, Any] | None = None,
    kind: str = "function",
) -> Any:
    """Make a node type from a function (`function_node(f)`, `@function_node(...)`).

    Args:
        func: an `async def` (runs on the loop) or a plain `def` (runs on a thread);
            leave it out to use `function_node(name=..., ...)` as a decorator.
        name: the node's name in logs and saved runs; default the function's name.
        description: what the node does, for a model that gets it as a tool;
            default the docstring's description.
        timeout: seconds one call may take; None for no limit.
        mode: the execution mode, a strategy of the runner ("asyncio", "threads",
            "distributed" or one given with `Runner(execution_modes=...)`);
            default by the kind of function.
        execution_options: options for the strategies, keyed by mode, e.g.
            ``{"distributed": {"num_cpus": 1}}``; see `Node`.
        ray_options: deprecated: write ``execution_options={"distributed": {...}}``.
        kind: what its events and saved runs say it is (`rc.node_kind`); default
            "function".

    Returns:
        A `Node` subclass: `rc.call(Upper, "x")`, or a tool for `rc.agent_node`.
        Called directly (`Upper("x")`) it runs the function. Without `func`, a
        decorator that makes one.

    Raises:
        NodeCreationError: `func` is not callable, or an option is not allowed.
    """
    if func is None:

        def decorate(func: Callable[..., Any]) -> type[FunctionNode[Any]]:
            return _make(
                func, name, description, timeout, mode, execution_options, ray_options, kind
            )

        return decorate
    return _make(func, name, description, timeout, mode, execution_options, ray_options, kind)


def _make(
    func: Callable[..., Any],
    name: str | None,
    description: str | None,
    timeout: float | None,
    mode: ExecutionMode | None,
    execution_options: Mapping[str, Mapping[str, Any]] | None,
    ray_options: Mapping[str, Any] | None,
    kind: str,
) -> type[FunctionNode[Any]]:
    if not callable(func):
        raise NodeCreationError(f"function_node needs a function, not {func!r}")
    where = f"function_node({getattr(func, '__name__', func)!r})"
    check_mode(where, mode)
    if description is not None and not isinstance(description, str):
        raise NodeCreationError(f"{where}: description must be a string, not {description!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise NodeCreationError(
            f"{where}: timeout must be a number of seconds > 0 or None, not {timeout!r}"
        )
    node_name: str = name or str(getattr(func, "__name__", None) or type(func).__name__)
    # stack: merge_ray_options < _make < function_node or decorate < the user's line
    merged = merge_ray_options(node_name, execution_options, ray_options, stacklevel=4)
    options = check_options(where, merged)
    node_type = cast(
        "type[FunctionNode[Any]]",
        _CallsTheFunction(
            node_name if node_name.isidentifier() else "FunctionNode",
            (FunctionNode,),
            {
                "func": staticmethod(func),
                "timeout": timeout,
                "execution_mode": mode,
                "execution_options": options,
                "tool_description": description,
                "kind": kind,
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
        options=options,
        kind=kind,
    )
    return node_type
