"""`ModelBase`: the one seam between agents and language models.

A model backend is a small abstract class with one required method, `chat`. It is
an abstract class rather than a Protocol so that the optional `stream` has a default
that says clearly which class does not stream, and so that `isinstance` checks work.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from .messages import Message
from .response import Chunk, Response

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["ModelBase", "StreamItem"]

StreamItem: TypeAlias = Chunk | Response
"""What `ModelBase.stream` yields: text chunks, then one final `Response`."""


class ModelBase(abc.ABC):
    """A language model that agents can talk to.

    Subclasses implement `chat`; those that can stream tokens also implement `stream`.
    Set `model_name` (the name sent to the provider, used for pricing and events) and
    `provider` (a short name such as ``"openai"``, used in errors).

    Example:
        class Echo(ModelBase):
            model_name = "echo"

            async def chat(self, messages, tools=None, output_schema=None):
                return Response(text=messages[-1].content, model=self.model_name)
    """

    model_name: str = "unnamed"
    provider: str = "custom"

    @abc.abstractmethod
    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> Response:
        """Send the conversation and return the model's whole answer.

        Args:
            messages: the conversation so far, oldest first (a `MessageHistory` works).
            tools: the tools the model may call; their results come back as `ToolMessage`s.
            output_schema: a pydantic model (or any type pydantic can validate) the
                answer must match; `Response.structured` holds the validated object.

        Raises:
            ProviderError: the provider failed (HTTP status, timeout, malformed reply).
        """

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Like `chat`, but yield `Chunk`s of text as they arrive, then the final `Response`.

        Implement it as an ``async def`` generator. The default raises.

        Raises:
            NotImplementedError: this model cannot stream.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not support streaming; use chat() "
            f"or implement {type(self).__name__}.stream()"
        )

    def scrub(self, text: str) -> str:
        """`text` without this model's credentials, for showing it outside the run.

        The default returns it unchanged; a model that holds an API key or secret
        headers (`HTTPModel`) replaces each with ``***``. Traces that capture message
        contents (`observability.otel.instrument(capture_content=True)`) pass every
        text through it.
        """
        return text

    @property
    def can_stream(self) -> bool:
        """Whether this model's class implements `stream`."""
        return type(self).stream is not ModelBase.stream

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name!r})"
