"""A model call's messages as the GenAI semantic conventions record them on its span.

Only with ``instrument(capture_content=True)``. The conventions (the form
``opentelemetry-semantic-conventions`` 0.66b2, schema 1.44, defines; the
per-message span events of earlier versions are gone from them) put the messages
in two span attributes, each a JSON array:

- ``gen_ai.input.messages``: what the request sent, oldest first, each
  ``{"role": "system" | "user" | "assistant" | "tool", "parts": [...]}``;
- ``gen_ai.output.messages``: the reply, ``[{"role": "assistant", "parts": [...],
  "finish_reason": ...}]``.

A part is ``{"type": "text", "content": ...}``, ``{"type": "tool_call", "id", "name",
"arguments"}`` or ``{"type": "tool_call_response", "id", "response"}``. The system
message is part of rc's conversation, so it is the first input message rather than
``gen_ai.system_instructions`` (which the conventions keep for instructions sent
apart from the chat history).

Every text goes through the model's `scrub` (its API key and secret headers become
``***``) and is cut to `PART_LIMIT` characters with a marker saying how much was cut.
This runs on the subscriber's thread, and only for a traced run that captures
contents: the agent passes its conversation list as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["PART_LIMIT", "input_messages", "output_messages"]

PART_LIMIT = 4_000
"""Characters of one part's text (a message's content, a tool call's arguments, a tool
result) kept on a span; the rest is replaced by a marker."""

Scrub = Callable[[str], str]
# the conventions' finish reasons for the providers' own words
_FINISH = {
    "tool_calls": "tool_call",
    "tool_use": "tool_call",
    "function_call": "tool_call",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
}


def cut(text: str) -> str:
    """`text`, or its first `PART_LIMIT` characters and a marker saying how many were cut."""
    if len(text) <= PART_LIMIT:
        return text
    return f"{text[:PART_LIMIT]}...[{len(text) - PART_LIMIT:,} more characters cut]"


def input_messages(messages: Iterable[Any], scrub: Scrub) -> str:
    """``gen_ai.input.messages`` for the messages a request sent."""
    return _json([{"role": m.role, "parts": _parts(m, scrub)} for m in messages])


def output_messages(response: Any, finish_reason: str | None, scrub: Scrub) -> str:
    """``gen_ai.output.messages`` for a model's reply (an `llm.Response`)."""
    parts = _text_and_calls(response.text, response.tool_calls, scrub)
    if finish_reason is None:
        finish_reason = "tool_call" if response.tool_calls else "stop"
    reason = _FINISH.get(finish_reason, finish_reason)
    return _json([{"role": "assistant", "parts": parts, "finish_reason": reason}])


def _parts(message: Any, scrub: Scrub) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_call_response",
                "id": message.tool_call_id,
                "response": cut(scrub(message.content)),
            }
        ]
    return _text_and_calls(message.content, getattr(message, "tool_calls", ()), scrub)


def _text_and_calls(text: str | None, calls: Iterable[Any], scrub: Scrub) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "content": cut(scrub(text))})
    for call in calls:
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.name,
                "arguments": _arguments(call.arguments, scrub),
            }
        )
    return parts


def _arguments(arguments: Any, scrub: Scrub) -> Any:
    """The call's arguments as JSON data, scrubbed; as cut text when they are too long
    (or were never JSON: the raw text the model sent)."""
    raw = arguments if isinstance(arguments, str) else _json(arguments)
    clean = scrub(raw)
    if isinstance(arguments, str) or len(clean) > PART_LIMIT:
        return cut(clean)
    try:
        return json.loads(clean)
    except ValueError:  # a secret inside an escape sequence: keep the scrubbed text
        return clean


def _json(value: Any) -> str:
    # repr for what JSON cannot hold: a span attribute must never fail the export
    return json.dumps(value, ensure_ascii=False, default=repr)
