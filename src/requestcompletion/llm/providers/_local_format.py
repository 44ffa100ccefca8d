"""How `LocalModel` talks to a small model: the prompt, the grammar's schema, the replies.

A 135M-parameter model cannot be trusted to follow a tool-calling protocol on its
own, so the protocol is fixed here instead of left to the model:

* a *calling turn* — tools are on offer and no tool result has come back since the
  user's last message — must be a JSON list of calls,
  ``[{"tool": "name", "arguments": {...}}, ...]`` (one or more; the agent runs them
  in parallel). The grammar allows exactly the offered tool names, each with its
  own argument schema, so every call names a real tool and has well-formed
  arguments;
* any other turn is an *answering turn*: free text, or JSON that fits the output
  schema when there is one (again enforced by a grammar).

Schemas are bounded before they become a grammar (strings at most `MAX_STRING`
characters, arrays at most `MAX_ITEMS`, at most `MAX_CALLS` calls a turn), so a
small model that starts repeating itself stops at the bound instead of running to
the token limit. These are pure functions; they are tested without llama.cpp.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..messages import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, UserMessage

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = [
    "DEFAULT_SYSTEM",
    "MAX_CALLS",
    "bounded",
    "calls_schema",
    "is_calling_turn",
    "parse_calls",
    "render",
]

# the chat template of SmolLM2 adds this when a conversation has no system message
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
MAX_STRING = 200
MAX_ITEMS = 10
MAX_CALLS = 8


def is_calling_turn(messages: Sequence[Message], tools: Sequence[Tool] | None) -> bool:
    """True when this turn must call tools: tools offered, no results since the user spoke."""
    if not tools:
        return False
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            return False
        if isinstance(message, UserMessage):
            return True
    return True


def bounded(schema: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of `schema` with bounds a grammar can enforce; `$defs` names get `prefix`.

    Strings without ``maxLength`` get `MAX_STRING`, arrays without ``maxItems`` get
    `MAX_ITEMS`. With a prefix, local references ``#/$defs/X`` become
    ``#/$defs/{prefix}X`` so that several tools' definitions can share one root.
    """

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("enum", "const", "default", "examples", "description", "title"):
                out[key] = value
            elif key in ("properties", "$defs"):
                out[key] = {
                    (prefix + name if key == "$defs" else name): visit(sub)
                    for name, sub in value.items()
                }
            elif key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = "#/$defs/" + prefix + value.removeprefix("#/$defs/")
            else:
                out[key] = visit(value)
        kinds = out.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds and "maxLength" not in out and "enum" not in out:
            out["maxLength"] = MAX_STRING
        if "array" in kinds and "maxItems" not in out:
            out["maxItems"] = max(MAX_ITEMS, out.get("minItems", 0))
        return out

    result: dict[str, Any] = visit(schema)
    return result


def calls_schema(tools: Sequence[Tool]) -> dict[str, Any]:
    """The JSON schema of a calling turn's reply: a list of calls to the offered tools."""
    options = []
    definitions: dict[str, Any] = {}
    for index, tool in enumerate(tools):
        arguments = bounded(tool.parameters, prefix=f"t{index}_")
        definitions.update(arguments.pop("$defs", {}))
        arguments.setdefault("type", "object")
        options.append(
            {
                "type": "object",
                "properties": {"tool": {"const": tool.name}, "arguments": arguments},
                "required": ["tool", "arguments"],
            }
        )
    item = options[0] if len(options) == 1 else {"anyOf": options}
    schema: dict[str, Any] = {
        "type": "array",
        "items": item,
        "minItems": 1,
        "maxItems": MAX_CALLS,
    }
    if definitions:
        schema["$defs"] = definitions
    return schema


def parse_calls(text: str) -> tuple[ToolCall, ...] | None:
    """The calls in a calling turn's reply, or None when it is not a complete list.

    A reply the grammar allowed is always complete unless it hit the token limit.
    """
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(items, list) or not items:
        return None
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("tool"), str):
            return None
        arguments = item.get("arguments")
        calls.append(ToolCall(item["tool"], arguments if isinstance(arguments, dict) else {}))
    return tuple(calls)


def render(
    messages: Sequence[Message],
    tools: Sequence[Tool] | None,
    output_schema: Mapping[str, Any] | None,
    calling: bool,
) -> str:
    """The conversation in ChatML (SmolLM2's chat format), ending where the model speaks.

    Tool results are sent as a user turn that quotes each call: small models have
    not learnt a ``tool`` role, but they read "results of your calls" well.
    """
    system = "\n\n".join(m.content for m in messages if isinstance(m, SystemMessage))
    extra = []
    if calling and tools:
        extra.append(_tool_instructions(tools))
    elif output_schema is not None:
        extra.append(
            "Reply with only a JSON value that fits this JSON schema: "
            + json.dumps(output_schema, separators=(",", ":"))
        )
    system = "\n\n".join(part for part in (system or DEFAULT_SYSTEM, *extra) if part)
    turns: list[tuple[str, str]] = [("system", system)]
    calls_by_id: dict[str, ToolCall] = {}
    results: list[str] = []
    for message in messages:
        if isinstance(message, ToolMessage):
            call = calls_by_id.get(message.tool_call_id)
            shown = f"{message.name}({_arguments_text(call) if call else ''})"
            outcome = "failed: " if message.is_error else ""
            results.append(f"- {shown}: {outcome}{message.content}")
            continue
        if results:
            turns.append(("user", _results_turn(results)))
            results = []
        if isinstance(message, UserMessage):
            turns.append(("user", message.content))
        elif isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                calls_by_id[call.id] = call
            turns.append(("assistant", _assistant_text(message)))
    if results:
        turns.append(("user", _results_turn(results)))
    body = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    return body + "<|im_start|>assistant\n"


def _assistant_text(message: AssistantMessage) -> str:
    # calls are shown in words: shown as JSON, they teach the model to answer in JSON
    if not message.tool_calls:
        return message.content or ""
    calls = ", ".join(f"{c.name}({_arguments_text(c)})" for c in message.tool_calls)
    text = f"I will call {calls}."
    return f"{message.content}\n{text}" if message.content else text


def _arguments_text(call: ToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in call.arguments.items())


def _results_turn(results: list[str]) -> str:
    return (
        "Results of your tool calls:\n"
        + "\n".join(results)
        + "\nNow answer my request in plain words, using these results."
    )


def _tool_instructions(tools: Sequence[Tool]) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        properties = tool.parameters.get("properties", {})
        params = ", ".join(
            f"{name}: {spec.get('type', 'value') if isinstance(spec, dict) else 'value'}"
            for name, spec in properties.items()
        )
        description = tool.description.strip().splitlines()[0] if tool.description else ""
        lines.append(f"- {tool.name}({params})" + (f": {description}" if description else ""))
    # no example call: a small model copies an example's values instead of the user's
    lines.append(
        "Reply with a JSON list of tool calls: one call for each thing the user asks about."
    )
    return "\n".join(lines)
