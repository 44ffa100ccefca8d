"""What a model gives back: a `Response`, its `Usage`, and the `Chunk`s of a stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._frozen import fast_constructor
from .messages import AssistantMessage, ToolCall

__all__ = ["Chunk", "Response", "Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model call (or a sum of calls) used.

    `Usage` values add up: ``total = sum(usages, Usage())``.
    """

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )

    def __radd__(self, other: int) -> Usage:
        # lets sum() start from its default 0
        if other == 0:
            return self
        return NotImplemented

    def to_dict(self) -> dict[str, int]:
        """A plain-JSON form."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of text as the model streams it."""

    text: str

    @classmethod
    def words(cls, text: str | None) -> list[Chunk]:
        """`text` as word-sized chunks that join back to it (for replies known in advance)."""
        if not text:
            return []
        words = text.split(" ")
        return [cls(word + " ") for word in words[:-1]] + [cls(words[-1])]


@dataclass(frozen=True, slots=True)
class Response:
    """One answer from a model.

    Attributes:
        text: the reply's text, or None when the model only called tools. With an
            output schema it is the raw JSON the model wrote.
        tool_calls: the tools the model wants run, in its order (run them in parallel).
        structured: the reply validated against the output schema, or None when no
            schema was asked for or the reply did not validate (``text`` holds it then).
        usage: the tokens this call used.
        model: the model that answered, as the provider named it.
        latency: seconds from sending the request to the whole answer.
        finish_reason: why the model stopped, as the provider said it ("stop", ...).
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    structured: Any = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    latency: float = 0.0
    finish_reason: str | None = None

    @property
    def message(self) -> AssistantMessage:
        """The reply as a message to append to the history."""
        return _assistant_message(self.text, self.tool_calls)

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the response (a pydantic `structured` is dumped when saved)."""
        return {
            "text": self.text,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "structured": self.structured,
            "usage": self.usage.to_dict(),
            "model": self.model,
            "latency": self.latency,
            "finish_reason": self.finish_reason,
        }


_assistant_message = fast_constructor(AssistantMessage)
