"""`OfflineDemoModel`: a stand-in for a real model that needs nothing and answers at once.

It follows the same plan as the embedded model — call the offered tools, then
answer from their results — from a fixed script rather than a neural network, so
any workflow runs end to end without a model file, a key or a network:
``requestcompletion demo --model scripted``, or a quick smoke test of a workflow.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..messages import Message, ToolCall, ToolMessage, UserMessage
from ..model import ModelBase, StreamItem
from ..response import Chunk, Response, Usage

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["OfflineDemoModel", "offline_demo_model"]

_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z-]+\b")


class OfflineDemoModel(ModelBase):
    """A scripted model that calls tools with names from the request, then sums up.

    * Tools on offer and no results yet since the user's last message: a tool with
      one required string argument is called once per capitalised word of that
      message (not counting words that start a sentence), all in one turn; any other tool once, with
      arguments made from its schema.
    * With an output schema: an object made from the schema; an enum takes the
      value the user's last message mentions first.
    * Otherwise: a sentence quoting each tool result.

    Tokens are counted as words.
    """

    provider = "scripted"
    model_name = "offline-demo"

    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> Response:
        started = time.perf_counter()
        user = next((m for m in reversed(messages) if isinstance(m, UserMessage)), None)
        request = user.content if user is not None else ""
        after = list(messages)[list(messages).index(user) :] if user is not None else []
        results = [m for m in after if isinstance(m, ToolMessage)]
        calls: tuple[ToolCall, ...] = ()
        text: str | None = None
        structured = None
        if tools and not results:
            calls = _calls(request, tools)
        elif output_schema is not None:
            from ..structured import output_json_schema, parse_structured

            schema = output_json_schema(output_schema)
            text = json.dumps(_fill(schema, schema, request))
            structured = parse_structured(output_schema, text)
        elif results:
            said = "; ".join(f"{r.name} said {r.content.strip()}" for r in results)
            text = f"From the tools: {said}."
        else:
            text = "There is nothing to look up, so this is my whole answer."
        words_in = sum(len((m.content or "").split()) for m in messages)
        words_out = len((text or "").split()) + 8 * len(calls)
        return Response(
            text,
            calls,
            structured,
            Usage(words_in, words_out),
            self.model_name,
            time.perf_counter() - started,
            "tool_calls" if calls else "stop",
        )

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> AsyncIterator[StreamItem]:
        """The reply's text word by word, then the whole `Response`."""
        response = await self.chat(messages, tools, output_schema)
        if output_schema is None:
            for chunk in Chunk.words(response.text):
                yield chunk
        yield response


def offline_demo_model() -> OfflineDemoModel:
    """The model ``--model scripted`` names."""
    return OfflineDemoModel()


def _calls(request: str, tools: Sequence[Tool]) -> tuple[ToolCall, ...]:
    from ...testing.models import sample_from_schema

    names = list(
        dict.fromkeys(
            match.group()
            for match in _CAPITALISED.finditer(request)
            if request[: match.start()].rstrip()[-1:] not in ("", ".", "!", "?")
        )
    )
    calls = []
    for tool in tools:
        properties: dict[str, Any] = tool.parameters.get("properties", {})
        required = tool.parameters.get("required", [])
        if len(required) == 1 and properties.get(required[0], {}).get("type") == "string":
            calls += [ToolCall(tool.name, {required[0]: name}) for name in names]
        else:
            calls.append(ToolCall(tool.name, sample_from_schema(tool.parameters)))
    return tuple(calls) or (ToolCall(tools[0].name, sample_from_schema(tools[0].parameters)),)


def _fill(schema: Mapping[str, Any], root: Mapping[str, Any], request: str) -> Any:
    from ...testing.models import sample_from_schema

    if "$ref" in schema:
        return _fill(root.get("$defs", {})[schema["$ref"].rsplit("/", 1)[-1]], root, request)
    options = schema.get("enum")
    if options:
        mentioned = [v for v in options if isinstance(v, str) and v in request]
        return min(mentioned, key=request.index) if mentioned else options[0]
    if schema.get("type") == "object" and "properties" in schema:
        return {
            name: _fill(sub, root, request)
            for name, sub in schema["properties"].items()
            if name in schema.get("required", ())
        }
    if schema.get("type") == "string" and "format" not in schema:
        return "it is named first in the request"[: schema.get("maxLength", 200)]
    return sample_from_schema(schema, root)
