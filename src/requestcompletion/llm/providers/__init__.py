"""Model providers over HTTP. Each is imported only when first used, so httpx is too.

- `OpenAICompatibleModel`: OpenAI, Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter.
- `AnthropicModel`: Anthropic's Messages API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .anthropic import AnthropicModel
    from .openai_compat import OpenAICompatibleModel

__all__ = ["AnthropicModel", "OpenAICompatibleModel"]

_WHERE = {"AnthropicModel": ".anthropic", "OpenAICompatibleModel": ".openai_compat"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
