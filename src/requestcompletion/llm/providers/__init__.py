"""Model providers. Each is imported only when first used (so are httpx and llama.cpp).

- `OpenAICompatibleModel`: OpenAI, Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter.
- `AnthropicModel`: Anthropic's Messages API.
- `LocalModel`: SmolLM2-135M embedded on llama.cpp (the ``local`` extra); no key, no network.
- `OfflineDemoModel`: a scripted stand-in that needs nothing.
- `resolve_model("openai:gpt-4o-mini")` / `default_model()`: a model from a short name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .anthropic import AnthropicModel
    from .local import LocalModel
    from .openai_compat import OpenAICompatibleModel
    from .resolve import default_model, resolve_model
    from .scripted import OfflineDemoModel

__all__ = [
    "AnthropicModel",
    "LocalModel",
    "OfflineDemoModel",
    "OpenAICompatibleModel",
    "default_model",
    "resolve_model",
]

_WHERE = {
    "AnthropicModel": ".anthropic",
    "LocalModel": ".local",
    "OfflineDemoModel": ".scripted",
    "OpenAICompatibleModel": ".openai_compat",
    "default_model": ".resolve",
    "resolve_model": ".resolve",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
