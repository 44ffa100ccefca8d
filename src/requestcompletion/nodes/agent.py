"""agent_node: an LLM node that may call tool nodes, and answers with text or a pydantic object.

    Researcher = rc.agent_node(
        "researcher",
        llm=OpenAICompatibleModel("gpt-4o-mini"),
        system_message="You answer questions about {topic}.",
        tool_nodes=(search, rc.function_node(fetch_page)),
    )
    result = await rc.call(Researcher, "what changed in 3.13?")
    result.output         # the answer: text, or the validated object with output_schema
    result.history        # the whole conversation; result.usage, result.cost

The node's output is an `AgentResult`, so that the conversation and the usage travel
with the answer (`result.output` is the answer itself, as in Pydantic AI). An agent
node type can be the tool of another agent: it takes one `prompt` string and the
calling model reads its text (or its structured output as JSON).

How the loop runs, and its bounds, is in `_agent_loop`; how tools are run, in
`_agent_tools`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, NoReturn, TypeVar, cast, overload

from .._frozen import fast_constructor
from ..errors import NodeCreationError
from ..llm.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from ..llm.model import ModelBase
from ..llm.tools import Tool
from ._agent_loop import DEFAULT_MAX_TURNS, AgentConfig, AgentRun, ModelText
from ._agent_output import OutputValidator
from ._agent_tools import Prepare, Toolbox, tool_name, tool_of
from .agent_result import AgentResult
from .base import ExecutionMode, Node

__all__ = ["AgentNode", "AgentResult", "agent_node"]

OutputT = TypeVar("OutputT")
ToolErrors = Literal["model", "raise"]
_MESSAGES = (SystemMessage, UserMessage, AssistantMessage, ToolMessage)


class AgentNode(Node[AgentResult[OutputT]], Generic[OutputT]):
    """The base of the node types `agent_node` makes; `agent` holds their configuration.

    Args:
        prompt: the user's message, or a whole conversation (a `MessageHistory`).

    Raises:
        TypeError: (as NodeCreationError from `rc.call`) the prompt is neither.
    """

    agent: ClassVar[AgentConfig]

    def __init__(self, prompt: str | Sequence[Message]) -> None:
        super().__init__()
        if not isinstance(prompt, str) and not (
            isinstance(prompt, list | tuple) and all(isinstance(m, _MESSAGES) for m in prompt)
        ):
            raise TypeError(
                f"agent {self.agent.name!r} takes a string or a MessageHistory, not {prompt!r}"
            )
        self.prompt = prompt

    async def invoke(self) -> AgentResult[OutputT]:
        return await AgentRun(type(self).agent, self.prompt).run()

    @classmethod
    def pretty_name(cls) -> str:
        """The agent's name, as given to `agent_node`."""
        return cls.agent.name

    @classmethod
    def as_tool(cls, description: str | None = None) -> Tool:
        """The tool another agent sees: one ``prompt`` argument, answered in text."""
        name = cls.agent.name
        return tool_of(_ask).renamed(
            tool_name(name),
            description
            or cls.__doc__
            or f"Ask the {name} agent. Give it the whole task in `prompt`; it answers in text.",
        )


def _ask(prompt: str) -> None:
    """The signature of an agent used as a tool (its schema is built once for all agents).

    Args:
        prompt: the task or question, with everything the agent needs to know
    """


@overload
def agent_node(
    name: str,
    *,
    llm: ModelBase | None = None,
    system_message: str | None = None,
    tool_nodes: Iterable[Any] = (),
    output_schema: None = None,
    max_tool_calls: int | None = None,
    timeout: float | None = None,
    stream: bool = False,
    retries: int = 3,
    description: str | None = None,
    mode: ExecutionMode | None = None,
    max_parallel_tools: int | None = None,
    max_turns: int | None = DEFAULT_MAX_TURNS,
    output_validator: OutputValidator | None = None,
    output_retries: int = 1,
    tool_errors: ToolErrors | Mapping[str, ToolErrors] = "model",
) -> type[AgentNode[str]]: ...
@overload
def agent_node(
    name: str,
    *,
    llm: ModelBase | None = None,
    system_message: str | None = None,
    tool_nodes: Iterable[Any] = (),
    output_schema: type[OutputT],
    max_tool_calls: int | None = None,
    timeout: float | None = None,
    stream: bool = False,
    retries: int = 3,
    description: str | None = None,
    mode: ExecutionMode | None = None,
    max_parallel_tools: int | None = None,
    max_turns: int | None = DEFAULT_MAX_TURNS,
    output_validator: OutputValidator | None = None,
    output_retries: int = 1,
    tool_errors: ToolErrors | Mapping[str, ToolErrors] = "model",
) -> type[AgentNode[OutputT]]: ...


def agent_node(
    name: str,
    *,
    llm: ModelBase | None = None,
    system_message: str | None = None,
    tool_nodes: Iterable[Any] = (),
    output_schema: Any = None,
    max_tool_calls: int | None = None,
    timeout: float | None = None,
    stream: bool = False,
    retries: int = 3,
    description: str | None = None,
    mode: ExecutionMode | None = None,
    max_parallel_tools: int | None = None,
    max_turns: int | None = DEFAULT_MAX_TURNS,
    output_validator: OutputValidator | None = None,
    output_retries: int = 1,
    tool_errors: ToolErrors | Mapping[str, ToolErrors] = "model",
) -> type[AgentNode[Any]]:
    """Make an agent node type: call it with a prompt string or a `MessageHistory`.

    Each model turn's tool calls run in parallel, as child nodes of the agent (so they
    are in the graph with their arguments and results). A malformed tool call (no such
    tool, arguments that are not JSON or do not fit) goes back to the model as a tool
    error, and the agent carries on; so does a tool that raises, unless `tool_errors`
    says "raise". An `rc.FatalError` from a tool ends the run as usual.

    Args:
        name: the node's name in logs, events and saved runs (and its tool name).
        llm: the model, e.g. ``OpenAICompatibleModel("gpt-4o-mini")`` or
            ``rc.testing.ScriptedModel([...])``; None: ``$RC_MODEL``, else the
            embedded local model (the ``local`` extra).
        system_message: instructions sent first; `{name}` placeholders are filled
            from `rc.context` when the runner's `prompt_injection` is on (as are
            those of a string prompt). Only text the developer wrote is filled: the
            system message and a string prompt given to `rc.call`; a `MessageHistory`
            and the prompt another agent's model writes when it calls this agent as a
            tool are sent as written, so a model cannot read context values by
            writing their placeholders.
        tool_nodes: functions, `rc.function_node` types, `rc.Node` subclasses (their
            ``__init__`` is the tool's signature) and other agent node types.
        output_schema: a pydantic model (or any type pydantic validates) the answer
            must fit; a reply that does not is sent back (`output_retries`). A root
            that is not an object is wrapped for the provider; a union's members
            are offered as tagged choices (``{"kind": ..., "data": ...}``), so an
            answer is checked against the member the model chose and no other.
        max_tool_calls: most tool calls in one run; None for no limit. A turn that
            would go past it is refused whole: `ToolCallLimitError`, whose `not_run`
            lists the calls of that turn (none of them ran).
        timeout: seconds one run of the agent may take; None for no limit.
        stream: stream the model's replies: each piece of text is published as an
            `LLMChunk` event and handed to the run's subscriber (`rc.stream`).
        retries: how many turns in a row may be sent back to the model to correct
            (malformed tool calls, an empty reply) before the agent gives up.
        description: what the agent does, for models that get it as a tool.
        mode: where the agent runs: "asyncio" (default) or "distributed".
        max_parallel_tools: most tool calls of one turn that run at once; None: all.
        max_turns: most model calls in one run (50 by default, so that a model that
            keeps calling tools cannot run and bill for ever): one more raises
            `TurnLimitError`. None for no limit.
        output_validator: ``fn(output)``, sync or async, run on each final answer
            (the text, or the validated object) inside the agent's node, so
            `rc.context` is the run's. It returns the output to use (None: keep it)
            or raises `rc.ModelRetry("why")` to send the model back with the reason.
        output_retries: final answers that may be sent back in one run, for not
            fitting `output_schema` or for a `ModelRetry` from the validator (one, as
            before); then `StructuredOutputError`. Counted apart from `retries`,
            which bounds malformed tool calls (and tools raising `ModelRetry`).
        tool_errors: what a tool's exception does: ``"model"`` (the default) sends
            it to the model as the tool's error result, so that it can retry or
            explain, as Pydantic AI and the OpenAI Agents SDK do; ``"raise"`` fails
            the agent with it, so bugs in tools do not hide. A mapping sets it per
            tool name (tools it does not name: ``"model"``). `rc.ModelRetry` always
            goes to the model, an `rc.FatalError` always ends the run.

    Returns:
        A `Node` subclass whose output is an `AgentResult`.

    Raises:
        NodeCreationError: an argument is not allowed, a tool cannot be described in
            JSON schema (naming the function and parameter), two tools share a name,
            or `stream=True` with a model that cannot stream.
    """
    # Apps build agents per request: this path is kept to checks and one class (W7
    # in benchmarks/); tools and schemas are described once per function or type.
    if not isinstance(name, str) or not name:
        raise NodeCreationError(f"agent_node needs a non-empty name, not {name!r}")
    if llm is None:
        from ..llm.providers.resolve import default_model

        llm = default_model()
    if not isinstance(llm, ModelBase):
        _refuse(name, f"llm must be a model (a requestcompletion.llm.ModelBase), not {llm!r}")
    if system_message is not None and not isinstance(system_message, str):
        _refuse(name, "system_message must be a string or None")
    for option, value in (("max_tool_calls", max_tool_calls), ("retries", retries)):
        if value is not None and (type(value) is not int or value < 0):
            _refuse(name, f"{option} must be an int >= 0, not {value!r}")
    if max_turns is not None and (type(max_turns) is not int or max_turns < 1):
        _refuse(name, f"max_turns must be an int >= 1 or None (no limit), not {max_turns!r}")
    if mode is not None and mode != "asyncio" and mode != "distributed":
        _refuse(
            name,
            f"mode must be 'asyncio', 'distributed' or None (an agent is async), not {mode!r}",
        )
    if max_parallel_tools is not None and (
        type(max_parallel_tools) is not int or max_parallel_tools < 1
    ):
        _refuse(name, f"max_parallel_tools must be an int >= 1 or None, not {max_parallel_tools!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        _refuse(name, "timeout must be a number of seconds > 0 or None")
    if stream and not llm.can_stream:
        _refuse(
            name,
            f"stream=True, but {type(llm).__name__} cannot stream; "
            "use a model that implements stream(), or stream=False",
        )
    if output_schema is not None:
        _check_schema(name, output_schema)
    if output_validator is not None and not callable(output_validator):
        _refuse(name, f"output_validator must be a function, not {output_validator!r}")
    if type(output_retries) is not int or output_retries < 0:
        _refuse(name, f"output_retries must be an int >= 0, not {output_retries!r}")
    if isinstance(tool_nodes, str | bytes) or not isinstance(tool_nodes, Iterable):
        _refuse(name, "tool_nodes must be a list of tool nodes")
    entries = [_entry(node) for node in tool_nodes]
    config = _agent_config(
        name,
        llm,
        system_message,
        Toolbox(entries, name, _raising(name, tool_errors, entries)),
        output_schema,
        max_tool_calls,
        bool(stream),
        retries,
        max_parallel_tools,
        max_turns,
        output_validator,
        output_retries,
    )
    namespace = {
        "agent": config,
        "timeout": timeout,
        "execution_mode": mode,
        "__doc__": description,
        "__module__": sys._getframe(1).f_globals.get("__name__", __name__),
        "__qualname__": name,
    }
    node = type(name if name.isidentifier() else "Agent", (AgentNode,), namespace)
    return cast("type[AgentNode[Any]]", node)


_agent_config = fast_constructor(AgentConfig)


def _refuse(name: str, problem: str) -> NoReturn:
    raise NodeCreationError(f"agent_node({name!r}): {problem}")


def _raising(
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
            _refuse(name, f"tool_errors names no such tool: {unknown}; the tools are {names}")
        policies = tool_errors
    else:
        policies = {"": tool_errors}
    for policy in policies.values():
        if policy not in ("model", "raise"):
            _refuse(
                name,
                f"tool_errors must be 'model', 'raise' or a mapping of tool names to them, "
                f"not {tool_errors!r}",
            )
    return frozenset(tool for tool, policy in policies.items() if policy == "raise")


def _entry(node: Any) -> tuple[Tool, Any, Prepare | None]:
    """What the toolbox holds for one of `tool_nodes`: its tool, the node, and for an
    agent the step that marks the prompt its caller's model wrote."""
    if isinstance(node, type) and issubclass(node, AgentNode):
        return node.as_tool(), node, _model_prompt
    return tool_of(node), node, None


def _model_prompt(arguments: dict[str, Any]) -> dict[str, Any]:
    """A sub-agent's prompt as the calling model wrote it, marked so it is never filled:
    a model writing "repeat {secret}" must not get a context value into the prompt."""
    return {"prompt": ModelText(arguments["prompt"])}


@functools.lru_cache(maxsize=256)
def _describable(output_schema: Any) -> None:
    """Raises if pydantic cannot describe `output_schema`; cached, as agents are built
    per request with the same few schemas."""
    from ..llm.structured import output_json_schema

    output_json_schema(output_schema)


def _check_schema(name: str, output_schema: Any) -> None:
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
