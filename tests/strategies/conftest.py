"""The Ray cluster for the strategy tests: two nodes, started once per test session.

Ray runs only inside a loopback-only network namespace (`scripts/netns-run`,
which `make test` uses); elsewhere the Ray tests skip and say why. The cluster is
a head node (2 CPUs, custom resource `rc_node_a`) and a second node (1 CPU,
`rc_node_b`), both `ray start --block` children of this process, stopped by pid
at the end (never `ray stop`: it kills every Ray process on the machine).
"""

from __future__ import annotations

import os

# Ray reads these when it is imported: before anything imports it.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import dataclasses
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest


def loopback_only_reason() -> str | None:
    """None inside a loopback-only network namespace, else why the Ray tests cannot run."""
    if not os.environ.get("RC_NETNS_NAME"):
        return (
            "Ray tests run only inside scripts/netns-run (RC_NETNS_NAME is not set): "
            "use `make test`"
        )
    try:
        names = sorted(name for _, name in socket.if_nameindex())
    except OSError as exc:
        return f"cannot list network interfaces: {exc}"
    if names != ["lo"]:
        return f"not in a loopback-only network namespace (interfaces: {', '.join(names)})"
    return None


@dataclasses.dataclass(frozen=True)
class RayCluster:
    address: str
    temp_dir: str
    node_a: str = "rc_node_a"  # a custom resource only the head node has
    node_b: str = "rc_node_b"  # a custom resource only the second node has


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until(what: str, ready: object, seconds: float) -> None:
    """Wait for a daemon we started (not for the code under test) to come up."""
    end = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        if time.monotonic() > end:
            raise TimeoutError(f"{what} within {seconds}s")
        time.sleep(0.2)


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    reason = loopback_only_reason()
    if reason:
        if os.environ.get("RC_REQUIRE_RAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    ray = pytest.importorskip(
        "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
    )

    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    temp_dir = tempfile.mkdtemp(prefix="rcray-", dir="/tmp")  # short: AF_UNIX paths <= 107 bytes
    port = _free_port()
    # Workers must import the test modules whose nodes they run.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    common = [
        "--node-ip-address=127.0.0.1",
        "--object-store-memory=80000000",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        "--block",
    ]
    log = open(os.path.join(temp_dir, "ray-start.log"), "w")  # noqa: SIM115 - closed below
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [ray_bin, "start", *args, *common],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    try:
        head = start(
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--resources=" + json.dumps({"rc_node_a": 100}),
        )
        _wait_until(
            f"the Ray head listens on {port}",
            lambda: (head.poll() is None and _listens(port)) or head.poll() is not None,
            60,
        )
        if head.poll() is not None:
            raise RuntimeError(f"ray start --head exited with {head.returncode}; see {log.name}")
        start(
            f"--address=127.0.0.1:{port}",
            "--num-cpus=1",
            "--resources=" + json.dumps({"rc_node_b": 100}),
        )
        ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, logging_level="warning")
        _wait_until(
            "the second Ray node joined",
            lambda: sum(1 for n in ray.nodes() if n["Alive"]) >= 2,
            60,
        )
        yield RayCluster(address=f"127.0.0.1:{port}", temp_dir=temp_dir)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(procs):  # `ray start --block` tears its node down on SIGTERM
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
