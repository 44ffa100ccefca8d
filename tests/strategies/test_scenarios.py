"""One set of workflows, run on every strategy: the recorded graphs must be the same.

asyncio runs the `async def` flavour, threads the `def` flavour, and distributed
(Ray) runs both: same node names, parent links, statuses and outputs. The
`user-strategy` case runs the `def` flavour on the user strategy of
docs/strategies.md (`PoolStrategy` on a thread pool of its own), plugged in
through the public API as mode "pool".
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from workflows import ASYNC, RELEASE, SYNC, graph, quiet

import requestcompletion as rc
from helpers import docs_module

CASES = [
    pytest.param(("asyncio", "async"), id="asyncio"),
    pytest.param(("threads", "sync"), id="threads"),
    pytest.param(("pool", "sync"), id="user-strategy"),
    pytest.param(("distributed", "async"), id="distributed-async", marks=pytest.mark.ray),
    pytest.param(("distributed", "sync"), id="distributed-def", marks=pytest.mark.ray),
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], SimpleNamespace]]:
    """(runner overrides, node flavour) for one strategy."""
    mode, flavour = request.param
    overrides: dict[str, Any] = {}
    if mode == "distributed":
        request.getfixturevalue("ray_cluster")
        overrides["execution_mode"] = "distributed"
    elif mode == "pool":
        pool = docs_module("strategies.md", "docs_strategies").PoolStrategy
        overrides["execution_modes"] = {"pool": pool(lambda: ThreadPoolExecutor(4, "user-pool"))}
        overrides["execution_mode"] = "pool"
    RELEASE.clear()
    yield overrides, ASYNC if flavour == "async" else SYNC
    RELEASE.set()


def ok(name: str, output: Any, *children: Any) -> tuple[Any, ...]:
    return (name, "succeeded", repr(output), None, sorted(children, key=repr))


def failed(name: str, error: str, *children: Any) -> tuple[Any, ...]:
    return (name, "failed", "None", error, sorted(children, key=repr))


def cancelled(name: str, *children: Any) -> tuple[Any, ...]:
    return (name, "cancelled", "None", None, sorted(children, key=repr))


Case = tuple[dict[str, Any], SimpleNamespace]


def test_chain(case: Case) -> None:
    overrides, nodes = case
    with quiet(**overrides) as runner:
        assert runner.run_sync(nodes.chain, 3).answer == 12
    assert graph(runner.info) == [ok("chain", 12, ok("leaf", 6), ok("leaf", 12))]


def test_fan_out(case: Case) -> None:
    overrides, nodes = case
    with quiet(**overrides) as runner:
        assert runner.run_sync(nodes.fan, 4).answer == 12
    leaves = [ok("leaf", 2 * i) for i in range(4)]
    assert graph(runner.info) == [ok("fan", 12, *leaves)]


def test_nested_calls_and_streaming(case: Case) -> None:
    overrides, nodes = case
    items: list[Any] = []
    with quiet(subscriber=items.append, **overrides) as runner:
        assert runner.run_sync(nodes.outer, 5).answer == 11
    assert graph(runner.info) == [ok("outer", 11, ok("middle", 10, ok("leaf", 10)))]
    assert sorted(items) == ["middle:5", "outer:5"]
    by_node = {(runner.info.nodes[i].name, item) for i, _, item in runner.state.streamed}
    assert by_node == {("outer", "outer:5"), ("middle", "middle:5")}


def test_a_caught_error(case: Case) -> None:
    overrides, nodes = case
    with quiet(**overrides) as runner:
        assert runner.run_sync(nodes.catcher).answer == "caught ValueError: boom x"
    expected = [ok("catcher", "caught ValueError: boom x", failed("boom", "ValueError"))]
    assert graph(runner.info) == expected


def test_an_error_reaches_the_top_with_its_type(case: Case) -> None:
    overrides, nodes = case
    with quiet(**overrides) as runner, pytest.raises(ValueError, match="boom y"):
        runner.run_sync(nodes.relay)
    assert graph(runner.info) == [failed("relay", "ValueError", failed("boom", "ValueError"))]


def test_end_on_error_ends_the_run_even_if_the_caller_catches(case: Case) -> None:
    overrides, nodes = case
    with quiet(end_on_error=True, **overrides) as runner, pytest.raises(ValueError, match="boom x"):
        runner.run_sync(nodes.catcher)
    assert graph(runner.info) == [cancelled("catcher", failed("boom", "ValueError"))]


def test_a_node_timeout(case: Case) -> None:
    overrides, nodes = case
    with quiet(**overrides) as runner:
        assert runner.run_sync(nodes.patient).answer == "timed out"
        RELEASE.set()
    assert graph(runner.info) == [ok("patient", "timed out", failed("stuck", "NodeTimeoutError"))]


def test_the_global_timeout(case: Case) -> None:
    overrides, nodes = case
    # On Ray the limit also covers starting this runner's two workers.
    limit = 8.0 if overrides.get("execution_mode") == "distributed" else 0.5
    with quiet(timeout=limit, **overrides) as runner:
        with pytest.raises(rc.GlobalTimeOutError):
            runner.run_sync(nodes.forever)
        RELEASE.set()
    assert graph(runner.info) == [cancelled("forever", cancelled("stuck"))]


def test_context_is_shared(case: Case) -> None:
    overrides, nodes = case
    with quiet(context={"user": "ada"}, **overrides) as runner:
        assert runner.run_sync(nodes.reader).answer == "ada ada!"
        assert rc.context.get("seen") == "ada!"
    assert graph(runner.info) == [ok("reader", "ada ada!", ok("leaf", 2))]
