"""The agent workflow the resume tests replay: one agent making 20 model calls.

Model calls 1 to 19 each ask for the tool `lookup(n=i)`; call 20 answers. Run as a
script (``python workflow.py BASE_URL STATE_DIR``) it runs the workflow once, for
the tests that signal or kill a process mid-run.
"""

from __future__ import annotations

import sys
from typing import Any

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

CALLS = 20
LIVE: list[int] = []  # the lookups that really ran, in this process


def lookup(n: int) -> int:
    """Look a number up.

    Args:
        n: the number
    """
    LIVE.append(n)
    return n * 2


async def _no_wait(seconds: float) -> None:
    """Retries in these tests do not wait."""


def make_workflow(base_url: str) -> Any:
    """The workflow node, its agent talking to the server at `base_url`."""
    model = OpenAICompatibleModel(
        "test-model",
        base_url=base_url,
        api_key=API_KEY,
        retry=RetryPolicy(max_retries=1, base_delay=0.1),
        sleep=_no_wait,
        timeout=10.0,
    )
    agent = rc.agent_node("counter", llm=model, tool_nodes=[rc.function_node(lookup)])

    async def workflow(question: str) -> str:
        result = await rc.call(agent, question)
        return f"{result.text} after {result.tool_calls} lookups"

    return rc.function_node(workflow)


def script(server: FakeLLMServer, first: int = 1, last: int = CALLS) -> None:
    """Queue the answers to model calls `first` to `last` (counting from 1)."""
    for i in range(first, last + 1):
        if i < CALLS:
            server.tool_calls(("lookup", {"n": i}))
        else:
            server.text("all looked up")


def shape(info: rc.ExecutionInfo) -> list[tuple[str, int | None, Any]]:
    """What the graph of a run looks like: each node's name, parent and inputs."""
    return [(node.name, node.parent_id, node.kwargs or node.args) for node in info.nodes]


if __name__ == "__main__":  # the child process of the signal tests
    base_url, state_dir = sys.argv[1], sys.argv[2]
    with rc.Runner(state_dir=state_dir, logging_setting="NONE", run_identifier="child"):
        rc.call_sync(make_workflow(base_url), "count")
