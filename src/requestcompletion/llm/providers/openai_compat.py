"""A provider for any server that speaks OpenAI's chat-completions API.

That covers OpenAI itself, Ollama, vLLM, the llama.cpp server, LM Studio, OpenRouter
and Gemini's compatible endpoint. It talks to them with httpx directly rather than
through the ``openai`` SDK: the wire format is small, and the SDK would add weight and
a second retry layer that we would have to switch off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...errors import StructuredOutputError
from ..messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage
from ..response import UNKNOWN_USAGE, Chunk, Response, Usage
from ..retries import RetryPolicy
from ..structured import parse_structured, schema_name, wire_schema
from ._http import HTTPModel, StreamDecoder

if TYPE_CHECKING:
    import httpx

    from ...errors import ProviderError
    from ..tools import Tool

__all__ = ["OpenAICompatibleModel"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatibleModel(HTTPModel):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the model's name on that server, e.g. ``"gpt-4o-mini"`` or ``"llama3.2"``.
        base_url: the API root, usually ending in ``/v1``; defaults to
            ``$OPENAI_BASE_URL``, then OpenAI's own.
        api_key: defaults to ``$OPENAI_API_KEY``; without one no ``Authorization``
            header is sent, which suits local servers.
        timeout: seconds one attempt may take as a whole, from sending the request to
            the last byte of the reply (so a server that trickles bytes cannot hold a
            call for ever); a streamed reply gets that long for its headers and then
            for each event. Connecting takes at most 10. Retries get their own.
        retry: when and how long to retry 429s, 5xxs, timeouts and network failures.
        settings: extra fields for every request body (``temperature``, ``max_tokens``...).
        headers: extra HTTP headers (e.g. OpenRouter's ``HTTP-Referer``, or Azure's
            ``api-key``). A header whose name contains ``auth``, ``key``, ``token``,
            ``secret``, ``passw``, ``cookie``, ``session``, ``signature`` or
            ``credential`` is a secret: scrubbed from errors, logs and saved runs.
        client: an ``httpx.AsyncClient`` to use; its owner closes it.
        sleep: how to wait between retries; tests pass one that does not wait.
        provider: the name errors and events give this provider.

    Example:
        model = OpenAICompatibleModel("llama3.2", base_url="http://127.0.0.1:11434/v1")
        response = await model.chat([UserMessage("hello")])
    """

    key_env = "OPENAI_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        settings: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        provider: str = "openai",
    ) -> None:
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        super().__init__(
            model,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            api_key=api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"),
            timeout=timeout,
            retry=retry,
            settings=settings,
            headers=headers,
            client=client,
            **extra,
        )
        self.provider = provider

    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def _payload(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        output_schema: type[Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": [_wire_message(message) for message in messages],
            **self.settings,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in tools
            ]
        if output_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(output_schema),
                    "schema": wire_schema(output_schema),
                    "strict": False,
                },
            }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _parse(self, body: Any, output_schema: type[Any] | None) -> Response:
        choice = body["choices"][0]
        message = choice["message"]
        text = message.get("content") or message.get("refusal")
        calls = tuple(
            ToolCall(
                name=call["function"]["name"],
                arguments=_arguments(call["function"].get("arguments")),
                id=call.get("id") or ToolCall("_").id,
            )
            for call in message.get("tool_calls") or ()
        )
        return Response(
            text=text,
            tool_calls=calls,
            structured=_structured(output_schema, text),
            usage=Usage.reported(body.get("usage"), "prompt_tokens", "completion_tokens"),
            model=body.get("model") or self.model_name,
            finish_reason=choice.get("finish_reason"),
        )

    def _decoder(self, output_schema: type[Any] | None) -> StreamDecoder:
        return _Decoder(self, output_schema)


class _Decoder(StreamDecoder):
    """Assembles chat-completion chunks; a stream must end in ``[DONE]`` or a finish reason."""

    def __init__(self, owner: OpenAICompatibleModel, output_schema: type[Any] | None) -> None:
        self.owner = owner
        self.output_schema = output_schema
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage = UNKNOWN_USAGE  # until a chunk reports it (stream_options.include_usage)
        self.model = owner.model_name
        self.finish_reason: str | None = None
        self.done = False
        self.events = 0

    def _fail(self, message: str) -> ProviderError:
        return self.owner._error(message, status=200, hint="the stream is malformed or cut off")

    def feed(self, event: str, data: str) -> Chunk | None:
        if data.strip() == "[DONE]":
            self.done = True
            return None
        self.events += 1
        try:
            body = json.loads(data)
        except json.JSONDecodeError:
            raise self._fail(f"stream event {self.events} is not valid JSON") from None
        if not isinstance(body, dict):
            raise self._fail(f"stream event {self.events} is not a JSON object")
        if "error" in body:
            error = body["error"]
            detail = error.get("message") if isinstance(error, dict) else error
            raise self.owner._error(f"the server reported an error mid-stream: {detail}")
        self.model = body.get("model") or self.model
        if body.get("usage"):
            self.usage = Usage.reported(body["usage"], "prompt_tokens", "completion_tokens")
        chunk: Chunk | None = None
        for choice in body.get("choices") or ():
            delta = choice.get("delta") or {}
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            for call in delta.get("tool_calls") or ():
                slot = self.calls.setdefault(call.get("index", 0), {"args": []})
                function = call.get("function") or {}
                if call.get("id"):
                    slot["id"] = call["id"]
                if function.get("name"):
                    slot["name"] = function["name"]
                if function.get("arguments"):
                    slot["args"].append(function["arguments"])
            if delta.get("content"):
                self.text.append(delta["content"])
                chunk = Chunk(delta["content"])
        return chunk

    def finish(self) -> Response:
        if not self.done and self.finish_reason is None:
            raise self._fail(
                f"the stream ended after {self.events} events without finishing "
                "(no [DONE] and no finish_reason)"
            )
        text = "".join(self.text) or None
        calls = tuple(
            ToolCall(
                name=slot.get("name", ""),
                arguments=_arguments("".join(slot["args"])),
                id=slot.get("id") or ToolCall("_").id,
            )
            for _, slot in sorted(self.calls.items())
        )
        return Response(
            text=text,
            tool_calls=calls,
            structured=_structured(self.output_schema, text),
            usage=self.usage,
            model=self.model,
            finish_reason=self.finish_reason,
        )


def _wire_message(message: Message) -> dict[str, Any]:
    if isinstance(message, AssistantMessage):
        wire: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            wire["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for call in message.tool_calls
            ]
        return wire
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    return {"role": "user", "content": message.content}


def _arguments(raw: Any) -> Mapping[str, Any] | str:
    """Arguments as a mapping when they are a JSON object, else the raw text for the agent."""
    if isinstance(raw, Mapping):
        return raw
    if not raw:
        return {}
    try:
        decoded = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return str(raw)
    return decoded if isinstance(decoded, dict) else str(raw)


def _structured(output_schema: type[Any] | None, text: str | None) -> Any:
    """The validated object, or None so that the agent can run its repair round."""
    if output_schema is None or not text:
        return None
    try:
        return parse_structured(output_schema, text)
    except StructuredOutputError:
        return None
