"""AgentResult: what an agent node returns — its answer, the conversation, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..llm.messages import MessageHistory
from ..llm.response import Usage

__all__ = ["AgentResult"]

OutputT = TypeVar("OutputT")


@dataclass(frozen=True, slots=True, repr=False)
class AgentResult(Generic[OutputT]):
    """The outcome of one agent run; the output of an `rc.agent_node` node.

    Attributes:
        output: the answer: the validated object when the agent has an
            `output_schema`, else the final text (as with Pydantic AI's ``result.output``).
        text: the final reply's text as the model wrote it (the raw JSON with a schema).
        structured: the validated object, or None when the agent has no schema.
        history: the whole conversation, system message first; pass it back to the
            agent to continue the conversation.
        usage: tokens used over every model call of this run (not of its sub-agents,
            which have their own results and nodes).
        cost: US dollars over those calls, or None when a model's price is unknown.
        model_calls: how many times the model was asked.
        tool_calls: how many tool calls the model made.
        first_new: where this run's own messages start in `history` (see
            `new_messages`).

    To continue a conversation, pass `history` back to the agent with the next user
    message appended (``rc.call(Agent, [*result.history, UserMessage("and?")])``);
    the agent replaces any system message in it with its own. Across processes, a
    saved run holds it: ``MessageHistory.from_dicts(saved_output["history"])``,
    where ``saved_output`` is the agent's output as `ExecutionInfo.load` gives it
    (``info.answer["$value"]`` for a top-level agent).
    """

    output: OutputT
    text: str | None
    structured: OutputT | None
    history: MessageHistory
    usage: Usage
    cost: float | None
    model_calls: int
    tool_calls: int
    first_new: int = 0

    def new_messages(self) -> MessageHistory:
        """The messages this run added: its prompt (when given as a string) and every
        reply and tool result after it, without the history it was given."""
        return MessageHistory(self.history[self.first_new :])

    def __str__(self) -> str:
        return self.text or ""

    def __repr__(self) -> str:
        shown = repr(self.output)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return (
            f"AgentResult(output={shown}, model_calls={self.model_calls}, "
            f"tool_calls={self.tool_calls}, usage={self.usage!r}, cost={self.cost!r})"
        )

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """The plain-JSON form, which is what a saved run holds as the agent's output.

        The name is pydantic's, so that the run's saver (and any code that knows
        pydantic models) writes it as data rather than as a repr.
        """
        structured = self.structured
        dump = getattr(structured, "model_dump", None)
        if dump is not None:
            structured = dump(mode=mode)
        return {
            "output": structured if self.structured is not None else self.output,
            "text": self.text,
            "history": self.history.to_dicts(),
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "model_calls": self.model_calls,
            "tool_calls": self.tool_calls,
        }
