"""The agent loop: ask the model, run the tools it asks for, repeat until it answers.

One `AgentRun` is one invocation of an agent node. It owns the conversation and the
counters, tells the run's publisher about every model call (`LLMRequestStarted`,
`LLMResponseReceived`, `LLMChunk` when streaming), and keeps the node's token and
cost totals in ``runner.state.extras[node_id]["llm"]``, where `ExecutionInfo.usage`
and the saved run find them.

Bounds, so that a confused model cannot loop for ever or crash the run:

* `max_turns` — model calls in one run (default `DEFAULT_MAX_TURNS`, 50): a model that
  keeps making valid tool calls is stopped with `TurnLimitError` instead of billing on;
* `max_tool_calls` — a turn that would take the run past it is refused whole (none of
  its calls run; `ToolCallLimitError.not_run` lists them);
* `retries` — turns in a row that had to be sent back (a malformed tool call, an
  empty reply) before giving up with `ToolArgumentsError` or `LLMError`;
* `output_retries` — final answers sent back for not fitting the output schema or
  for an `rc.ModelRetry` from the output validator (`_agent_output`), then
  `StructuredOutputError`.

Every error raised here carries the conversation so far in its ``history``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..context import current_node, current_runner
from ..errors import (
    LLMError,
    ModelRetry,
    StructuredOutputError,
    ToolArgumentsError,
    ToolCallLimitError,
    TurnLimitError,
)
from ..execution.strategies.distributed import model_calls
from ..interaction import call
from ..llm.budget import Budget, agent_scope, reserve
from ..llm.messages import Message, MessageHistory, ToolCall, UserMessage
from ..llm.model import ModelBase
from ..llm.pricing import cost as price_of
from ..llm.response import Response, Usage
from ..pubsub.events import (
    Event,
    LLMRequestStarted,
    LLMResponseReceived,
    fast_constructor,
)
from ..state.journal import RequestDigest
from ._agent_output import OutputValidator, final_output, repair_prompt
from ._agent_prompt import start_history
from ._agent_remote import model_reports
from ._agent_stream import streamed_reply
from ._agent_stream import who as _who
from ._agent_tools import Toolbox
from .agent_result import AgentResult

if TYPE_CHECKING:
    from ..runner import Runner
    from ..state.records import NodeRecord

__all__ = ["DEFAULT_MAX_TURNS", "AgentConfig", "AgentRun"]

DEFAULT_MAX_TURNS = 50
"""Model calls one agent run may make unless `max_turns` says otherwise (as Pydantic AI's
default request limit): high enough for real tool use, low enough to stop a loop."""

_now = time.perf_counter
_started = fast_constructor(LLMRequestStarted)
_received = fast_constructor(LLMResponseReceived)

# the driver prices a remote agent's model calls as this loop prices a local one's
model_calls.PRICE = price_of

EMPTY_REPLY = "Your reply was empty. Answer the request, or call one of the tools."


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """What `rc.agent_node` was given, checked: one per agent node type."""

    name: str
    llm: ModelBase
    system_message: str | Callable[[Any], str | None] | None
    toolbox: Toolbox
    output_schema: Any
    max_tool_calls: int | None
    stream: bool
    retries: int
    max_parallel_tools: int | None = None
    max_turns: int | None = DEFAULT_MAX_TURNS
    output_validator: OutputValidator | None = None
    output_retries: int = 1
    budget: Budget | None = None


class AgentRun:
    """One invocation of an agent: the conversation, the counters, where to report."""

    __slots__ = (
        "accounts",
        "config",
        "cost",
        "digests",
        "first_new",
        "history",
        "model_calls",
        "record",
        "remote",
        "runner",
        "tool_calls",
        "usage",
    )

    def __init__(self, config: AgentConfig, prompt: str | Sequence[Message]) -> None:
        self.config = config
        self.runner: Runner | None = current_runner.get()
        self.record: NodeRecord | None = current_node.get()
        # on a Ray worker (no runner) the model calls are told to the driver instead
        self.remote = None if self.runner is not None else model_reports()
        # a count turns None once a reply did not report it: the total is unknown, not low
        self.usage = Usage()
        self.cost: float | None = 0.0
        self.accounts: dict[str, Any] | None = None  # this node's extras["llm"]
        self.model_calls = 0
        self.tool_calls = 0
        self.history = start_history(config.name, config.system_message, self.runner, prompt)
        self.digests = RequestDigest()  # what replay matches a recorded response on
        # a string prompt is this run's own first message; a given history is not
        self.first_new = len(self.history) - (1 if isinstance(prompt, str) else 0)

    def where(self) -> str:
        """The agent and its node, for error messages."""
        record = self.record
        node = "" if record is None else f" (node {record.id})"
        return f"agent {self.config.name!r}{node}"

    async def run(self) -> AgentResult[Any]:
        """Talk to the model until it gives a final answer; return it."""
        budget = self.config.budget
        if budget is None:
            return await self._talk()
        with agent_scope(self.runner, self.record, budget):
            return await self._talk()

    async def _talk(self) -> AgentResult[Any]:
        config = self.config
        history = self.history
        corrections = 0  # turns in a row sent back to the model to correct
        repairs = 0  # final answers sent back (schema, validator), within output_retries
        while True:
            response = await self._ask()
            history.append(response.message)
            if response.tool_calls:
                handoff = next(
                    (c for c in response.tool_calls if c.name in config.toolbox.handoffs), None
                )
                if handoff is not None:
                    return await self._hand_off(handoff)
                self._count(response.tool_calls)
                results, malformed = await config.toolbox.run(
                    response.tool_calls, config.max_parallel_tools
                )
                history.extend(results)
                corrections = corrections + 1 if malformed else 0
                if corrections > config.retries:
                    last = next(m.content for m in reversed(results) if m.is_error)
                    raise self._gave_up(
                        ToolArgumentsError(
                            f"{self.where()}: the model sent malformed tool calls "
                            f"{corrections} turns in a row; the last error: {last!r}. "
                            f"Describe the tools better, use a stronger model, or raise "
                            f"retries (now {config.retries})",
                            tool=response.tool_calls[-1].name,
                        )
                    )
                continue
            text = response.text
            if config.output_schema is None and not (text and not text.isspace()):
                corrections += 1
                if corrections > config.retries:
                    raise self._gave_up(
                        LLMError(
                            f"{self.where()}: the model gave an empty reply {corrections} "
                            f"times in a row; check the model and the prompt, or raise "
                            f"retries (now {config.retries})"
                        )
                    )
                history.append(UserMessage(EMPTY_REPLY))
                continue
            try:
                output = await final_output(config.output_schema, config.output_validator, response)
            except (StructuredOutputError, ModelRetry) as problem:
                repairs += 1
                if repairs > config.output_retries:
                    rounds = config.output_retries
                    raise StructuredOutputError(
                        f"{self.where()}: the answer was still not accepted after {rounds} "
                        f"repair round{'s' if rounds != 1 else ''}: {problem}. The error's "
                        f"`raw` holds the reply; raise output_retries (now {rounds}) or "
                        f"change the prompt",
                        raw=text,
                        history=history,
                    ) from None
                history.append(UserMessage(repair_prompt(problem)))
                continue
            return self._result(text, output)

    async def _hand_off(self, handoff: ToolCall) -> AgentResult[Any]:
        """Give the conversation to another agent; its answer is this agent's answer.

        The other agent runs as a child node with the conversation up to the turn
        that handed off (under its own instructions, see `_start`), so nothing is
        summarised and this agent's model is not asked again. Other calls in that
        turn are not run: the conversation has left.
        """
        target = self.config.toolbox.handoffs[handoff.name]
        self.tool_calls += 1
        before = MessageHistory(self.history[:-1])
        result: AgentResult[Any] = await call(target, before)
        return dataclasses.replace(
            result,
            usage=self.usage,
            cost=self.cost,
            model_calls=self.model_calls,
            tool_calls=self.tool_calls,
        )

    def _gave_up(self, error: LLMError) -> LLMError:
        error.history = self.history
        return error

    def _count(self, calls: Sequence[ToolCall]) -> None:
        limit = self.config.max_tool_calls
        asked = self.tool_calls + len(calls)
        if limit is not None and asked > limit:
            # a turn's calls are meant to go together: run all of them or none
            listed = ", ".join(f"{call.name} (id {call.id!r})" for call in calls)
            raise ToolCallLimitError(
                f"{self.where()}: the model asked for {asked} tool calls, more than "
                f"max_tool_calls={limit}; it may be stuck in a loop. None of the "
                f"{len(calls)} calls of the turn over the limit ran: {listed}. The error's "
                f"`not_run` lists them and `history` holds the conversation (its last "
                f"message is that turn); raise max_tool_calls or change the prompt",
                history=self.history,
                not_run=tuple(calls),
            )
        self.tool_calls = asked

    def _result(self, text: str | None, output: Any) -> AgentResult[Any]:
        return AgentResult(
            output,
            text,
            None if self.config.output_schema is None else output,
            self.history,
            self.usage,
            self.cost,
            self.model_calls,
            self.tool_calls,
            self.first_new,
        )

    # --- one model call ------------------------------------------------------------

    async def _ask(self) -> Response:
        """Ask the model once; announce it, and count its tokens and cost on the node."""
        config = self.config
        llm = config.llm
        runner = self.runner
        record = self.record
        publisher = None if runner is None else runner.publisher
        if config.max_turns is not None and self.model_calls >= config.max_turns:
            raise TurnLimitError(
                f"{self.where()}: the model was asked {self.model_calls} times without "
                f"giving a final answer (max_turns={config.max_turns}); it may be stuck in "
                f"a loop. The error's `history` holds the conversation; raise max_turns "
                f"(None: no limit) or change the prompt",
                history=self.history,
            )
        if runner is not None and runner.fatal is not None:
            # the run has ended (end_on_error, FatalError) and this task is being
            # cancelled: do not pay for one more model call on the way out
            raise asyncio.CancelledError
        tools = config.toolbox.tools or None
        remote = self.remote
        if remote is None:
            # a saved run keeps each model call with its request's digest, for replay;
            # taken before the reply joins the history
            saved = record is not None and runner is not None and runner.config.save_state
            # a resumed run (Runner.from_state) answers a request it has recorded itself
            replay = None if runner is None or record is None else runner.state.replay
            asked = self._digest(tools) if saved or replay is not None else ""
            recorded = None if replay is None else replay.model_response(record, asked)  # type: ignore[arg-type]
        else:  # on a Ray worker: the driver keeps the run's records
            saved = remote.saved
            asked = self._digest(tools) if saved or remote.replay else ""
            recorded = await remote.recorded(asked) if remote.replay else None
        hold = None
        if recorded is None:
            # reserve on the budgets over this node (on the driver when this runs on a
            # Ray worker), or be refused; a replayed reply is free
            schema = config.output_schema
            hold = await reserve(runner, record, llm, self.history, tools, schema, self.where)
        if publisher is not None and publisher.active:
            publisher.defer(
                _build_started,
                (
                    publisher.run_id,
                    *_who(record),
                    _now(),
                    llm.provider,
                    llm.model_name,
                    len(self.history),
                    self.history,  # the list itself: read only if a subscriber asks
                    llm.scrub,
                    "agent",
                ),
            )
        elif remote is not None and remote.events:
            remote.asked(llm.provider, llm.model_name, self.history)
        try:
            if recorded is not None:
                response = Response.from_dict(recorded)
            elif config.stream:
                response = await streamed_reply(self, tools)
            else:
                response = await llm.chat(self.history, tools, config.output_schema)
        except BaseException:
            if hold is not None:
                hold.release()
            raise
        model = response.model or llm.model_name
        usage = response.usage
        if hold is not None:
            hold.settle(model, usage)
        cost = price_of(model, usage)
        self.model_calls += 1
        self.usage += usage
        self.cost = None if cost is None or self.cost is None else self.cost + cost
        if runner is not None and record is not None:
            self._account(runner, record, model)
            if saved:
                runner.state.model_call(record, asked, response.to_dict())
        elif remote is not None:  # the driver counts, records and announces it
            self._account(None, None, model)
            remote.replied(model, asked if saved else None, self.accounts, response)
        if publisher is not None and publisher.active:
            publisher.defer(
                _build_received,
                (
                    publisher.run_id,
                    *_who(record),
                    _now(),
                    llm.provider,
                    model,
                    usage.input_tokens,
                    usage.output_tokens,
                    response.latency,
                    cost,
                    response.finish_reason,
                    response,
                    "agent",
                ),
            )
        return response

    def _digest(self, tools: Any) -> str:
        """The digest of the model request about to be sent."""
        llm, schema = self.config.llm, self.config.output_schema
        about = {
            "provider": llm.provider,
            "model": llm.model_name,
            "tools": [tool.name for tool in tools or ()],
            "output_schema": None if schema is None else repr(schema),
        }
        return self.digests.of(self.history, about)

    def _account(self, runner: Runner | None, record: NodeRecord | None, model: str) -> None:
        """Keep the node's running totals where `ExecutionInfo` and the saved run look
        (no runner: on a Ray worker, where they go to the driver with each reply)."""
        accounts = self.accounts
        if accounts is None:
            accounts = self.accounts = {"provider": self.config.llm.provider}
            if runner is not None and record is not None:
                runner.state.extras.setdefault(record.id, {})["llm"] = accounts
        accounts["model"] = model
        accounts["input_tokens"] = self.usage.input_tokens
        accounts["output_tokens"] = self.usage.output_tokens
        accounts["cost"] = self.cost
        accounts["calls"] = self.model_calls


# The LLM events are built by each subscriber's worker, from a tuple of their fields
# (see RCPublisher.defer): the agent's own task only appends to a buffer.
def _build_started(fields: tuple[Any, ...]) -> Event:
    return _started(*fields)


def _build_received(fields: tuple[Any, ...]) -> Event:
    return _received(*fields)
