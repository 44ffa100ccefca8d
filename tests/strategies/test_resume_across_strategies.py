"""A run recorded with thread or Ray nodes replays under asyncio, and the other way round."""

from __future__ import annotations

import pytest
from resume_nodes import SETUP, top

import requestcompletion as rc

PAIRS = [
    ("threads", "asyncio"),
    ("asyncio", "threads"),
    pytest.param("distributed", "asyncio", marks=pytest.mark.ray),
    pytest.param("asyncio", "distributed", marks=pytest.mark.ray),
]


@pytest.mark.parametrize(("recorded", "replayed"), PAIRS)
def test_replay_across_strategies(
    request: pytest.FixtureRequest, recorded: str, replayed: str
) -> None:
    if "distributed" in (recorded, replayed):
        pytest.importorskip(
            "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
        )
        request.getfixturevalue("ray_cluster")
    SETUP.update(leaf=recorded, fail=True)
    with rc.Runner(logging_setting="NONE") as first, pytest.raises(RuntimeError):
        first.run_sync(top, 4)
    SETUP.update(leaf=replayed, fail=False)
    with rc.Runner.from_state(first.saved_to, logging_setting="NONE") as resumed:  # type: ignore[arg-type]
        info = resumed.run_sync(top, 4)
    assert info.answer == [0, 3, 6, 9]
    assert [(n.name, n.replayed) for n in info.nodes] == [("top", False)] + [("leaf", True)] * 4
