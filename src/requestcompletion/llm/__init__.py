"""Talking to language models: messages, tools, the model seam, and providers.

Importing this package is cheap: messages, responses, `ModelBase` and the retry and
pricing helpers load at once; `Tool` and the output-schema helpers (which need
pydantic) and the providers (which need httpx) load the first time they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .messages import (
    AssistantMessage,
    Message,
    MessageHistory,
    Role,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
    message_from_dict,
)
from .model import ModelBase, StreamItem
from .pricing import Price, cost, price_for, register_price
from .response import Chunk, Response, Usage
from .retries import RetryPolicy

if TYPE_CHECKING:
    from .providers.anthropic import AnthropicModel
    from .providers.openai_compat import OpenAICompatibleModel
    from .structured import output_json_schema, parse_structured
    from .tools import Tool

__all__ = [
    "AnthropicModel",
    "AssistantMessage",
    "Chunk",
    "Message",
    "MessageHistory",
    "ModelBase",
    "OpenAICompatibleModel",
    "Price",
    "Response",
    "RetryPolicy",
    "Role",
    "StreamItem",
    "SystemMessage",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "cost",
    "message_from_dict",
    "output_json_schema",
    "parse_structured",
    "price_for",
    "register_price",
]

_LAZY = {
    "Tool": ".tools",
    "output_json_schema": ".structured",
    "parse_structured": ".structured",
    "OpenAICompatibleModel": ".providers.openai_compat",
    "AnthropicModel": ".providers.anthropic",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
