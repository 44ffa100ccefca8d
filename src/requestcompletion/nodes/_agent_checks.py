"""The checks `rc.agent_node` runs on what it is given, each with a message that says what to do.

Kept apart from `agent` so that the node type and its options read in one sitting;
these run once per agent built (see W7 in benchmarks/), so they stay cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal, NoReturn

from ..errors import ConfigError, NodeCreationError
from ..llm.model import ModelBase
from ..llm.tools import Tool
from ._agent_tools import Prepare

__all__ = ["ToolErrors", "check_schema", "raising", "refuse", "resolve"]

ToolErrors = Literal["model", "raise"]


def resolve(name: str, spec: str | None) -> ModelBase:
    """A model string ("openai:gpt-4o-mini"), or None for the default model."""
    from ..llm.providers.resolve import default_model, resolve_model

    if spec is None:
        return default_model()  # its ConfigError is about $RC_MODEL, not this call
    try:
        return resolve_model(spec)
    except ConfigError as error:
        raise NodeCreationError(f"agent_node({name!r}): llm={spec!r}: {error}") from error


def refuse(name: str, problem: str) -> NoReturn:
    raise NodeCreationError(f"agent_node({name!r}): {problem}")


def raising(
    name: str,
    tool_errors: ToolErrors | Mapping[str, ToolErrors],
    entries: list[tuple[Tool, Any, Prepare | None]],
) -> frozenset[str]:
    """The names of the tools whose exceptions fail the agent."""
    names = [entry[0].name for entry in entries]
    if isinstance(tool_errors, str):
        policies: Mapping[str, Any] = dict.fromkeys(names, tool_errors)
    elif isinstance(tool_errors, Mapping):
        unknown = sorted(set(tool_errors) - set(names))
        if unknown:
            refuse(name, f"tool_errors names no such tool: {unknown}; the tools are {names}")
        policies = tool_errors
    else:
        policies = {"": tool_errors}
    for policy in policies.values():
        if policy not in ("model", "raise"):
            refuse(
                name,
                f"tool_errors must be 'model', 'raise' or a mapping of tool names to them, "
                f"not {tool_errors!r}",
            )
    return frozenset(tool for tool, policy in policies.items() if policy == "raise")


@functools.lru_cache(maxsize=256)
def _describable(output_schema: Any) -> None:
    """Raises if pydantic cannot describe `output_schema`; cached, as agents are built
    per request with the same few schemas."""
    from ..llm.structured import output_json_schema

    output_json_schema(output_schema)


def check_schema(name: str, output_schema: Any) -> None:
    try:
        try:
            _describable(output_schema)
        except TypeError as error:
            if "unhashable" not in str(error):
                raise
            _describable.__wrapped__(output_schema)
    except Exception as error:
        first_line = str(error).strip().split("\n", 1)[0]
        raise NodeCreationError(
            f"agent_node({name!r}): output_schema {output_schema!r} cannot be described in "
            f"JSON schema ({first_line}); use a pydantic model"
        ) from error
