"""rc.context on a real Ray cluster: a remote node sees its own writes, deltas, isolation."""

from __future__ import annotations

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

import context_nodes as nodes  # noqa: E402 - needs ray
from workflows import quiet  # noqa: E402

pytestmark = pytest.mark.ray

N = 3  # remote nodes at once, children remote, local and on threads in turn


@pytest.mark.parametrize("attempt", range(40))
def test_a_remote_node_always_reads_back_its_own_writes(ray_cluster: object, attempt: int) -> None:
    with quiet() as runner:
        seen = runner.run_sync(nodes.own_writes_in_parallel, N).answer
        during = runner.run_sync(nodes.writes_during_calls, N).answer
        assert seen == [[(i, step) for step in range(3)] for i in range(N)] * 2
        assert during == [[0, 1, 2]] * N
        # the driver has every write: the nodes' own and their children's
        context = runner.variables
        assert {context[f"k{i}"] for i in range(N)} == {(i, 2) for i in range(N)}
        assert context["w0"] == 2
        assert context["other-k0-2"] == "k0-2"
        assert context["other-sync-s2-1"] == "s2-1"
