"""A saved run keeps every node's own name (issue 15 item 1).

Two node types can share a `module:qualname` key: `rc.function_node(f, name=...)` twice
over one function, or over the inner function a factory returns. The live graph always
told them apart; the saved file and `show` must too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import requestcompletion as rc
from requestcompletion.cli import main


def shout(text: str) -> str:
    return text.upper()


Loud = rc.function_node(shout, name="loud")
Louder = rc.function_node(shout, name="louder")


def make_adder(n: int) -> Callable[[int], int]:
    def add(x: int) -> int:
        return x + n

    return add


AddOne = rc.function_node(make_adder(1), name="add_one")
AddTwo = rc.function_node(make_adder(2), name="add_two")


async def workflow() -> list[object]:
    return [
        await rc.call(Loud, "a"),
        await rc.call(Louder, "b"),
        await rc.call(AddOne, 1),
        await rc.call(AddTwo, 1),
        await rc.call(Loud, "c"),
    ]


NAMES = ["workflow", "loud", "louder", "add_one", "add_two", "loud"]


def test_names_survive_save_and_load(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="names", state_dir=tmp_path, logging_setting="NONE") as r:
        live = r.run_sync(workflow)
    assert [n.name for n in live.nodes] == NAMES
    loaded = rc.ExecutionInfo.load(tmp_path / "names.json")
    assert [n.name for n in loaded.nodes] == NAMES
    assert [v.name for v in loaded.to_graph()[0]] == NAMES
    assert set(loaded.timing()) == set(NAMES)
    assert loaded.timing()["loud"].count == 2
    # the key still says where the code lives, shared by the two nodes of one function
    keys = {n.name: n.type_key for n in loaded.nodes}
    assert keys["loud"] == keys["louder"]


def test_show_prints_each_nodes_own_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with rc.Runner(run_identifier="names", state_dir=tmp_path, logging_setting="NONE") as r:
        r.run_sync(workflow)
    assert main(["show", "names", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("louder", "add_one", "add_two"):
        assert f" {name} #" in out


class OddName(rc.Node[int]):
    """A node whose pretty_name is not a string."""

    @classmethod
    def pretty_name(cls) -> str:
        return 42  # type: ignore[return-value]

    async def invoke(self) -> int:
        return 1


def test_a_name_that_is_not_a_string_is_saved_as_text(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="odd", state_dir=tmp_path, logging_setting="NONE") as r:
        r.run_sync(OddName)
    loaded = rc.ExecutionInfo.load(tmp_path / "odd.json")
    assert loaded.nodes[0].name == "42"
    assert loaded.answer == 1
