"""The checks `rc.agent_node` runs on what it is given, each with a message that says what to do.

Kept apart from `agent` so that the node type and its options read in one sitting;
these run once per agent built (see W7 in benchmarks/), so they stay cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal, NoReturn

from ..errors import ConfigError, NodeCreationError
from ..llm.model import ModelBase
from ..llm.tools import Tool
from ._agent_tools import Prepare

__all__ = ["ToolErrors", "check_options", "check_schema", "raising", "refuse", "resolve"]

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


def check_options(
    name: str,
    llm: ModelBase | str | None,
    system_message: Any,
    max_tool_calls: Any,
    retries: Any,
    max_turns: Any,
    mode: Any,
    max_parallel_tools: Any,
    timeout: Any,
    stream: Any,
    output_schema: Any,
    output_validator: Any,
    output_retries: Any,
) -> ModelBase:
    """Check `agent_node`'s options other than its tools; return the model to use.

    Raises:
        NodeCreationError: an option is not allowed (the message says which and why).
    """
    if not isinstance(name, str) or not name:
        raise NodeCreationError(f"agent_node needs a non-empty name, not {name!r}")
    if llm is None or isinstance(llm, str):
        llm = resolve(name, llm)
    if not isinstance(llm, ModelBase):
        refuse(name, f"llm must be a model (a requestcompletion.llm.ModelBase), not {llm!r}")
    if system_message is not None and not isinstance(system_message, str | Callable):
        refuse(name, f"system_message must be a string, a function or None, not {system_message!r}")
    for option, value in (("max_tool_calls", max_tool_calls), ("retries", retries)):
        if value is not None and (type(value) is not int or value < 0):
            refuse(name, f"{option} must be an int >= 0, not {value!r}")
    if max_turns is not None and (type(max_turns) is not int or max_turns < 1):
        refuse(name, f"max_turns must be an int >= 1 or None (no limit), not {max_turns!r}")
    if mode is not None and mode != "asyncio" and mode != "distributed":
        refuse(
            name,
            f"mode must be 'asyncio', 'distributed' or None (an agent is async), not {mode!r}",
        )
    if max_parallel_tools is not None and (
        type(max_parallel_tools) is not int or max_parallel_tools < 1
    ):
        refuse(name, f"max_parallel_tools must be an int >= 1 or None, not {max_parallel_tools!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        refuse(name, "timeout must be a number of seconds > 0 or None")
    if stream and not llm.can_stream:
        refuse(
            name,
            f"stream=True, but {type(llm).__name__} cannot stream; "
            "use a model that implements stream(), or stream=False",
        )
    if output_schema is not None:
        check_schema(name, output_schema)
    if output_validator is not None and not callable(output_validator):
        refuse(name, f"output_validator must be a function, not {output_validator!r}")
    if type(output_retries) is not int or output_retries < 0:
        refuse(name, f"output_retries must be an int >= 0, not {output_retries!r}")
    return llm


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
