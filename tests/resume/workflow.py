"""The agent workflow the resume tests replay: one agent making 20 model calls.

Model calls 1 to 19 each ask for the tool `lookup(n=i)`; call 20 answers. `main`
runs the workflow once in a child process, for the tests that signal or kill a
process mid-run.
"""

from __future__ import annotations

import signal
from typing import Any

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.context import current_runner
from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

CALLS = 20
live_lookups: list[int] = []  # the lookups that really ran, in this process
READY_AT = {"n": 0}  # the lookup after which the script prints READY (0: never)


async def lookup(n: int) -> int:
    """Look a number up.

    Args:
        n: the number
    """
    live_lookups.append(n)
    if n == READY_AT["n"]:
        # the model calls so far are on disk before the test is told to stop us
        runner = current_runner.get()
        if runner is not None and runner.state.journal is not None:
            await runner.state.journal.barrier()
        print("READY", flush=True)
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


def main(argv: list[str]) -> None:
    """The child process of the signal tests: ``main([BASE_URL, STATE_DIR, READY_AT])``.

    Started as ``python -c "import workflow; ..."`` rather than as a script, so its
    nodes' type keys name this module, as they do in the test that resumes the run.
    """
    # a child started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not
    signal.signal(signal.SIGINT, signal.default_int_handler)
    base_url, state_dir, READY_AT["n"] = argv[0], argv[1], int(argv[2])
    with rc.Runner(state_dir=state_dir, logging_setting="NONE", run_identifier="child"):
        rc.call_sync(make_workflow(base_url), "count")
