"""Node, the base of class nodes, and NodeSpec, what the runtime knows about any node type.

Anything `rc.call` accepts is a node type: a `Node` subclass, a function
(`async def` or plain `def`), or a `function_node(...)`. `spec_of` turns it into a
`NodeSpec` once and caches it on the object, so a call pays one attribute lookup.
A spec's `create` builds one invocation from the call's arguments: for an
`async def` that is the coroutine itself (calling it checks the arguments and
runs nothing), for a class the instance's `invoke()`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from .._text import safe_repr
from ..errors import NodeCreationError
from ..state.records import error_text

__all__ = ["ExecutionMode", "Node", "NodeSpec", "node_kind", "spec_of"]

T = TypeVar("T")
# A mode names a strategy of the runner: the built-ins ("asyncio", "threads",
# "distributed") or one the user gave it. Which names exist is only known at
# call time, from the runner, so a mode is a plain string.
ExecutionMode = str


class Node(Generic[T]):
    """A class node: build it with the call's arguments, then `invoke()` it.

    Subclasses implement `invoke`, as `async def` (runs on the event loop) or
    plain `def` (runs on a thread). Class attributes tune how it runs:

    Attributes:
        execution_mode: the name of a strategy of the runner: "asyncio",
            "threads", "distributed" or one given with `Runner(execution_modes=...)`;
            None picks asyncio for `async def invoke` and threads for `def invoke`.
        timeout: seconds one invocation may take; None for no limit.
        execution_options: options for the strategies, keyed by mode, e.g.
            ``{"distributed": {"num_cpus": 1, "resources": {"big_disk": 1}}}``
            (what a distributed node asks of the Ray cluster: ``num_cpus``,
            ``num_gpus``, ``memory`` and custom ``resources``).
        ray_options: deprecated spelling of ``execution_options["distributed"]``.
        kind: what sort of node it is, as its events and saved runs say (see
            `node_kind`): "node" unless the class says otherwise; `agent_node`
            types say "agent", `function_node` types "function".
    """

    kind: ClassVar[str] = "node"
    execution_mode: ClassVar[ExecutionMode | None] = None
    timeout: ClassVar[float | None] = None
    execution_options: ClassVar[Mapping[str, Mapping[str, Any]] | None] = None
    ray_options: ClassVar[Mapping[str, Any] | None] = None

    def __init__(self) -> None:
        pass

    @classmethod
    def pretty_name(cls) -> str:
        """The name shown in logs, events and saved runs. Defaults to the class name."""
        return cls.__name__

    def invoke(self) -> T | Awaitable[T]:
        """Do the node's work and return its output."""
        raise NotImplementedError(f"{type(self).__name__} must implement invoke()")


class NodeSpec:
    """What the runtime needs to run one node type. Built once per type by `spec_of`."""

    __slots__ = (
        "explicit_mode",
        "func",
        "is_async",
        "key",
        "kind",
        "mode",
        "name",
        "node",
        "options",
        "signature",
        "timeout",
    )

    def __init__(
        self,
        node: Any,
        *,
        name: str,
        func: Callable[..., Any] | None = None,
        is_async: bool,
        mode: ExecutionMode | None = None,
        timeout: float | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        kind: str = "function",
    ) -> None:
        self.node = node  # what users pass to rc.call
        self.func = func  # the function to call, or None for a class node
        self.name = name
        if not isinstance(kind, str) or not kind:
            raise NodeCreationError(
                f"node {name!r}: kind must be a non-empty string such as 'node', not {kind!r}"
            )
        self.kind = kind
        module = getattr(node, "__module__", None) or "?"
        self.key = f"{module}:{getattr(node, '__qualname__', name)}"
        self.is_async = is_async
        check_mode(f"node {name!r}", mode)
        if (mode == "threads" and is_async) or (mode == "asyncio" and not is_async):
            sort = "an async def" if is_async else "a plain def"
            raise NodeCreationError(
                f"node {name!r} is {sort} and cannot run in execution mode {mode!r}: async "
                f"nodes run on the event loop, plain def nodes on threads (or both distributed)"
            )
        self.explicit_mode = mode is not None
        self.mode: ExecutionMode = mode or ("asyncio" if is_async else "threads")
        self.timeout = timeout
        self.options: Mapping[str, Mapping[str, Any]] = check_options(f"node {name!r}", options)
        self.signature: inspect.Signature | None = None
        if func is not None and not is_async:
            try:
                self.signature = inspect.signature(func)
            except (TypeError, ValueError):  # some builtins have none: let the call decide
                self.signature = None

    def create(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
        """One invocation: a coroutine for async nodes, a zero-argument callable otherwise.

        Raises:
            NodeCreationError: the arguments do not fit the node.
        """
        try:
            func = self.func
            if func is not None and self.is_async:
                return func(*args, **kwargs) if kwargs else func(*args)
            kwargs = kwargs or {}
            if func is None:
                instance = self.node(*args, **kwargs)
                return instance.invoke() if self.is_async else instance.invoke
            if self.signature is not None:
                self.signature.bind(*args, **kwargs)
            return functools.partial(func, *args, **kwargs)
        except Exception as exc:
            # the arguments' repr and the error's str are the user's code: they may raise
            raise NodeCreationError(
                f"could not create node {self.name!r} from args={safe_repr(args)} "
                f"kwargs={safe_repr(kwargs)}: {error_text(exc)}. Check the call's arguments "
                f"against the node's signature."
            ) from exc

    def __repr__(self) -> str:
        return f"NodeSpec({self.key}, mode={self.mode})"


def check_mode(where: str, mode: Any) -> None:
    """A mode is a non-empty string (whether the runner has it is checked at call time)."""
    if mode is not None and (not isinstance(mode, str) or not mode):
        raise NodeCreationError(
            f"{where}: execution_mode must be the name of a strategy (a non-empty string "
            f"such as 'asyncio', 'threads', 'distributed' or one given to the runner with "
            f"execution_modes=...) or None, not {mode!r}"
        )


def check_options(
    where: str, options: Mapping[str, Mapping[str, Any]] | None
) -> Mapping[str, Mapping[str, Any]]:
    """Per-mode options: a mapping of mode names to mappings of option names."""
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(
        isinstance(mode, str) and isinstance(value, Mapping) for mode, value in options.items()
    ):
        raise NodeCreationError(
            f"{where}: execution_options must map mode names to option mappings, e.g. "
            f"{{'distributed': {{'num_cpus': 1}}}}, not {options!r}"
        )
    return {mode: dict(value) for mode, value in options.items()}


def merge_ray_options(
    name: str,
    options: Mapping[str, Mapping[str, Any]] | None,
    ray_options: Mapping[str, Any] | None,
    stacklevel: int,
) -> Mapping[str, Mapping[str, Any]] | None:
    """Fold the deprecated `ray_options` into the per-mode options, with a warning."""
    if ray_options is None:
        return options
    warnings.warn(
        f"node {name!r}: ray_options is deprecated and goes away in the next release; "
        f"write execution_options={{'distributed': {dict(ray_options)!r}}} instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    merged = dict(options or {})
    merged.setdefault("distributed", ray_options)
    return merged


def spec_of(node: Any) -> NodeSpec:
    """The spec of a node type, built on first use and cached on it."""
    spec = getattr(node, "__rc_spec__", None)
    if spec is not None and spec.node is node:
        return spec  # type: ignore[no-any-return]
    spec = _make_spec(node)
    try:
        node.__rc_spec__ = spec
    except (AttributeError, TypeError):  # bound methods, builtins: no caching
        pass
    return spec


def node_kind(node: Any) -> str:
    """What sort of node `node` is: the `kind` its events and saved runs carry.

    "agent" for an `rc.agent_node`, "function" for a function or `rc.function_node`,
    "mcp_tool" for a tool of an MCP server (`rc.mcp.tools`), "node" for an `rc.Node`
    subclass, or whatever a subclass sets as its `kind` class attribute. A call an
    agent made to answer a tool call says "tool" instead of "function" or "node"
    (an agent stays "agent", an MCP tool "mcp_tool"): that depends on the call, so
    it is on the call's events and `NodeInfo.kind`, not here.

    Raises:
        NodeCreationError: `node` is not a node.
    """
    return spec_of(node).kind


def _make_spec(node: Any) -> NodeSpec:
    if isinstance(node, type):
        if not issubclass(node, Node):
            raise NodeCreationError(
                f"{node.__qualname__} is not a node: subclass rc.Node, or pass a function"
            )
        is_async = inspect.iscoroutinefunction(node.invoke)
        name = node.pretty_name()
        return NodeSpec(
            node,
            name=name,
            is_async=is_async,
            mode=node.execution_mode,
            timeout=node.timeout,
            options=merge_ray_options(name, node.execution_options, node.ray_options, 4),
            kind=node.kind,
        )
    if isinstance(node, Node):
        raise NodeCreationError(
            f"rc.call takes a node type, not an instance: pass {type(node).__qualname__} "
            f"and its arguments, e.g. rc.call({type(node).__qualname__}, ...)"
        )
    if callable(node):
        is_async = inspect.iscoroutinefunction(node) or inspect.iscoroutinefunction(
            getattr(type(node), "__call__", None)  # noqa: B004 - objects with async __call__
        )
        name = getattr(node, "__name__", None) or type(node).__name__
        return NodeSpec(node, name=name, func=node, is_async=is_async)
    raise NodeCreationError(f"{node!r} is not a node: pass an rc.Node subclass or a function")
