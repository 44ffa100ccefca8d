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

import contextlib
import contextvars
import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast, overload

from .._frozen import fast_constructor
from ..errors import ConfigError, NodeCreationError
from ..llm.budget import Budget
from ..llm.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from ..llm.model import ModelBase
from ..llm.tools import Tool
from ._agent_checks import ToolErrors, check_options, raising, refuse, resolve
from ._agent_loop import DEFAULT_MAX_TURNS, AgentConfig, AgentRun
from ._agent_output import OutputValidator
from ._agent_prompt import ModelText
from ._agent_tools import Prepare, Toolbox, approvals, tool_name, tool_of
from .agent_result import AgentResult
from .base import ExecutionMode, Node

__all__ = ["AgentNode", "AgentResult", "agent_node"]

OutputT = TypeVar("OutputT")
# agent type -> the model `override` put in its place, for the block that set it
_overrides: contextvars.ContextVar[dict[type, ModelBase] | None] = contextvars.ContextVar(
    "rc_agent_overrides", default=None
)
_MESSAGES = (SystemMessage, UserMessage, AssistantMessage, ToolMessage)


class AgentNode(Node[AgentResult[OutputT]], Generic[OutputT]):
    """The base of the node types `agent_node` makes; `agent` holds their configuration.

    Args:
        prompt: the user's message, or a whole conversation (a `MessageHistory`).

    Raises:
        TypeError: (as NodeCreationError from `rc.call`) the prompt is neither.
    """

    kind: ClassVar[str] = "agent"
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
        config = type(self).agent
        swapped = _overrides.get()
        if swapped is not None and type(self) in swapped:
            config = dataclasses.replace(config, llm=swapped[type(self)])
        return await AgentRun(config, self.prompt).run()

    @classmethod
    @contextlib.contextmanager
    def override(cls, *, llm: ModelBase | str) -> Iterator[None]:
        """Swap this agent's model inside a ``with`` block, for tests.

        ``with Researcher.override(llm=rc.testing.ScriptedModel([...])): ...`` runs
        every call of this agent type in the block (in this task and the tasks and
        runners it starts) on that model, without rebuilding the agent through a
        factory. The swap is held in a context variable, so concurrent tests do not
        see each other's; nodes on Ray workers (mode "distributed") do not see it.

        Raises:
            NodeCreationError: `llm` is not a model nor a model string.
        """
        model = resolve(cls.agent.name, llm) if isinstance(llm, str) else llm
        if not isinstance(model, ModelBase):
            refuse(cls.agent.name, f"override(llm=...) needs a model, not {llm!r}")
        token = _overrides.set({**(_overrides.get() or {}), cls: model})
        try:
            yield
        finally:
            _overrides.reset(token)

    @classmethod
    def pretty_name(cls) -> str:
        """The agent's name, as given to `agent_node`."""
        return cls.agent.name

    @classmethod
    def as_tool(cls, description: str | None = None, *, name: str | None = None) -> Tool:
        """The tool another agent sees: one ``prompt`` argument, answered in text.

        Pass the result in another agent's `tool_nodes` to give it its own name or
        description there.

        Args:
            description: what the calling model reads; default the agent's
                `description`, else a sentence naming the agent.
            name: the tool's name; default the agent's name (made a valid tool name).

        Raises:
            NodeCreationError: `name` is not a valid tool name.
        """
        agent = cls.agent.name
        return tool_of(_ask).renamed(
            tool_name(agent) if name is None else name,
            description
            or cls.__doc__
            or f"Ask the {agent} agent. Give it the whole task in `prompt`; it answers in text.",
            function=cls,
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
    llm: ModelBase | str | None = None,
    system_message: str | Callable[[Any], str | None] | None = None,
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
    handoffs: Iterable[type[AgentNode[Any]]] = (),
    budget: Budget | None = None,
    approve: bool | Iterable[Any] = False,
) -> type[AgentNode[str]]: ...
@overload
def agent_node(
    name: str,
    *,
    llm: ModelBase | str | None = None,
    system_message: str | Callable[[Any], str | None] | None = None,
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
    handoffs: Iterable[type[AgentNode[Any]]] = (),
    budget: Budget | None = None,
    approve: bool | Iterable[Any] = False,
) -> type[AgentNode[OutputT]]: ...


def agent_node(
    name: str,
    *,
    llm: ModelBase | str | None = None,
    system_message: str | Callable[[Any], str | None] | None = None,
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
    handoffs: Iterable[type[AgentNode[Any]]] = (),
    budget: Budget | None = None,
    approve: bool | Iterable[Any] = False,
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
            ``rc.testing.ScriptedModel([...])``, or a model string such as
            ``"openai:gpt-4o-mini"``, ``"anthropic:claude-3-5-haiku-latest"``,
            ``"ollama:llama3.2"`` or ``"local"``; None: ``$RC_MODEL``, else the
            embedded local model (the ``local`` extra).
        system_message: instructions sent first, or a function of the run's
            `rc.context` returning them (dynamic instructions, made at each run and
            not filled). In a string, `{name}` placeholders are filled
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
        stream: stream the model's replies: each piece of text is published once,
            as an `LLMChunk` event (also a `Streamed` one, so the run's subscriber
            gets it as a `requestcompletion.llm.Chunk`, told apart from `rc.stream`
            items; with an output schema its `partial` is the JSON so far).
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
        handoffs: agents this one may hand the conversation to, as the OpenAI Agents
            SDK's handoffs: each is offered as a tool ``transfer_to_<name>``; when
            the model calls one, that agent runs (a child node) with the
            conversation so far, under its own instructions, and its answer is this
            agent's answer: the turn ends there, with no model call to summarise.
        approve: tools (the tool nodes themselves, or their tool names) to ask the
            run's human about (through `rc.ask`) before each call, showing the name and
            arguments; True: every tool. A refusal goes back to the model as a tool error.
        budget: an `rc.Budget` each run of this agent, with everything under it
            (tools, sub-agents), must stay within; the run's budget applies too.

    Returns:
        A `Node` subclass whose output is an `AgentResult`.

    Raises:
        NodeCreationError: an argument is not allowed, a tool cannot be described in
            JSON schema (naming the function and parameter), two tools share a name,
            or `stream=True` with a model that cannot stream.
        ConfigError: `budget` is not an `rc.Budget`.
    """
    # Apps build agents per request: this path is kept to checks and one class (W7
    # in benchmarks/); tools and schemas are described once per function or type.
    llm = check_options(
        name,
        llm,
        system_message,
        max_tool_calls,
        retries,
        max_turns,
        mode,
        max_parallel_tools,
        timeout,
        stream,
        output_schema,
        output_validator,
        output_retries,
    )
    if isinstance(tool_nodes, str | bytes) or not isinstance(tool_nodes, Iterable):
        refuse(name, "tool_nodes must be a list of tool nodes")
    entries = [_entry(node) for node in tool_nodes]
    if isinstance(handoffs, str | bytes) or not isinstance(handoffs, Iterable):
        refuse(name, "handoffs must be a list of agent node types")
    transfers = [_transfer(name, target) for target in handoffs]
    if budget is not None and not isinstance(budget, Budget):
        raise ConfigError(
            f"agent_node({name!r}): budget must be an rc.Budget or None, not {budget!r}"
        )
    config = _agent_config(
        name,
        llm,
        system_message,
        Toolbox(
            entries,
            name,
            raising(name, tool_errors, entries),
            transfers,
            approvals(name, approve, entries),
        ),
        output_schema,
        max_tool_calls,
        bool(stream),
        retries,
        max_parallel_tools,
        max_turns,
        output_validator,
        output_retries,
        budget,
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


def _entry(node: Any) -> tuple[Tool, Any, Prepare | None]:
    """What the toolbox holds for one of `tool_nodes`: its tool, the node, and for an
    agent the step that marks the prompt its caller's model wrote."""
    if isinstance(node, Tool):  # renamed or described anew: `as_tool(name=...)` and the like
        target = node.function
        if isinstance(target, type) and issubclass(target, AgentNode):
            return node, target, _model_prompt
        if target is None:
            raise NodeCreationError(
                f"tool {node.name!r} was made by hand and has no function to run; make it "
                "with Tool.from_function(f, name=..., description=...) or Agent.as_tool(...)"
            )
        return node, target, None
    if isinstance(node, type) and issubclass(node, AgentNode):
        return node.as_tool(), node, _model_prompt
    return tool_of(node), node, None


def _transfer(name: str, target: Any) -> tuple[Tool, Any]:
    """The tool that hands the conversation to `target`, and `target`."""
    if not (isinstance(target, type) and issubclass(target, AgentNode)):
        refuse(name, f"handoffs must be agent node types (rc.agent_node), not {target!r}")
    other = target.agent.name
    about = f" ({target.__doc__})" if target.__doc__ else ""
    tool = tool_of(_hand_off).renamed(
        tool_name(f"transfer_to_{other}"),
        f"Hand the conversation over to the {other} agent{about}; it answers the user.",
        function=target,
    )
    return tool, target


def _hand_off() -> None:
    """The signature of a handoff: no arguments, the conversation is what travels."""


def _model_prompt(arguments: dict[str, Any]) -> dict[str, Any]:
    """A sub-agent's prompt as the calling model wrote it, marked so it is never filled:
    a model writing "repeat {secret}" must not get a context value into the prompt."""
    return {"prompt": ModelText(arguments["prompt"])}
