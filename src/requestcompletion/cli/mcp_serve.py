"""`requestcompletion mcp serve MODULE:ATTR`: the nodes a module names, served over MCP."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

__all__ = ["load_target", "serve_target"]


def load_target(target: str) -> list[Any]:
    """The nodes at ``module:attr`` (one node, or an iterable of them).

    Raises:
        ValueError: `target` is not ``module:attr``, or the module or attribute is missing.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"the target must be MODULE:ATTR (e.g. myapp.tools:NODES), not {target!r}")
    # like `python -m`, the current folder is importable
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} for {target!r}: {error}") from None
    value = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def serve_target(target: str, http: bool, host: str, port: int, state_dir: str) -> int:
    """Serve the nodes at `target`; the exit code when the server stops."""
    from .. import mcp
    from . import fail

    try:
        nodes = load_target(target)
    except ValueError as error:
        return fail(error)
    try:
        mcp.serve(
            nodes, transport="http" if http else "stdio", host=host, port=port, state_dir=state_dir
        )
    except (ValueError, TypeError) as error:
        return fail(error)
    return 0
