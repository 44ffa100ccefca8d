"""Models for testing agents without a real provider, and the switch that forbids one.

- `ScriptedModel` answers from a list of replies, or from a function of the
  conversation. A reply is text, a `ToolCall` (or a list of them, run in parallel),
  a structured object, a whole `Response`, or an exception to raise.
- `SchemaModel` (also `TestModel`) needs no script: it calls every offered tool once
  with arguments made from the tool's schema, then answers with text, or with an
  object made from the output schema.
- `block_real_requests()` (or ``RC_BLOCK_REAL_REQUESTS=1``) makes every HTTP provider
  request to a host other than 127.0.0.1/::1/localhost fail before it is sent.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._frozen import fast_constructor
from ..errors import LLMError
from ..llm._guard import block_real_requests, real_requests_blocked
from ..llm.messages import AssistantMessage, Message, ToolCall, ToolMessage
from ..llm.model import ModelBase, StreamItem
from ..llm.response import Chunk, Response, Usage

if TYPE_CHECKING:
    from ..llm.tools import Tool

__all__ = [
    "ModelCall",
    "SchemaModel",
    "ScriptedModel",
    "TestModel",
    "block_real_requests",
    "real_requests_blocked",
    "sample_from_schema",
]

_NO_REPLY = object()

ReplyFunction = Callable[[list[Message], list["Tool"]], object]
"""``(messages, tools) -> reply``; it may also be ``async``."""


@dataclass(frozen=True)
class ModelCall:
    """One call a test model received, kept for assertions."""

    messages: list[Message]
    tools: list[Tool] = field(default_factory=list)
    output_schema: type[Any] | None = None


# The per-call constructions, made without the frozen dataclasses' slow __init__.
_model_call = fast_constructor(ModelCall)
_response = fast_constructor(Response)
_usage = fast_constructor(Usage)
_NO_USAGE = Usage()


def _plain_response(
    text: str | None, tool_calls: tuple[ToolCall, ...], structured: Any = None
) -> Response:
    """`Response(text, tool_calls, structured)`, the other fields left at their defaults."""
    return _response(text, tool_calls, structured, _NO_USAGE, "", 0.0, None)


def _count_words(messages: Iterable[Message]) -> int:
    """A cheap stand-in for a token count: words of text; for a tool call, its name
    and a key and a value per argument."""
    total = 0
    for message in messages:
        calls = message.tool_calls if isinstance(message, AssistantMessage) else ()
        total += _words(message.content, calls)
    return total


def _words(text: str | None, calls: Iterable[ToolCall]) -> int:
    total = len(text.split()) if text else 0
    for call in calls:
        arguments = call.arguments
        total += 1 + (len(arguments.split()) if isinstance(arguments, str) else 2 * len(arguments))
    return total


class _InputCounter:
    """Counts a conversation's words, remembering each conversation it has seen.

    An agent sends the same growing history on every turn, so only the messages
    added since the last call are counted; anything else is counted afresh.
    """

    LIMIT = 10_000  # conversations remembered; past that, start over

    def __init__(self) -> None:
        # id(history) -> (the history, messages counted, its last one, their words);
        # holding the history keeps its id from being reused while remembered
        self.seen: dict[int, tuple[Sequence[Message], int, Message, int]] = {}

    def count(self, messages: Sequence[Message]) -> int:
        known = self.seen.get(id(messages))
        size = len(messages)
        if known is not None and known[0] is messages and 0 < known[1] <= size:
            _, counted, last, words = known
            if messages[counted - 1] is last:
                words += _count_words(messages[counted:])
                self.seen[id(messages)] = (messages, size, messages[-1], words)
                return words
        words = _count_words(messages)
        if size and isinstance(messages, list):
            if len(self.seen) >= self.LIMIT:
                self.seen.clear()
            self.seen[id(messages)] = (messages, size, messages[-1], words)
        return words


class _RecordingModel(ModelBase):
    """Shared by the test models: records calls, counts words as tokens, streams words."""

    __test__ = False  # keep pytest from collecting TestModel

    def __init__(self, model_name: str, latency: float) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        self.model_name = model_name
        self.latency = latency
        self.calls: list[ModelCall] = []
        self._inputs = _InputCounter()

    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> Response:
        started = time.perf_counter()
        call = _model_call(list(messages), list(tools) if tools else [], output_schema)
        self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        response = await self._answer(call)
        usage = response.usage
        if usage == _NO_USAGE:  # not scripted: count words (UNKNOWN_USAGE stays unknown)
            usage = _usage(self._inputs.count(messages), _words(response.text, response.tool_calls))
        return _response(
            response.text,
            response.tool_calls,
            response.structured,
            usage,
            response.model or self.model_name,
            time.perf_counter() - started,
            response.finish_reason or ("tool_calls" if response.tool_calls else "stop"),
        )

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream the reply's text word by word, then the whole `Response`."""
        response = await self.chat(messages, tools, output_schema)
        for chunk in Chunk.words(response.text):
            yield chunk
        yield response

    async def _answer(self, call: ModelCall) -> Response:
        raise NotImplementedError


class ScriptedModel(_RecordingModel):
    """A model that answers from a script.

    Args:
        replies: the replies in order (any iterable, even an endless one such as
            ``itertools.cycle``), or a function ``(messages, tools) -> reply``
            (sync or async) that picks one from the conversation. A reply is a `str`,
            a `ToolCall` or a list of them, a structured object (a pydantic model
            instance, or anything the call's output schema validates), a `Response`,
            or an exception to raise.
        latency: seconds each call takes (awaited with ``asyncio.sleep``).
        model_name: the name responses carry.

    Attributes:
        calls: every call received, with its messages, tools and output schema.

    Raises:
        LLMError: (from `chat`) the list of replies ran out.

    Example:
        model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "the sum is 3"])
    """

    provider = "scripted"

    def __init__(
        self,
        replies: Iterable[object] | ReplyFunction,
        *,
        latency: float = 0.0,
        model_name: str = "scripted",
    ) -> None:
        if isinstance(replies, str):
            raise TypeError(
                "ScriptedModel takes a list of replies; wrap the text: "
                f"ScriptedModel([{replies!r}])"
            )
        super().__init__(model_name, latency)
        self._function: ReplyFunction | None = replies if callable(replies) else None
        self._replies: Iterator[object] = iter(() if callable(replies) else replies)
        self._used = 0
        self._lock = threading.Lock()

    async def _answer(self, call: ModelCall) -> Response:
        if self._function is not None:
            reply = self._function(call.messages, call.tools)
            if not isinstance(reply, str | list | tuple) and inspect.isawaitable(reply):
                reply = await reply
        else:
            with self._lock:
                reply = next(self._replies, _NO_REPLY)
                self._used += reply is not _NO_REPLY
            if reply is _NO_REPLY:
                raise LLMError(
                    f"ScriptedModel {self.model_name!r} ran out of replies after "
                    f"{self._used}; add replies or pass a function"
                )
        return _to_response(reply, call.output_schema)


class SchemaModel(_RecordingModel):
    """A model that exercises every tool once, then answers to fit the schema.

    On a turn where some offered tool has not been called yet in the conversation,
    it calls all such tools in parallel with arguments made by `sample_from_schema`.
    Otherwise it answers: with an object made from the output schema if there is
    one, else with `text`, or by default a JSON summary of the tool results.

    Args:
        text: the final text answer; default: ``{"tool name": "its result", ...}``.
        call_tools: False to never call tools.
        latency: seconds each call takes.
        model_name: the name responses carry.
    """

    provider = "test"

    def __init__(
        self,
        *,
        text: str | None = None,
        call_tools: bool = True,
        latency: float = 0.0,
        model_name: str = "schema-model",
    ) -> None:
        super().__init__(model_name, latency)
        self.text = text
        self.call_tools = call_tools

    async def _answer(self, call: ModelCall) -> Response:
        called = {
            tool_call.name
            for message in call.messages
            if isinstance(message, AssistantMessage)
            for tool_call in message.tool_calls
        }
        pending = [tool for tool in call.tools if tool.name not in called]
        if self.call_tools and pending:
            return Response(
                tool_calls=tuple(
                    ToolCall(tool.name, sample_from_schema(tool.parameters)) for tool in pending
                )
            )
        if call.output_schema is not None:
            from ..llm.structured import output_json_schema

            value = sample_from_schema(output_json_schema(call.output_schema))
            return _to_response(value, call.output_schema)
        if self.text is not None:
            return Response(self.text)
        results = {m.name: m.content for m in call.messages if isinstance(m, ToolMessage)}
        return Response(json.dumps(results) if results else "success")


TestModel = SchemaModel
"""Pydantic AI's name for the same idea."""


def _to_response(reply: object, output_schema: type[Any] | None) -> Response:
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, Response):
        return reply
    if isinstance(reply, ToolCall):
        return _plain_response(None, (reply,))
    if isinstance(reply, list | tuple) and reply and all(isinstance(r, ToolCall) for r in reply):
        return _plain_response(None, tuple(reply))
    if isinstance(reply, str):
        structured = None
        if output_schema is not None:
            from ..errors import StructuredOutputError
            from ..llm.structured import parse_structured

            try:
                structured = parse_structured(output_schema, reply)
            except StructuredOutputError:
                structured = None  # the agent's repair round sees the text
        return _plain_response(reply, (), structured)
    import pydantic

    if output_schema is not None:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(output_schema)
        structured = adapter.validate_python(reply)
        return Response(adapter.dump_json(structured).decode(), structured=structured)
    if isinstance(reply, pydantic.BaseModel):
        return Response(reply.model_dump_json(), structured=reply)
    raise TypeError(
        f"a scripted reply must be text, a ToolCall or a list of them, a Response, an "
        f"exception, or a structured object for an output schema; got {reply!r}"
    )


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "someone@example.com",
    "uri": "https://example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


def sample_from_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A simple value that fits a JSON schema (the subset pydantic generates).

    Deterministic: strings are ``"a"`` (or fit their ``format``), numbers their lower
    bound or 0, arrays one item, objects their required properties. ``pattern`` is
    not honoured; script such tools with `ScriptedModel` instead.
    """
    root = schema if root is None else root
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return sample_from_schema(root.get("$defs", {})[name], root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = schema[key]
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return sample_from_schema(chosen, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        length = max(1, schema.get("minLength", 1))
        return "a" * min(length, schema.get("maxLength", length))
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        if "prefixItems" in schema:
            return [sample_from_schema(item, root) for item in schema["prefixItems"]]
        count = max(1, schema.get("minItems", 1))
        count = min(count, schema.get("maxItems", count))
        item = sample_from_schema(schema.get("items", {}), root)
        return [item] * count
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        value = {
            name: sample_from_schema(properties[name], root)
            for name in schema.get("required", ())
            if name in properties
        }
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict):
            value["key"] = sample_from_schema(extra, root)
        return value
    return "a"
