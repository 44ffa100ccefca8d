"""Config and runner creation fail cleanly: a ConfigError naming the field, and a
runner that could not open leaves nothing behind (no current runner, handler,
thread, journal or SIGTERM handler), whatever the cause.

Also: run_sync where it cannot work is a ContextError with no phantom record, and
a node given arguments that do not fit it is a recorded NodeCreationError, even
when those arguments cannot be shown.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from helpers import leftovers
from requestcompletion import _signals
from requestcompletion.context import current_runner
from requestcompletion.observability.logging import RunLogging
from requestcompletion.pubsub.publisher import RCPublisher
from requestcompletion.state.journal import Journal

QUIET = {"save_state": False, "logging_setting": "NONE"}
NUMERIC = ["timeout", "max_threads", "max_concurrency"]


@pytest.fixture(autouse=True)
def _sigterm_before() -> None:
    """SIGTERM's handler as it was (another test's Ray may have installed one)."""
    global SIGTERM_BEFORE
    SIGTERM_BEFORE = signal.getsignal(signal.SIGTERM)


SIGTERM_BEFORE: Any = None


def nothing_left(state_dir: Path | None = None) -> None:
    assert current_runner.get() is None
    assert leftovers() == []
    assert signal.getsignal(signal.SIGTERM) is SIGTERM_BEFORE  # the runner's hold is released
    if state_dir is not None and state_dir.exists():
        assert list(state_dir.iterdir()) == []
    with rc.Runner(**QUIET) as runner:  # the next runner opens as if nothing happened
        assert runner.run_sync(rc.function_node(lambda: 1)).answer == 1


@pytest.mark.parametrize("field", ["log_file", "state_dir"])
def test_a_path_with_a_nul_is_a_config_error_naming_the_field(field: str) -> None:
    with pytest.raises(rc.ConfigError, match=field):
        rc.Runner(**{field: "a\x00b"})
    with pytest.raises(rc.ConfigError, match=field):
        rc.ExecutorConfig(**{field: Path("a\x00b")})
    nothing_left()


def test_a_log_file_that_cannot_be_opened_leaves_no_current_runner(tmp_path: Path) -> None:
    runner = rc.Runner(log_file=tmp_path, save_state=False)  # a folder: open() fails
    with pytest.raises(rc.ConfigError, match="log_file"), runner:
        pass
    nothing_left()


class Broken(Exception):
    pass


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise Broken("this step of opening failed")


@pytest.mark.parametrize(
    "step",
    [
        (RunLogging, "attach"),
        (Journal, "start"),
        (_signals, "hold_sigterm"),
        (RCPublisher, "start"),
        (RCPublisher, "subscribe"),
    ],
    ids=lambda step: f"{step[0].__name__}.{step[1]}",
)
def test_any_failure_while_opening_leaves_nothing_behind(
    step: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "runs"
    monkeypatch.setattr(*step, _raise)
    runner = rc.Runner(state_dir=state_dir, log_file=tmp_path / "a.log", subscriber=print)
    with pytest.raises(Broken), runner:
        pass
    monkeypatch.undo()
    if state_dir.exists():  # a journal that was started is gone again
        assert list(state_dir.iterdir()) == []
    nothing_left()


huge = st.integers(min_value=10**9 + 1, max_value=10**5000) | st.integers(max_value=0)
extremes = (
    huge
    | st.just(10**400)
    | st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not 0 < f <= 1e9)
    | st.booleans()
    | st.decimals(allow_nan=True)
    | st.text(max_size=5)
    | st.complex_numbers()
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(NUMERIC), value=extremes)
def test_numeric_extremes_are_a_config_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(rc.ConfigError) as raised:
        rc.ExecutorConfig(**{field: value})
    assert field in str(raised.value)
    with pytest.raises(rc.ConfigError, match=field):
        rc.Runner(**{field: value})
    assert current_runner.get() is None


@settings(max_examples=100)
@given(
    field=st.sampled_from(NUMERIC),
    value=st.integers(1, 10**6) | st.floats(min_value=1e-9, max_value=1e9),
)
def test_every_allowed_numeric_value_is_kept(field: str, value: Any) -> None:
    if field != "timeout":
        value = max(1, min(10**6, int(value)))
    config = rc.ExecutorConfig(**{field: value})
    kept = getattr(config, field)
    assert kept == value and (field != "timeout" or math.isfinite(kept))


async def leaf() -> int:
    return 1


def test_run_sync_from_a_thread_node_is_a_context_error_and_records_nothing() -> None:
    with rc.Runner(**QUIET) as runner:

        def inside() -> str:
            with pytest.raises(rc.ContextError, match=r"rc\.call_sync"):
                runner.run_sync(leaf)
            return "ok"

        assert runner.run_sync(rc.function_node(inside)).answer == "ok"
        assert [r.spec.name for r in runner.state.records] == ["inside"]


def test_run_sync_from_another_thread_while_the_run_runs_is_a_context_error() -> None:
    errors: list[BaseException] = []
    with rc.Runner(**QUIET) as runner:

        async def waits_for_the_other_thread() -> None:
            def other() -> None:
                try:
                    runner.run_sync(leaf)
                except BaseException as error:
                    errors.append(error)

            thread = threading.Thread(target=other)
            thread.start()
            await asyncio.to_thread(thread.join)

        runner.run_sync(waits_for_the_other_thread)
        assert [type(e) for e in errors] == [rc.ContextError]
        assert [r.spec.name for r in runner.state.records] == ["waits_for_the_other_thread"]
        assert runner.run_sync(leaf).answer == 1  # and the runner goes on


def test_run_sync_from_a_thread_node_of_an_async_runner_is_a_context_error() -> None:
    async def main() -> list[str]:
        async with rc.Runner(**QUIET) as runner:

            def inside() -> None:
                with pytest.raises(rc.ContextError):
                    runner.run_sync(leaf)

            await runner.run(rc.function_node(inside))
            return [r.status for r in runner.state.records]

    assert asyncio.run(main()) == ["succeeded"]


class Unshowable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


async def one(x: object) -> object:
    return x


class OneArg(rc.Node[int]):
    def __init__(self, a: object) -> None:
        super().__init__()
        self.a = a

    async def invoke(self) -> int:
        return 1


def plain(x: object) -> object:
    return x


values = st.one_of(
    st.integers(), st.text(max_size=20), st.none(), st.builds(Unshowable), st.binary(max_size=10)
)


@settings(max_examples=60, deadline=None)
@given(
    node=st.sampled_from([one, OneArg, rc.function_node(plain)]),
    args=st.lists(values, max_size=4).filter(lambda a: len(a) != 1),
    kwargs=st.dictionaries(st.sampled_from(["zz", "q"]), values, max_size=2),
)
def test_arguments_that_do_not_fit_are_a_recorded_node_creation_error(
    node: Any, args: list[Any], kwargs: dict[str, Any]
) -> None:
    async def parent() -> str:
        with pytest.raises(rc.NodeCreationError):
            await rc.call(node, *args, **kwargs)
        return "caught"

    with rc.Runner(**QUIET) as runner:
        with pytest.raises(rc.NodeCreationError):
            runner.run_sync(node, *args, **kwargs)
        assert runner.run_sync(parent).answer == "caught"
        statuses = [(r.parent is None, r.status) for r in runner.state.records]
    assert statuses == [(True, "failed"), (True, "succeeded"), (False, "failed")]
