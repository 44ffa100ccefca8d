"""Who is running: the current runner and node, the runner's shared variables, prompt filling.

Everything here is found through `contextvars`, never through module globals, so
runners in different threads or tasks never see each other. Tasks copy the
context when they are created, threads get a copy from the threaded strategy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

from .errors import ContextError
from .state.records import NodeRecord

__all__ = ["RemoteLink", "context", "current_link", "current_node", "current_runner", "fill_prompt"]

# The runner whose block we are in, and the node whose code is running. The
# runner is a layer above this one, so this module knows it only as "something
# with `variables`"; the layers that use more of it (runner, interaction) read
# the variable into a local annotated `Runner | None`.
current_runner: ContextVar[Any] = ContextVar("rc_runner", default=None)
current_node: ContextVar[NodeRecord | None] = ContextVar("rc_node", default=None)


class RemoteLink(Protocol):
    """The driver's runner as seen by a node running in another process (a Ray worker).

    There is no runner on a worker; `rc.call`, `rc.call_sync`, `rc.batch`,
    `rc.stream` and `rc.context` fall back to this link, which sends each of
    them to the driver (see `execution/strategies/_ray_worker.py`).
    """

    variables: dict[str, Any]

    def call(self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Run a child node on the driver, as a child of the remote node."""

    def call_sync(self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`call` from a thread of the worker."""

    def stream(self, item: Any) -> None:
        """Send an `rc.stream` item to the driver."""


# Set only inside a node running on a Ray worker: where there is no runner.
current_link: ContextVar[RemoteLink | None] = ContextVar("rc_link", default=None)

_MISSING: Any = object()


def loop_running() -> bool:
    """Is an event loop running in this thread (where blocking calls must not be made)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def active_runner(what: str) -> Any:
    """The current runner, or a ContextError saying that `what` needs one."""
    runner = current_runner.get()
    if runner is None:
        raise ContextError(
            f"{what} needs an active runner: call it from a node, or inside "
            f"`with rc.Runner() as runner:`"
        )
    return runner


def _variables(what: str) -> dict[str, Any]:
    """The current runner's variables (or, on a Ray worker, the driver's through the link)."""
    runner = current_runner.get()
    if runner is None:
        link = current_link.get()
        runner = link if link is not None else active_runner(what)
    variables: dict[str, Any] = runner.variables
    return variables


class _Context:
    """`rc.context`: variables shared by every node of the current runner.

    Seeded by `Runner(context={...})`, gone when the runner closes. Every method
    raises `rc.ContextError` outside a runner.
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default` when it is not set."""
        return _variables("rc.context.get").get(key, default)

    def put(self, key: str, value: Any) -> None:
        """Set `key` to `value`."""
        _variables("rc.context.put")[key] = value

    def update(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kw: Any) -> None:
        """Set several keys at once, like `dict.update`."""
        _variables("rc.context.update").update(values, **kw)

    def delete(self, key: str) -> None:
        """Remove `key`; a KeyError names it when it is not set."""
        variables = _variables("rc.context.delete")
        if variables.pop(key, _MISSING) is _MISSING:
            raise KeyError(f"rc.context has no key {key!r}; it has {sorted(variables)!r}")

    def keys(self) -> list[str]:
        """The keys that are set, in insertion order."""
        return list(_variables("rc.context.keys"))

    def __contains__(self, key: object) -> bool:
        return key in _variables("rc.context")

    def __repr__(self) -> str:
        runner = current_runner.get()
        return "rc.context(<no runner>)" if runner is None else f"rc.context({runner.variables!r})"


context = _Context()

# `{{` and `}}` are escaped braces; `{name}` with a bare identifier is a placeholder.
# Anything else (`{a.b}`, `{0}`, `{x!r}`, `{y:>10}`, a lone brace) is text.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_prompt(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders in `template` from `values`, in one pass.

    Only bare names are filled; unknown names, attribute or index lookups, format
    specs and conversions stay as written, and inserted values are never scanned
    again, so nothing reaches Python's format machinery. `{{` and `}}` become a
    single brace.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        value = values.get(name, _MISSING)
        return match.group(0) if value is _MISSING else str(value)

    return _PLACEHOLDER.sub(replace, template)
