"""The saved run is never lost, whatever nodes return or raise (issue 12 items 1 and 4).

Each fault the issue names is one test here: exceptions whose __str__/__repr__ raise
(with and without end_on_error), MagicMock and proxies after `import pydantic`, NaN
deep in an output (replaced in place), deep nesting, cycles, huge values, bytes,
sets, dataclasses, pydantic models, `to_json()`/`save()` during a run, an error
inside the saver, and two runners with one run_identifier. A hypothesis test throws
arbitrary mixes of such values at a run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import math
import warnings
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from requestcompletion.cli import main
from requestcompletion.state import _encode, persistence
from requestcompletion.state.persistence import encode_value

QUIET: dict[str, Any] = {"logging_setting": "NONE"}


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Proxy:
    """Answers every attribute with a callable, as lazy proxies do."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: Proxy()

    def __repr__(self) -> str:
        return "<Proxy>"


class Point(pydantic.BaseModel):
    x: float
    label: str


@dataclasses.dataclass
class Pair:
    left: Any
    right: Any


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


async def give(value: Any) -> Any:
    return value


async def raise_unprintable() -> None:
    raise Unprintable()


async def hang() -> None:
    await asyncio.Event().wait()


async def fail_beside_a_sibling() -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(rc.call(hang))
        await asyncio.sleep(0)  # let the sibling start: it must end up cancelled, not running
        group.create_task(rc.call(raise_unprintable))


def run_beside_a_neighbour(folder: Path, run_id: str, value: Any) -> None:
    with rc.Runner(run_identifier=run_id, state_dir=folder, **QUIET) as runner:
        runner.run_sync(give, "neighbour")
        runner.run_sync(give, value)


def saved(folder: Path, run_id: str) -> dict[str, Any]:
    return json.loads((folder / f"{run_id}.json").read_text(), parse_constant=_refuse)  # type: ignore[no-any-return]


def _refuse(constant: str) -> Any:
    raise ValueError(f"not strict JSON: {constant}")


@pytest.mark.parametrize("end_on_error", [False, True])
def test_an_exception_whose_str_and_repr_raise_is_saved(tmp_path: Path, end_on_error: bool) -> None:
    node = fail_beside_a_sibling if end_on_error else raise_unprintable
    with pytest.raises(Unprintable):  # noqa: SIM117 - the user gets the real error
        with rc.Runner(
            run_identifier="nasty", state_dir=tmp_path, end_on_error=end_on_error, **QUIET
        ) as runner:
            runner.run_sync(node)
    document = saved(tmp_path, "nasty")
    assert "running" not in document["nodes"]["status"]
    loaded = rc.ExecutionInfo.load(tmp_path / "nasty.json")
    failed = next(n for n in loaded.nodes if n.name == "raise_unprintable")
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.type == "Unprintable"
    assert failed.error.message == "<str() of the Unprintable raised RuntimeError>"
    if end_on_error:
        assert [n.status for n in loaded.nodes if n.name == "hang"] == ["cancelled"]


def test_a_second_run_after_an_unprintable_error_still_works(tmp_path: Path) -> None:
    # asyncio.Runner used to break on the task's repr and leave its SIGINT handler behind
    with rc.Runner(run_identifier="again", state_dir=tmp_path, **QUIET) as runner:
        with pytest.raises(Unprintable):
            runner.run_sync(raise_unprintable)
        assert runner.run_sync(give, 2).answer == 2
    assert rc.ExecutionInfo.load(tmp_path / "again.json").answer == 2


def test_mock_and_proxy_outputs_after_import_pydantic(tmp_path: Path) -> None:
    with rc.Runner(run_identifier="mocks", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(give, MagicMock())
        runner.run_sync(give, {"proxy": Proxy(), "kept": [1, 2]})
    outputs = saved(tmp_path, "mocks")["nodes"]["output"]
    assert outputs[0]["$type"] == "unittest.mock.MagicMock"
    assert outputs[0]["$repr"].startswith("<MagicMock")
    assert outputs[1] == {
        "proxy": {"$type": f"{__name__}.Proxy", "$repr": "<Proxy>"},
        "kept": [1, 2],
    }
    # a mock is one short tag, not a 28 KB walk through its generated attributes
    assert (tmp_path / "mocks.json").stat().st_size < 4_000


def test_nan_is_replaced_in_place(tmp_path: Path) -> None:
    value = {"scores": [1.5, float("nan"), -math.inf], "name": "ada", "nested": {"x": math.inf}}
    with rc.Runner(run_identifier="nan", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(give, value)
    answer = rc.ExecutionInfo.load(tmp_path / "nan.json").answer
    assert answer == {
        "scores": [1.5, {"$type": "float", "$repr": "nan"}, {"$type": "float", "$repr": "-inf"}],
        "name": "ada",
        "nested": {"x": {"$type": "float", "$repr": "inf"}},
    }


def test_to_json_and_save_during_a_run_after_nan(tmp_path: Path) -> None:
    async def mid_run() -> str:
        await rc.call(give, float("nan"))
        info = rc.context.get("info")
        document = json.loads(info.to_json(), parse_constant=_refuse)
        assert document["nodes"]["output"][1] == {"$type": "float", "$repr": "nan"}
        info.save(tmp_path / "during.json")
        return "done"

    with rc.Runner(run_identifier="live", state_dir=tmp_path, **QUIET) as runner:
        runner.variables["info"] = runner.info
        assert runner.run_sync(mid_run).answer == "done"
    during = rc.ExecutionInfo.load(tmp_path / "during.json")
    assert [n.status for n in during.nodes] == ["running", "succeeded"]


def test_rich_values_are_stored_as_data(tmp_path: Path) -> None:
    value = {
        "model": Point(x=float("nan"), label="p"),
        "pair": Pair(left={1, 2}, right=b"\x00\xff"),
        "frozen": frozenset({"a"}),
        "tuple": (1, "two"),
        "colour": Colour.RED,
        "level": Level.HIGH,
        "huge_int": 10**5000,
        "keys": {1: "int", None: "none", (1, 2): "tuple"},
    }
    with rc.Runner(run_identifier="rich", state_dir=tmp_path, **QUIET) as runner:
        runner.run_sync(give, value)
    answer = rc.ExecutionInfo.load(tmp_path / "rich.json").answer
    assert answer["model"] == {
        "$type": f"{__name__}.Point",
        "$value": {"x": {"$type": "float", "$repr": "nan"}, "label": "p"},
    }
    assert answer["pair"] == {
        "$type": f"{__name__}.Pair",
        "$value": {
            "left": {"$type": "builtins.set", "$value": [1, 2]},
            "right": {"$type": "builtins.bytes", "$repr": "b'\\x00\\xff'"},
        },
    }
    assert answer["frozen"] == {"$type": "builtins.frozenset", "$value": ["a"]}
    assert answer["tuple"] == [1, "two"]
    assert answer["colour"] == {"$type": f"{__name__}.Colour", "$repr": "<Colour.RED: 'red'>"}
    assert answer["level"] == 3
    assert answer["huge_int"] == {"$type": "int", "$repr": hex(10**5000)}
    assert answer["keys"] == {"1": "int", "null": "none", "(1, 2)": "tuple"}


def _cyclic() -> dict[str, Any]:
    cyclic: dict[str, Any] = {"keep": 1}
    cyclic["self"] = cyclic
    return cyclic


def _deep() -> list[Any]:
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    return deep


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(_cyclic(), "a builtins.dict contains itself", id="cycle"),
        pytest.param(_deep(), "nested deeper than 100 levels", id="deep"),
        pytest.param("x" * 5_000, "a string of 5,000 characters is cut to 1,000", id="string"),
        pytest.param([{"i": i} for i in range(20)], "more than 30 items", id="items"),
    ],
)
def test_what_cannot_be_stored_is_cut_in_place_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any, problem: str
) -> None:
    monkeypatch.setattr(_encode, "MAX_STRING", 1_000)
    monkeypatch.setattr(_encode, "MAX_ITEMS", 30 if problem.startswith("more") else 10_000)
    monkeypatch.setattr(persistence, "MAX_FILE_BYTES", 100)  # past the C encoder's path
    with pytest.warns(RuntimeWarning) as caught:
        run_beside_a_neighbour(tmp_path, "cut", value)
    monkeypatch.undo()
    message = str(caught[0].message)
    assert message.startswith("run 'cut': some values could not be stored as they were")
    assert f"node 1 output: {problem}" in message
    loaded = rc.ExecutionInfo.load(tmp_path / "cut.json")
    assert loaded.nodes[0].output == "neighbour"
    output = loaded.nodes[1].output
    if isinstance(value, dict):
        assert output == {"keep": 1, "self": {"$type": "builtins.dict", "$repr": "<cycle>"}}
    elif isinstance(value, str):
        assert output == "x" * 1_000
    elif len(value) == 20:  # the items: the start is kept, the rest is a tag
        assert output[:4] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}]
        assert output[-1] == {
            "$type": "builtins.dict",
            "$repr": "<not stored: the value is too large>",
        }


def test_an_error_inside_the_saver_is_a_warning_naming_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(document: dict[str, Any]) -> Any:
        raise RuntimeError("encoder bug")

    monkeypatch.setattr("requestcompletion.state.info.dumps", broken)
    with pytest.warns(RuntimeWarning, match=r"could not save run 'oops'.*encoder bug"):  # noqa: SIM117
        with rc.Runner(run_identifier="oops", state_dir=tmp_path, **QUIET) as runner:
            info = runner.run_sync(give, 1)
    assert info.answer == 1


def test_two_runners_with_one_run_identifier_keep_both_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with rc.Runner(run_identifier="twin", state_dir=tmp_path, **QUIET) as first:
        first.run_sync(give, "first")
    with pytest.warns(RuntimeWarning, match=r"'twin'.*already holds a saved run.*twin\.2\.json"):  # noqa: SIM117
        with rc.Runner(run_identifier="twin", state_dir=tmp_path, **QUIET) as second:
            second.run_sync(give, "second")
    with pytest.warns(RuntimeWarning, match=r"twin\.3\.json"):  # noqa: SIM117
        with rc.Runner(run_identifier="twin", state_dir=tmp_path, **QUIET) as third:
            third.run_sync(give, "third")
    assert first.saved_to == tmp_path / "twin.json"
    assert second.saved_to == tmp_path / "twin.2.json"
    assert third.saved_to == tmp_path / "twin.3.json"
    answers = [
        rc.ExecutionInfo.load(p).answer for p in (first.saved_to, second.saved_to, third.saved_to)
    ]
    assert answers == ["first", "second", "third"]
    assert main(["runs", "--state-dir", str(tmp_path)]) == 0  # each row says its file
    out = capsys.readouterr().out
    assert "twin (twin.2)" in out
    assert "twin (twin.3)" in out
    assert main(["show", "twin.2", "--state-dir", str(tmp_path)]) == 0
    assert "out: second" in capsys.readouterr().out


async def test_two_open_runners_with_one_run_identifier(tmp_path: Path) -> None:
    first_open, second_closed = asyncio.Event(), asyncio.Event()

    async def first() -> rc.Runner:
        async with rc.Runner(run_identifier="open", state_dir=tmp_path, **QUIET) as runner:
            await runner.run(give, 1)
            first_open.set()
            await second_closed.wait()
        return runner

    async def second() -> rc.Runner:
        await first_open.wait()
        async with rc.Runner(run_identifier="open", state_dir=tmp_path, **QUIET) as runner:
            await runner.run(give, 2)
        second_closed.set()
        return runner

    with pytest.warns(RuntimeWarning, match="already holds"):
        one, two = await asyncio.gather(first(), second())  # each in a task of its own
    assert (one.saved_to, two.saved_to) == (tmp_path / "open.2.json", tmp_path / "open.json")
    assert rc.ExecutionInfo.load(tmp_path / "open.json").answer == 2  # the first to close
    assert rc.ExecutionInfo.load(tmp_path / "open.2.json").answer == 1


# --- any mix of values ------------------------------------------------------------


def _odd_leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # NaN and inf included
        st.text(max_size=20),
        st.binary(max_size=10),
        st.sampled_from([MagicMock(), Proxy(), Colour.RED, Level.HIGH]),
        st.builds(_huge_int),
    )


def _huge_int() -> int:
    return -(10**5000)  # built, not sampled: hypothesis could not print it


VALUES = st.recursive(
    _odd_leaves(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
        st.builds(Pair, inner, inner),
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=VALUES)
def test_any_value_is_saved_and_loads(tmp_path: Path, value: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing here is lossy: no warning at all
        with rc.Runner(run_identifier="any", state_dir=tmp_path, **QUIET) as runner:
            runner.run_sync(give, value)
    path = runner.saved_to
    assert path is not None
    json.loads(path.read_text(), parse_constant=_refuse)
    loaded = rc.ExecutionInfo.load(path)
    assert loaded.nodes[0].status == "succeeded"
    assert loaded.answer == json.loads(json.dumps(loaded.answer))  # plain data all the way
    path.unlink()


def test_encode_value_is_a_safe_json_default_hook() -> None:
    # how the journal writes its lines: the C encoder with encode_value for what it refuses
    row = [1, MagicMock(), Proxy(), {"p": Point(x=1.0, label="a")}, {2, 3}]
    text = json.dumps(row, default=encode_value, allow_nan=False)
    assert json.loads(text)[2:] == [
        {"$type": f"{__name__}.Proxy", "$repr": "<Proxy>"},
        {"p": {"$type": f"{__name__}.Point", "$value": {"x": 1.0, "label": "a"}}},
        {"$type": "builtins.set", "$value": [2, 3]},
    ]
    assert encode_value([float("nan"), Unprintable()])[0] == {"$type": "float", "$repr": "nan"}
