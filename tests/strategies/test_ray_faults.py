"""Faults of the Ray workers and the pool, on the session's real two-node cluster.

Each test has a runner timeout, so on a build with the fault it fails with that
timeout instead of hanging the suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

import ray_fault_nodes as nodes  # noqa: E402 - needs ray
from workflows import quiet  # noqa: E402

import requestcompletion as rc  # noqa: E402
from helpers import fresh_python  # noqa: E402
from requestcompletion.execution import DistributedExecutionStrategy  # noqa: E402
from requestcompletion.execution.strategies.distributed import worker  # noqa: E402

pytestmark = pytest.mark.ray

LIMIT = 90.0  # the runner's timeout: far beyond what a healthy run takes here


# --- item 1: a blocked parent lends its thread ---------------------------------------


@pytest.mark.parametrize("mid", [nodes.MID_REMOTE, nodes.MID_LOCAL], ids=["remote", "local"])
def test_def_parents_on_a_worker_waiting_for_def_children_do_not_deadlock(
    ray_cluster: object, mid: Any
) -> None:
    with quiet(timeout=LIMIT) as runner:
        answer = runner.run_sync(nodes.wide, mid).answer
    assert answer == [2 * i + 1 for i in range(nodes.WIDE)]
    statuses = [n.status for n in runner.info.nodes]
    assert statuses == ["succeeded"] * (1 + 2 * nodes.WIDE)


def test_a_wide_batch_of_sleeping_def_nodes_on_workers(ray_cluster: object) -> None:
    with quiet(timeout=LIMIT) as runner:
        assert runner.run_sync(nodes.wide, nodes.NAP).answer == list(range(nodes.WIDE))


# --- item 2: BaseException subclasses fail the node at once --------------------------


@pytest.mark.parametrize("node", [nodes.BOOM_ASYNC, nodes.BOOM_DEF], ids=["async", "def"])
def test_a_remote_base_exception_reaches_the_caller_with_its_type(
    ray_cluster: object, node: Any
) -> None:
    with quiet(timeout=LIMIT) as runner, pytest.raises(nodes.Boom, match="boom") as caught:
        runner.run_sync(node)
    assert "remote traceback" in str(caught.value.__cause__)
    [record] = runner.info.nodes
    assert record.status == "failed"
    assert record.error is not None and record.error.type == "Boom"


def test_a_remote_base_exception_pickle_cannot_rebuild(ray_cluster: object) -> None:
    with quiet(timeout=LIMIT) as runner, pytest.raises(rc.errors.RemoteNodeError) as caught:
        runner.run_sync(nodes.ODD_BOOM)
    assert caught.value.remote_type == "ray_fault_nodes.OddBoom"
    assert "odd boom" in str(caught.value)
    assert runner.info.nodes[0].status == "failed"


def test_a_driver_side_child_raising_a_base_exception_fails_its_remote_parent(
    ray_cluster: object,
) -> None:
    with quiet(timeout=LIMIT) as runner, pytest.raises(nodes.Boom, match="async boom"):
        runner.run_sync(nodes.RELAY_BOOM)
    assert [(n.name, n.status) for n in runner.info.nodes] == [
        ("relay_boom", "failed"),
        ("local_boom", "failed"),
    ]
    with quiet(timeout=LIMIT) as runner:
        assert runner.run_sync(nodes.CATCH_BOOM).answer == "caught Boom: async boom"


# --- item 3: a node that stops its worker's process ----------------------------------


def _alone_pool(strategy: DistributedExecutionStrategy) -> Any:
    [pool] = [p for p in strategy._pools.values() if p.options == nodes.ALONE["distributed"]]
    return pool


def _state(actor: Any) -> str:
    from ray._private.state import actors

    state: str = actors(actor._actor_id.hex())["State"]
    return state


def _dead_soon(actor: Any, within: float = 30.0) -> str:
    """The actor's state once the cluster's table says DEAD, or at `within` seconds.

    `ray.kill` is a request to the cluster, and its table changes when the worker has
    gone: the cluster offers no event to wait for, so its table is read until then.
    """
    deadline = time.monotonic() + within
    while (state := _state(actor)) != "DEAD" and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


@pytest.mark.parametrize("how", list(nodes.STOPPERS))
def test_a_node_stopping_its_worker_fails_and_the_worker_is_replaced(
    ray_cluster: object, how: str
) -> None:
    strategy = DistributedExecutionStrategy()
    stopper = nodes.STOPPERS[how]
    with quiet(timeout=LIMIT, execution_modes={"distributed": strategy}) as runner:
        before = runner.run_sync(nodes.WHO).answer
        pool = _alone_pool(strategy)
        [old] = pool.hosts
        with pytest.raises(rc.errors.RemoteNodeError, match=repr(stopper.__rc_spec__.name)):
            runner.run_sync(stopper)
        assert old not in pool.hosts
        # killed, not just forgotten (a call could still reach it, before the worker
        # learns it must die): the cluster's table says DEAD once the kill is through
        assert _dead_soon(old.actor) == "DEAD"
        after = runner.run_sync(nodes.WHO).answer  # a new worker, placed on demand
    assert after != before
    assert [n.status for n in runner.info.nodes] == ["succeeded", "failed", "succeeded"]


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("sys.exit", "raised SystemExit(3) on its Ray worker"),
        ("KeyboardInterrupt in def", "raised KeyboardInterrupt() on its Ray worker"),
        ("os._exit", "the Ray worker running it died"),
    ],
)
def test_a_stopped_worker_is_named_in_the_error(ray_cluster: object, how: str, said: str) -> None:
    with quiet(timeout=LIMIT) as runner:
        before, failure, after = runner.run_sync(nodes.stop_then_who, nodes.STOPPERS[how]).answer
    assert said in failure
    assert before != after


# --- item 4: blocking cluster calls run off the event loop ---------------------------


class Heartbeat:
    """Counts ticks of the runner's loop; a blocking call checks it keeps ticking."""

    def __init__(self) -> None:
        self.tick = threading.Event()
        self.beats = 0
        self.checked: list[tuple[str, bool]] = []

    async def run(self, node: Any, *args: Any) -> Any:
        """On the driver: `node(*args)`, with a task ticking beside it."""
        import asyncio

        async def beat() -> None:
            while True:
                self.beats += 1
                self.tick.set()
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(beat())
        try:
            return await rc.call(node, *args)
        finally:
            ticking.cancel()

    def watched(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        """`call`, which first waits for the loop to tick while it blocks."""

        def blocking(*args: Any, **kwargs: Any) -> Any:
            self.tick.clear()
            # on the loop's thread no tick can come: the wait ends unticked
            self.checked.append((name, self.tick.wait(20)))
            return call(*args, **kwargs)

        return blocking


class _WatchedActorClass:
    def __init__(self, real: Any, heart: Heartbeat) -> None:
        self.real, self.heart = real, heart

    def options(self, **options: Any) -> _WatchedActorClass:
        return _WatchedActorClass(self.real.options(**options), self.heart)

    def remote(self) -> Any:
        return self.heart.watched("actor creation", self.real.remote)()


@pytest.fixture
def heart(monkeypatch: pytest.MonkeyPatch) -> Heartbeat:
    heart = Heartbeat()
    monkeypatch.setattr(ray, "nodes", heart.watched("ray.nodes", ray.nodes))
    monkeypatch.setattr(
        ray, "cluster_resources", heart.watched("ray.cluster_resources", ray.cluster_resources)
    )
    monkeypatch.setattr(worker, "RemoteNodeHost", _WatchedActorClass(worker.RemoteNodeHost, heart))
    return heart


def test_cluster_queries_and_actor_creation_leave_the_loop_ticking(
    ray_cluster: object, heart: Heartbeat
) -> None:
    with quiet(timeout=LIMIT) as runner:
        assert runner.run_sync(heart.run, nodes.REMOTE_LEAF, 4).answer == 8
    assert heart.checked == [
        ("ray.nodes", True),
        ("ray.cluster_resources", True),
        ("actor creation", True),
    ]


def test_connecting_leaves_the_loop_ticking(ray_cluster: Any) -> None:
    """`ray.init` in a fresh driver (this one is connected already), watched alike."""
    code = f"""
        import ray
        import test_ray_faults as t
        from ray_fault_nodes import REMOTE_LEAF
        from workflows import quiet
        from requestcompletion.execution import DistributedExecutionStrategy

        heart = t.Heartbeat()
        ray.init = heart.watched("ray.init", ray.init)
        strategy = DistributedExecutionStrategy(address={ray_cluster.address!r})
        with quiet(timeout=90, execution_modes={{"distributed": strategy}}) as runner:
            print(runner.run_sync(heart.run, REMOTE_LEAF, 5).answer, heart.checked)
    """
    done = fresh_python(code, timeout=180)
    assert done.stdout.strip().endswith("10 [('ray.init', True)]"), done.stderr[-3000:]


# --- item 5: connect and placement timeouts ------------------------------------------


@pytest.mark.parametrize("option", ["connect_timeout", "start_timeout", "placement_timeout"])
@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "5", 1e10])
def test_a_bad_timeout_is_a_config_error_naming_it(option: str, bad: object) -> None:
    with pytest.raises(rc.ConfigError, match=rf"{option}=\.\.\.\) must be .*not {bad!r}"):
        DistributedExecutionStrategy(**{option: bad})  # type: ignore[arg-type]


def test_the_timeouts_and_their_defaults() -> None:
    default = DistributedExecutionStrategy()
    assert (default.connect_timeout, default.start_timeout, default.placement_timeout) == (
        15.0,
        120.0,
        60.0,
    )
    given = DistributedExecutionStrategy(connect_timeout=2, placement_timeout=3)
    assert (given.connect_timeout, given.placement_timeout) == (2.0, 3.0)
    with pytest.deprecated_call(match="placement_timeout"):
        old = DistributedExecutionStrategy(place_timeout=4)
    assert old.placement_timeout == old.place_timeout == 4.0


def test_an_address_nothing_listens_on_fails_within_the_connect_timeout(
    ray_cluster: object,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    strategy = DistributedExecutionStrategy(address=f"127.0.0.1:{port}", connect_timeout=1)
    with (
        quiet(timeout=LIMIT, execution_modes={"distributed": strategy}) as runner,
        pytest.raises(rc.errors.ClusterError, match=rf"cannot reach .*127\.0\.0\.1:{port}"),
    ):
        runner.run_sync(nodes.REMOTE_LEAF, 1)
    assert runner.info.nodes[0].status == "failed"


def test_resources_no_node_has_fail_at_once(ray_cluster: object) -> None:
    gpu = rc.function_node(
        nodes._leaf, mode="distributed", execution_options={"distributed": {"num_gpus": 1}}
    )
    with (
        quiet(timeout=LIMIT) as runner,
        pytest.raises(rc.errors.ClusterError, match=r"\{'GPU': 1\.0\}.*no node of the cluster"),
    ):
        runner.run_sync(gpu, 1)
    assert runner.info.nodes[0].status == "failed"


@ray.remote(num_cpus=0, resources={"rc_node_b": 100})
class _Holder:
    """Holds all of `rc_node_b`, so rc's ALONE actor cannot be placed."""

    def ping(self) -> bool:
        return True


def test_resources_that_stay_taken_fail_after_the_placement_timeout(
    ray_cluster: object,
) -> None:
    holder = _Holder.remote()  # type: ignore[attr-defined]
    try:
        ray.get(holder.ping.remote(), timeout=LIMIT)
        strategy = DistributedExecutionStrategy(placement_timeout=1)
        with quiet(timeout=LIMIT, execution_modes={"distributed": strategy}) as runner:
            with pytest.raises(rc.errors.ClusterError, match=r"within 1\.0s.*placement_timeout"):
                runner.run_sync(nodes.WHO)
            assert _alone_pool(strategy).hosts == []  # the waiting actor is not kept
        assert runner.info.nodes[0].status == "failed"
    finally:
        ray.kill(holder)
