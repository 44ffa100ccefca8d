"""The distributed strategy's own promises: placement, faults, bad input, cluster handling."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

import ray_nodes as nodes  # noqa: E402 - needs ray
from workflows import quiet  # noqa: E402

import requestcompletion as rc  # noqa: E402
from helpers import fresh_python  # noqa: E402
from requestcompletion.execution import DistributedExecutionStrategy  # noqa: E402

pytestmark = pytest.mark.ray


def test_nodes_are_placed_on_both_cluster_nodes(ray_cluster: object) -> None:
    with quiet() as runner:
        on_a, on_b = runner.run_sync(nodes.both).answer
    assert on_a != on_b
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert {on_a, on_b} == alive
    names = [(n.name, n.parent_id, n.status) for n in runner.info.nodes]
    assert names == [
        ("both", None, "succeeded"),
        ("on_a", 0, "succeeded"),
        ("on_b", 0, "succeeded"),
    ]


def test_a_leaf_costs_one_call_and_a_node_that_calls_back_follows(
    ray_cluster: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows import ASYNC

    from requestcompletion.execution import DistributedExecutionStrategy

    followed: list[int] = []
    follow = DistributedExecutionStrategy._follow

    def spy(self: DistributedExecutionStrategy, host: object, handle: int) -> object:
        followed.append(handle)
        return follow(self, host, handle)  # type: ignore[arg-type]

    monkeypatch.setattr(DistributedExecutionStrategy, "_follow", spy)
    with quiet() as runner:
        assert runner.run_sync(nodes.ECHO, "leaf").answer == "leaf"
    assert followed == []  # answered by `start` alone
    with quiet(execution_mode="distributed") as runner:
        assert runner.run_sync(ASYNC.chain, 3).answer == 12
    assert len(followed) == 1  # chain called back; its two leaves did not


def test_a_killed_worker_fails_its_node_and_the_run_goes_on(ray_cluster: object) -> None:
    with quiet() as runner:
        answer = runner.run_sync(nodes.guard).answer
    assert answer.startswith("still here after: node 'die'")
    assert "worker running it died" in answer
    statuses = [(n.name, n.status) for n in runner.info.nodes]
    assert statuses == [("guard", "succeeded"), ("die", "failed"), ("survive", "succeeded")]


def test_a_killed_worker_ends_the_run_with_end_on_error(ray_cluster: object) -> None:
    with (
        quiet(end_on_error=True) as runner,
        pytest.raises(rc.errors.RemoteNodeError, match="'die'"),
    ):
        runner.run_sync(nodes.guard)
    assert [(n.name, n.status) for n in runner.info.nodes] == [
        ("guard", "cancelled"),
        ("die", "failed"),
        ("survive", "cancelled"),  # called as the run ended: registered, then cancelled
    ]


def test_arguments_that_cannot_be_pickled_fail_before_sending(ray_cluster: object) -> None:
    with quiet() as runner, pytest.raises(rc.NodeCreationError, match=r"argument 0 \(<unlocked"):
        runner.run_sync(nodes.ECHO, threading.Lock())
    assert runner.info.nodes[0].status == "failed"


def test_a_node_that_cannot_be_pickled_fails_before_sending(ray_cluster: object) -> None:
    lock = threading.Lock()

    def holds_a_lock() -> bool:
        return lock.locked()

    node = rc.function_node(holds_a_lock, mode="distributed")
    with quiet() as runner, pytest.raises(rc.NodeCreationError, match="the node type"):
        runner.run_sync(node)


def test_the_remote_traceback_is_recorded(ray_cluster: object) -> None:
    from workflows import ASYNC

    with quiet(execution_mode="distributed") as runner, pytest.raises(ValueError, match="boom"):
        runner.run_sync(ASYNC.relay)
    boom = runner.info.nodes[1].error
    assert boom is not None and boom.type == "ValueError"
    assert "remote traceback" in boom.traceback and "in _boom" in boom.traceback


def test_an_exception_that_pickle_cannot_rebuild(ray_cluster: object) -> None:
    with quiet() as runner, pytest.raises(rc.errors.RemoteNodeError) as caught:
        runner.run_sync(nodes.RAISE_WEIRD)
    assert caught.value.remote_type == "ray_nodes.Weird"
    assert "raise Weird" in caught.value.remote_traceback
    assert "weird thing" in str(caught.value)


def test_an_exception_type_the_driver_cannot_unpickle(
    ray_cluster: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RC_TEST_DRIVER", "1")  # only this process: the workers started before
    with quiet() as runner, pytest.raises(rc.errors.RemoteNodeError) as caught:
        runner.run_sync(nodes.RAISE_DRIVER_ONLY)
    assert caught.value.remote_type == "ray_nodes.DriverOnly"
    assert "unpickling it failed here" in str(caught.value)
    assert "only on the worker" in caught.value.remote_traceback


def test_a_resource_no_node_has_fails_at_once(ray_cluster: object) -> None:
    with quiet() as runner, pytest.raises(rc.errors.ClusterError, match="no_such_thing"):
        runner.run_sync(nodes.GREEDY)
    assert runner.info.nodes[0].status == "failed"


def test_ray_missing_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with quiet() as runner, pytest.raises(rc.errors.MissingExtraError) as caught:
        runner.run_sync(nodes.SURVIVE)
    assert "pip install 'requestcompletion[ray]'" in str(caught.value)
    assert runner.info.nodes[0].status == "failed"


def test_a_refused_address_fails_at_once() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    strategy = DistributedExecutionStrategy(address=f"127.0.0.1:{port}")
    with quiet(execution_modes={"distributed": strategy}) as runner:
        with pytest.raises(rc.errors.ClusterError, match="cannot reach"):
            runner.run_sync(nodes.SURVIVE)
        with pytest.raises(rc.errors.ClusterError, match="cannot reach"):  # remembered
            runner.run_sync(nodes.SURVIVE)


def test_the_old_ray_spellings_still_work_with_a_deprecation_warning() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.deprecated_call(match="ray_address is deprecated"):
        runner = quiet(ray_address=f"127.0.0.1:{port}")
    with runner, pytest.raises(rc.errors.ClusterError, match=f"127.0.0.1:{port}"):
        runner.run_sync(nodes.SURVIVE)  # the default strategy still reads the old field
    with pytest.deprecated_call(match="ray_init is deprecated"):
        config = rc.ExecutorConfig(ray_init={"num_cpus": 1})
    assert DistributedExecutionStrategy.from_config(config).init_options == {"num_cpus": 1}
    with pytest.deprecated_call(match="ray_options is deprecated"):
        old = rc.function_node(nodes.SURVIVE.func, ray_options={"num_cpus": 0})
    assert old.__rc_spec__.options == {"distributed": {"num_cpus": 0}}
    with pytest.deprecated_call(match="init_options"):
        legacy = DistributedExecutionStrategy(init_options={"num_cpus": 2})
    assert legacy.init_options == {"num_cpus": 2}


@pytest.fixture
def namespace_only(ray_cluster: object) -> None:
    """Inside the loopback-only namespace (where the session cluster runs too)."""


def test_an_address_that_never_answers_fails_in_bounded_time(namespace_only: None) -> None:
    with socket.socket() as hole:  # accepts connections (the kernel does) but never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen()
        port = hole.getsockname()[1]
        done = fresh_python(
            f"""
            import requestcompletion as rc
            from requestcompletion.execution import DistributedExecutionStrategy
            from ray_nodes import SURVIVE

            DistributedExecutionStrategy.connect_timeout = 3.0
            strategy = DistributedExecutionStrategy(address="127.0.0.1:{port}")
            modes = {{"distributed": strategy}}
            with rc.Runner(execution_modes=modes, save_state=False) as runner:
                try:
                    runner.run_sync(SURVIVE)
                except rc.errors.ClusterError as error:
                    print("ClusterError:", error)
            """,
            timeout=90,
        )
    assert "ClusterError: could not connect to '127.0.0.1:" in done.stdout, done.stderr
    assert "within 3.0s" in done.stdout


def test_a_local_cluster_rc_starts_is_gone_when_the_runner_closes(
    namespace_only: None, tmp_path: object
) -> None:
    done = fresh_python(
        """
        import os, tempfile, threading
        import ray
        import requestcompletion as rc
        from requestcompletion.execution import DistributedExecutionStrategy
        from ray_nodes import SURVIVE

        temp = tempfile.mkdtemp(prefix="rcown-", dir="/tmp")
        init = {"num_cpus": 1, "object_store_memory": 80 * 2**20, "_temp_dir": temp}
        modes = {"distributed": DistributedExecutionStrategy(init=init)}
        with rc.Runner(execution_modes=modes, save_state=False, logging_setting="NONE") as runner:
            print("answer:", runner.run_sync(SURVIVE).answer)
            print("during:", ray.is_initialized())
        left = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if temp.encode() in f.read():
                        left.append(pid)
            except OSError:
                pass
        print("after:", ray.is_initialized(), "threads:", sorted(
            t.name for t in threading.enumerate() if t.name.startswith("rc-")))
        print("processes left:", len(left))
        """,
        timeout=180,
    )
    out = done.stdout
    assert "answer: still here" in out, done.stderr[-3000:]
    assert "during: True" in out
    assert "after: False threads: []" in out
    assert "processes left: 0" in out, done.stderr[-3000:]
