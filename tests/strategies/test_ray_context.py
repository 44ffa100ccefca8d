"""rc.context on a real Ray cluster: a remote node sees its own writes, deltas, isolation."""

from __future__ import annotations

import asyncio

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

import context_nodes as nodes  # noqa: E402 - needs ray
from workflows import quiet  # noqa: E402

from requestcompletion.execution import DistributedExecutionStrategy  # noqa: E402

pytestmark = pytest.mark.ray

N = 3  # remote nodes at once, children remote, local and on threads in turn


@pytest.mark.parametrize("attempt", range(40))
def test_a_remote_node_always_reads_back_its_own_writes(ray_cluster: object, attempt: int) -> None:
    with quiet() as runner:
        seen = runner.run_sync(nodes.own_writes_in_parallel, N).answer
        during = runner.run_sync(nodes.writes_during_calls, N).answer
        assert seen == [[(i, step) for step in range(nodes.STEPS)] for i in range(N)] * 2
        assert during == [list(range(nodes.STEPS))] * N
        # the driver has every write: the nodes' own and their children's
        context = runner.variables
        last = nodes.STEPS - 1
        assert {context[f"k{i}"] for i in range(N)} == {(i, last) for i in range(N)}
        assert context["w0"] == last
        assert context[f"other-k0-{last}"] == f"k0-{last}"
        assert context["other-sync-s2-1"] == "s2-1"


def test_two_runners_sharing_actors_never_mix_their_contexts(ray_cluster: object) -> None:
    shared = DistributedExecutionStrategy()  # one pool of actors for both runners

    async def one(who: str, done: asyncio.Barrier) -> object:
        # runners do not nest: each opens in a task of its own, and both stay open
        # until both are done (the first to close shuts the shared actors down)
        async with quiet(context={"who": who}, execution_modes={"distributed": shared}) as r:
            info = await r.run(nodes.whose_many, 6)
            await done.wait()
        return info.answer

    async def both() -> list[object]:
        done = asyncio.Barrier(2)
        return await asyncio.gather(one("first", done), one("second", done))

    first, second = asyncio.run(both())
    assert first == [["first", "first", "first"]] * 6
    assert second == [["second", "second", "second"]] * 6


def test_a_big_context_travels_once_per_worker_then_only_what_changed(
    ray_cluster: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requestcompletion.execution.strategies.distributed.sync import DriverContext

    sent: list[int] = []
    delta_for = DriverContext.delta_for

    def spy(self: DriverContext, worker: object) -> object:
        delta = delta_for(self, worker)
        sent.append(0 if delta.blob is None else len(delta.blob))
        return delta

    monkeypatch.setattr(DriverContext, "delta_for", spy)
    strategy = DistributedExecutionStrategy()
    modes = {"distributed": strategy}
    with quiet(context={"big": "x" * 1_000_000}, execution_modes=modes) as runner:
        assert runner.run_sync(nodes.sizes, "big", 10).answer == [1_000_000] * 10
        workers = sum(len(pool.hosts) for pool in strategy._pools.values())
    whole = [size for size in sent if size > 1_000_000]
    assert 1 <= len(whole) <= workers  # once per worker, whatever the pool's size
    assert sum(sent) - sum(whole) == 0  # the other calls carried nothing
