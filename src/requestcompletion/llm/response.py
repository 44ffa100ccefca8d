"""What a model gives back: a `Response`, its `Usage`, and the `Chunk`s of a stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._frozen import fast_constructor
from .messages import AssistantMessage, ToolCall

__all__ = ["UNKNOWN_USAGE", "Chunk", "Response", "Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model call (or a sum of calls) used.

    A count is None when the provider did not report it: unknown is not zero, so that
    a bill is never shown as $0.00 for tokens nobody counted. `Usage` values add up
    (``total = sum(usages, Usage())``), and a sum with an unknown part is unknown.
    """

    input_tokens: int | None = 0
    output_tokens: int | None = 0

    @property
    def known(self) -> bool:
        """Whether both counts were reported."""
        return self.input_tokens is not None and self.output_tokens is not None

    @property
    def total_tokens(self) -> int | None:
        """Input and output tokens together, or None when either is unknown."""
        return _plus(self.input_tokens, self.output_tokens)

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            _plus(self.input_tokens, other.input_tokens),
            _plus(self.output_tokens, other.output_tokens),
        )

    def __radd__(self, other: int) -> Usage:
        # lets sum() start from its default 0
        if other == 0:
            return self
        return NotImplemented

    def to_dict(self) -> dict[str, int | None]:
        """A plain-JSON form (None for an unknown count)."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def reported(cls, counts: object, input_key: str, output_key: str) -> Usage:
        """The usage a provider reported in the mapping `counts`; what is missing is None."""
        if not isinstance(counts, dict):
            return UNKNOWN_USAGE
        return cls(_count(counts.get(input_key)), _count(counts.get(output_key)))


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _count(value: object) -> int | None:
    # a provider's count must be a whole number >= 0; anything else is "not reported"
    return value if type(value) is int and value >= 0 else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of text as the model streams it.

    Attributes:
        text: the piece.
        partial: for an agent with an output schema, the reply so far (partial
            JSON, unwrapped by nothing yet); None otherwise.
    """

    text: str
    partial: str | None = None

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
        usage: the tokens this call used (None counts: the provider did not say).
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        """The response `to_dict` gave (as a saved run holds it: a replayed model call)."""
        usage = data.get("usage") or {}
        return cls(
            text=data.get("text"),
            tool_calls=tuple(
                ToolCall(call["name"], call.get("arguments", {}), call["id"])
                for call in data.get("tool_calls") or ()
            ),
            structured=data.get("structured"),
            usage=Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0)),
            model=data.get("model") or "",
            latency=data.get("latency") or 0.0,
            finish_reason=data.get("finish_reason"),
        )


_assistant_message = fast_constructor(AssistantMessage)
UNKNOWN_USAGE = Usage(None, None)
"""The usage of a reply whose provider did not say how many tokens it used."""
