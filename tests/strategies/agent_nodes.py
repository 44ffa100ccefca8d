"""The remote agent of the Ray agent tests (a Ray worker imports this by name).

It asks the session's loopback server, whose script `script` writes, and its tool
`lookup` runs on the driver (a child call), where `looked_up` says what really ran.
The model's price is registered on the driver only (`helpers.priced`), so a cost
seen means the driver priced the call.
"""

from __future__ import annotations

from typing import Any

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.llm.retries import RetryPolicy

looked_up: list[int] = []  # the lookups that really ran (on the driver: tools run there)


def model(
    server: FakeLLMServer, name: str = "remote-model", **options: Any
) -> OpenAICompatibleModel:
    """A model of the session's loopback server that fails at once (no retries)."""
    return OpenAICompatibleModel(
        name,
        base_url=server.base_url,
        api_key=API_KEY,
        retry=RetryPolicy(max_retries=0),
        timeout=30.0,
        **options,
    )


async def lookup(n: int) -> int:
    """Look a number up.

    Args:
        n: the number
    """
    looked_up.append(n)
    return n * 2


def agent(server: FakeLLMServer, mode: str = "distributed", **options: Any) -> Any:
    return rc.agent_node(
        "asker", llm=model(server), tool_nodes=[rc.function_node(lookup)], mode=mode, **options
    )


def boss_of(asker: Any) -> Any:
    """A local node that asks `asker`: the agent's events name it as their parent."""

    async def boss(question: str) -> str:
        result = await rc.call(asker, question)
        return f"{result.text} ({result.model_calls} calls)"

    return rc.function_node(boss)


def script(server: FakeLLMServer, lookups: int = 2, answer: bool = True) -> None:
    """`lookups` turns asking for lookup(n=i), then an answer (or the next request fails)."""
    for i in range(1, lookups + 1):
        server.tool_calls(("lookup", {"n": i}))
    if answer:
        server.text("all looked up")
