"""A provider for Anthropic's Messages API, over httpx (no SDK needed).

Structured output: the Messages API has no JSON-schema response format, so an output
schema is offered as one more tool, ``final_answer``, whose input is the answer. When
it is the only tool the model is made to call it; otherwise the model may call the
real tools first. Its input becomes `Response.structured` and never a tool call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import StructuredOutputError
from ..messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage
from ..response import Chunk, Response, Usage
from ..retries import RetryPolicy
from ..structured import parse_structured, wire_schema
from ._http import HTTPModel, StreamDecoder

if TYPE_CHECKING:
    import httpx

    from ...errors import ProviderError
    from ..tools import Tool

__all__ = ["AnthropicModel"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
OUTPUT_TOOL = "final_answer"


class AnthropicModel(HTTPModel):
    """A Claude model through Anthropic's Messages API.

    Args:
        model: e.g. ``"claude-3-5-haiku-latest"``.
        base_url: defaults to ``$ANTHROPIC_BASE_URL``, then Anthropic's own.
        api_key: defaults to ``$ANTHROPIC_API_KEY``.
        max_tokens: the most tokens an answer may have (the API requires a limit).
        timeout, retry, settings, headers, client, sleep: as for `OpenAICompatibleModel`.
    """

    key_env = "ANTHROPIC_API_KEY"
    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = 4096,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        settings: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        super().__init__(
            model,
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            api_key=api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY"),
            timeout=timeout,
            retry=retry,
            settings=settings,
            headers={"anthropic-version": API_VERSION, **(headers or {})},
            client=client,
            **extra,
        )
        self.max_tokens = max_tokens

    def _url(self) -> str:
        return f"{self.base_url}/v1/messages"

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _payload(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        output_schema: type[Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if isinstance(m, SystemMessage))
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": self.max_tokens,
            "messages": _wire_messages(messages),
            **self.settings,
        }
        if system:
            body["system"] = system
        wire_tools = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in tools or ()
        ]
        if output_schema is not None:
            wire_tools.append(
                {
                    "name": OUTPUT_TOOL,
                    "description": "Give your final answer by calling this tool.",
                    "input_schema": wire_schema(output_schema),
                }
            )
            if not tools:
                body["tool_choice"] = {"type": "tool", "name": OUTPUT_TOOL}
        if wire_tools:
            body["tools"] = wire_tools
        if stream:
            body["stream"] = True
        return body

    def _parse(self, body: Any, output_schema: type[Any] | None) -> Response:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in body["content"]:
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "tool_use":
                calls.append(ToolCall(block["name"], block.get("input") or {}, block["id"]))
        return _response(
            texts,
            calls,
            output_schema,
            Usage.reported(body.get("usage"), "input_tokens", "output_tokens"),
            body.get("model") or self.model_name,
            body.get("stop_reason"),
        )

    def _decoder(self, output_schema: type[Any] | None) -> StreamDecoder:
        return _Decoder(self, output_schema)


class _Decoder(StreamDecoder):
    """Assembles Messages API stream events; a stream must end in ``message_stop``."""

    def __init__(self, owner: AnthropicModel, output_schema: type[Any] | None) -> None:
        self.owner = owner
        self.output_schema = output_schema
        self.blocks: dict[int, dict[str, Any]] = {}
        # None until the stream reports them: unknown is not zero
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.model = owner.model_name
        self.stop_reason: str | None = None
        self.done = False

    def _fail(self, message: str) -> ProviderError:
        return self.owner._error(message, status=200, hint="the stream is malformed or cut off")

    def feed(self, event: str, data: str) -> Chunk | None:
        try:
            body = json.loads(data)
        except json.JSONDecodeError:
            raise self._fail(f"a {event!r} stream event is not valid JSON") from None
        kind = body.get("type", event)
        if kind == "error":
            detail = (body.get("error") or {}).get("message", data)
            raise self.owner._error(f"the server reported an error mid-stream: {detail}")
        if kind == "message_start":
            message = body.get("message") or {}
            self.model = message.get("model") or self.model
            reported = Usage.reported(message.get("usage"), "input_tokens", "output_tokens")
            self.input_tokens = reported.input_tokens
        elif kind == "content_block_start":
            self.blocks[body["index"]] = {**body["content_block"], "parts": []}
        elif kind == "content_block_delta":
            delta = body["delta"]
            block = self.blocks.setdefault(body["index"], {"type": "text", "parts": []})
            if delta.get("type") == "text_delta":
                block["parts"].append(delta["text"])
                return Chunk(delta["text"])
            if delta.get("type") == "input_json_delta":
                block["parts"].append(delta.get("partial_json", ""))
        elif kind == "message_delta":
            self.stop_reason = (body.get("delta") or {}).get("stop_reason") or self.stop_reason
            reported = Usage.reported(body.get("usage"), "input_tokens", "output_tokens")
            self.output_tokens = reported.output_tokens
        elif kind == "message_stop":
            self.done = True
        return None

    def finish(self) -> Response:
        if not self.done:
            raise self._fail("the stream ended before message_stop")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for _, block in sorted(self.blocks.items()):
            joined = "".join(block["parts"])
            if block["type"] == "text":
                texts.append(joined or block.get("text", ""))
            elif block["type"] == "tool_use":
                try:
                    arguments: Mapping[str, Any] | str = json.loads(joined) if joined else {}
                except json.JSONDecodeError:
                    arguments = joined
                calls.append(ToolCall(block["name"], arguments, block["id"]))
        usage = Usage(self.input_tokens, self.output_tokens)
        return _response(texts, calls, self.output_schema, usage, self.model, self.stop_reason)


def _response(
    texts: list[str],
    calls: list[ToolCall],
    output_schema: type[Any] | None,
    usage: Usage,
    model: str,
    stop_reason: str | None,
) -> Response:
    text = "".join(texts) or None
    structured = None
    answer = next((call for call in calls if call.name == OUTPUT_TOOL), None)
    if output_schema is not None and answer is not None:
        calls = [call for call in calls if call is not answer]
        text = answer.arguments_json()
    if output_schema is not None and text:
        try:
            structured = parse_structured(output_schema, text)
        except StructuredOutputError:
            structured = None
    return Response(text, tuple(calls), structured, usage, model, 0.0, stop_reason)


def _wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages API turns; tool results travel as blocks of one user turn."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, ToolMessage):
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
                "is_error": message.is_error,
            }
            last = wire[-1] if wire else None
            if last and last["role"] == "user" and isinstance(last["content"], list):
                last["content"].append(block)
            else:
                wire.append({"role": "user", "content": [block]})
        elif isinstance(message, AssistantMessage):
            content: list[dict[str, Any]] = []
            if message.content:
                content.append({"type": "text", "text": message.content})
            for call in message.tool_calls:
                arguments = {} if isinstance(call.arguments, str) else dict(call.arguments)
                content.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}
                )
            wire.append({"role": "assistant", "content": content})
        else:
            wire.append({"role": "user", "content": message.content})
    return wire
