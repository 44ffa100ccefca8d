"""ExecutorConfig: validation of every field, the defaults, and layer precedence.

Precedence, highest first: keyword overrides to `Runner(...)`, its `executor_config`,
the global `rc.set_config`, the defaults. A field given as `None` is given: it must
override a lower layer, unlike a field that was not given at all.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from requestcompletion.config import UNSET, get_config


@pytest.fixture(autouse=True)
def _reset_global_config() -> Iterator[None]:
    """Every test starts and ends with the default global config."""
    rc.set_config(rc.ExecutorConfig())
    yield
    rc.set_config(rc.ExecutorConfig())


DESIGN_DEFAULTS: dict[str, Any] = {
    "timeout": None,
    "end_on_error": False,
    "logging_setting": "REGULAR",
    "log_file": None,
    "subscriber": None,
    "run_identifier": None,
    "prompt_injection": True,
    "save_state": True,
    "state_dir": ".covailence",
}


def _noop(item: object) -> None:
    pass


async def _async_noop(item: object) -> None:
    pass


# --- validation ----------------------------------------------------------------

BAD_VALUES = [
    ("timeout", 0),
    ("timeout", 0.0),
    ("timeout", -1),
    ("timeout", -0.001),
    ("timeout", math.inf),
    ("timeout", -math.inf),
    ("timeout", math.nan),
    ("timeout", True),
    ("timeout", False),
    ("timeout", "30"),
    ("timeout", [30]),
    ("end_on_error", 1),
    ("end_on_error", "yes"),
    ("end_on_error", None),
    ("prompt_injection", 0),
    ("prompt_injection", None),
    ("save_state", "true"),
    ("save_state", None),
    ("logging_setting", "LOUD"),
    ("logging_setting", ""),
    ("logging_setting", None),
    ("logging_setting", 10),
    ("subscriber", 42),
    ("subscriber", "print"),
    ("subscriber", [_noop]),
    ("run_identifier", "../x"),
    ("run_identifier", "a/b"),
    ("run_identifier", "a\\b"),
    ("run_identifier", ".hidden"),
    ("run_identifier", ".."),
    ("run_identifier", ""),
    ("run_identifier", "x" * 129),
    ("run_identifier", "a b"),
    ("run_identifier", "run\n"),
    ("run_identifier", "nul\x00"),
    ("run_identifier", 42),
    ("log_file", ""),
    ("log_file", 3),
    ("state_dir", ""),
    ("state_dir", None),
    ("state_dir", 3),
    ("state_dir", b"runs"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_value_is_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(rc.ConfigError) as caught:
        rc.ExecutorConfig(**{field: value})
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, rc.RCError)
    assert field in str(caught.value)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_override_to_runner_is_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(rc.ConfigError, match=field):
        rc.Runner(**{field: value})


def test_bad_value_is_caught_by_except_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        rc.ExecutorConfig(timeout=-5)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("timeout", 0, "> 0"),
        ("timeout", "30", "None"),
        ("logging_setting", "LOUD", "VERBOSE, REGULAR, QUIET, NONE"),
        ("subscriber", 42, "callable"),
        ("run_identifier", "../x", "128"),
    ],
)
def test_message_says_what_is_allowed(field: str, value: Any, allowed: str) -> None:
    with pytest.raises(rc.ConfigError) as caught:
        rc.ExecutorConfig(**{field: value})
    assert allowed in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("timeout", 30, 30.0),
        ("timeout", 0.001, 0.001),
        ("timeout", None, None),
        ("logging_setting", "NONE", "NONE"),
        ("logging_setting", "QUIET", "QUIET"),
        ("run_identifier", "x" * 128, "x" * 128),
        ("run_identifier", "a", "a"),
        ("run_identifier", "nightly-42", "nightly-42"),
        ("run_identifier", "A.b_c-1.v2", "A.b_c-1.v2"),
        ("subscriber", _noop, _noop),
        ("subscriber", _async_noop, _async_noop),
        ("subscriber", print, print),
        ("log_file", "run.log", "run.log"),
        ("log_file", Path("logs/run.log"), Path("logs/run.log")),
        ("state_dir", Path("runs"), Path("runs")),
        ("end_on_error", True, True),
        ("save_state", False, False),
        ("prompt_injection", False, False),
    ],
)
def test_good_value_is_kept(field: str, value: Any, stored: Any) -> None:
    config = rc.ExecutorConfig(**{field: value})
    assert getattr(config, field) == stored
    assert config.given == frozenset({field})


def test_timeout_is_stored_as_float() -> None:
    assert type(rc.ExecutorConfig(timeout=5).timeout) is float


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(TypeError, match="bogus"):
        rc.ExecutorConfig(bogus=1)  # type: ignore[call-arg]


def test_unknown_runner_override_is_a_config_error_naming_it() -> None:
    with pytest.raises(rc.ConfigError, match="bogus"):
        rc.Runner(bogus=1)


def test_set_config_with_an_unknown_field_is_the_same_config_error_as_the_runners() -> None:
    rc.set_config(timeout=30)
    with pytest.raises(rc.ConfigError) as from_runner:
        rc.Runner(bogus=1)
    with pytest.raises(rc.ConfigError) as from_set_config:
        rc.set_config(bogus=1)
    assert str(from_set_config.value) == str(from_runner.value)
    assert "bogus" in str(from_set_config.value)
    assert "timeout, end_on_error" in str(from_set_config.value)  # lists the fields
    assert get_config().timeout == 30.0  # nothing lost
    with pytest.raises(rc.ConfigError, match="bogus"):
        rc.ExecutorConfig().replace(bogus=1)


def test_the_field_list_is_the_dataclass_itself() -> None:
    from requestcompletion.config import DEFAULTS

    names = [f.name for f in dataclasses.fields(rc.ExecutorConfig) if f.init]
    assert list(DEFAULTS) == names
    assert {name: DEFAULTS[name] for name in DESIGN_DEFAULTS} == DESIGN_DEFAULTS


@pytest.mark.parametrize(
    ("field", "value"), [("ray_address", "127.0.0.1:6379"), ("ray_init", {"num_cpus": 1})]
)
def test_the_old_ray_fields_warn_once_where_they_are_written(field: str, value: Any) -> None:
    with pytest.deprecated_call(match=f"ExecutorConfig.{field} is deprecated") as caught:
        config = rc.ExecutorConfig(**{field: value})
    assert len(caught) == 1
    assert caught[0].filename == __file__  # points at the user's line
    assert "DistributedExecutionStrategy" in str(caught[0].message)  # says what to write
    rc.Runner(executor_config=config)  # already announced: warnings are errors here
    with pytest.deprecated_call(match=field) as caught:
        rc.Runner(**{field: value})
    assert [w.filename for w in caught] == [__file__]
    with pytest.deprecated_call(match=field) as caught:
        rc.set_config(**{field: value})
    assert [w.filename for w in caught] == [__file__]
    rc.Runner()  # the global config holds it, and it was announced when it was set


def test_executor_config_must_be_an_executor_config() -> None:
    with pytest.raises(rc.ConfigError, match="executor_config"):
        rc.Runner(executor_config={"timeout": 1.0})  # type: ignore[arg-type]


def test_set_config_rejects_what_is_not_a_config() -> None:
    with pytest.raises(rc.ConfigError):
        rc.set_config({"timeout": 1.0})  # type: ignore[arg-type]


def test_set_config_with_a_bad_field_leaves_the_global_config_alone() -> None:
    rc.set_config(timeout=30)
    with pytest.raises(rc.ConfigError, match="timeout"):
        rc.set_config(timeout=-1)
    assert get_config().timeout == 30.0


def test_config_is_immutable() -> None:
    config = rc.ExecutorConfig(timeout=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.timeout = 2.0  # type: ignore[misc]


# --- defaults --------------------------------------------------------------------


def test_defaults_are_the_designed_ones() -> None:
    config = rc.ExecutorConfig()
    assert {name: getattr(config, name) for name in DESIGN_DEFAULTS} == DESIGN_DEFAULTS
    assert config.given == frozenset()


def test_a_runner_with_nothing_given_gets_the_defaults() -> None:
    config = rc.Runner().config
    assert {name: getattr(config, name) for name in DESIGN_DEFAULTS} == DESIGN_DEFAULTS


def test_default_run_identifier_is_a_fresh_uuid4_per_runner() -> None:
    first, second = rc.Runner(), rc.Runner()
    assert first.run_id != second.run_id
    assert uuid.UUID(first.run_id).version == 4
    assert uuid.UUID(second.run_id).version == 4


def test_none_is_given_but_not_given_is_not() -> None:
    assert rc.ExecutorConfig(timeout=None).given == frozenset({"timeout"})
    assert rc.ExecutorConfig(timeout=UNSET).given == frozenset()


# --- precedence ------------------------------------------------------------------

# Each row: the global config's fields, executor_config's fields, Runner overrides,
# and the fields the runner must end up with.
PRECEDENCE = [
    pytest.param({}, {}, {}, {"timeout": None, "end_on_error": False}, id="defaults"),
    pytest.param({"timeout": 30}, {}, {}, {"timeout": 30.0}, id="global-over-default"),
    pytest.param({"timeout": 30}, {"timeout": 5}, {}, {"timeout": 5.0}, id="executor-over-global"),
    pytest.param(
        {"timeout": 30}, {"timeout": 5}, {"timeout": 1}, {"timeout": 1.0}, id="override-over-all"
    ),
    pytest.param({"timeout": 30}, {}, {"timeout": None}, {"timeout": None}, id="override-none"),
    pytest.param(
        {"timeout": 30}, {"timeout": None}, {}, {"timeout": None}, id="executor-none-over-global"
    ),
    pytest.param(
        {"timeout": 30},
        {"end_on_error": True},
        {},
        {"timeout": 30.0, "end_on_error": True},
        id="per-field-merge",
    ),
    pytest.param(
        {"logging_setting": "QUIET", "save_state": False},
        {"logging_setting": "VERBOSE"},
        {"save_state": True},
        {"logging_setting": "VERBOSE", "save_state": True},
        id="mixed-fields",
    ),
    pytest.param(
        {"run_identifier": "global-run"},
        {"run_identifier": None},
        {},
        {"run_identifier": None},
        id="executor-none-run-id",
    ),
    pytest.param(
        {"log_file": "global.log"}, {}, {"log_file": None}, {"log_file": None}, id="log-file-none"
    ),
    pytest.param(
        {}, {"subscriber": _noop}, {"subscriber": None}, {"subscriber": None}, id="subscriber-none"
    ),
    pytest.param(
        {"state_dir": "global"}, {"state_dir": "mine"}, {}, {"state_dir": "mine"}, id="state-dir"
    ),
]


@pytest.mark.parametrize(("global_", "executor", "overrides", "expected"), PRECEDENCE)
def test_precedence(
    global_: dict[str, Any],
    executor: dict[str, Any],
    overrides: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    rc.set_config(rc.ExecutorConfig(**global_))
    runner = rc.Runner(executor_config=rc.ExecutorConfig(**executor), **overrides)
    assert {name: getattr(runner.config, name) for name in expected} == expected


def test_explicit_none_timeout_overrides_global_thirty() -> None:
    rc.set_config(timeout=30)
    assert rc.Runner().config.timeout == 30.0
    assert rc.Runner(timeout=None).config.timeout is None
    assert rc.Runner(rc.ExecutorConfig(timeout=None)).config.timeout is None
    assert rc.Runner(rc.ExecutorConfig()).config.timeout == 30.0


def test_set_config_fields_merge_and_a_config_replaces() -> None:
    rc.set_config(timeout=30)
    rc.set_config(end_on_error=True)
    assert (get_config().timeout, get_config().end_on_error) == (30.0, True)
    rc.set_config(rc.ExecutorConfig(save_state=False))
    assert (get_config().timeout, get_config().end_on_error) == (None, False)
    assert get_config().save_state is False


def test_global_config_is_read_when_the_runner_is_made() -> None:
    before = rc.Runner()
    rc.set_config(timeout=12)
    after = rc.Runner()
    assert before.config.timeout is None
    assert after.config.timeout == 12.0


def test_run_identifier_override_names_the_run_and_its_file(tmp_path: Path) -> None:
    rc.set_config(state_dir=tmp_path / "global", logging_setting="NONE")
    with rc.Runner(run_identifier="chosen") as runner:
        pass
    assert runner.run_id == "chosen"
    assert (tmp_path / "global" / "chosen.json").is_file()


# --- precedence, property-based ----------------------------------------------------

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "timeout": st.none()
    | st.integers(1, 10_000)
    | st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
    "end_on_error": st.booleans(),
    "logging_setting": st.sampled_from(["VERBOSE", "REGULAR", "QUIET", "NONE"]),
    "log_file": st.none() | st.sampled_from(["a.log", "logs/b.log", Path("c.log")]),
    "subscriber": st.none() | st.sampled_from([_noop, _async_noop, print]),
    "run_identifier": st.none()
    | st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}", fullmatch=True),
    "prompt_injection": st.booleans(),
    "save_state": st.booleans(),
    "state_dir": st.sampled_from(["runs", ".covailence", Path("out/state")]),
}


@st.composite
def layers(draw: st.DrawFn) -> dict[str, Any]:
    """Some fields (possibly none) with valid values."""
    names = draw(st.sets(st.sampled_from(sorted(FIELD_VALUES))))
    return {name: draw(FIELD_VALUES[name]) for name in sorted(names)}


def _stored(name: str, value: Any) -> Any:
    return float(value) if name == "timeout" and value is not None else value


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(global_=layers(), executor=layers() | st.none(), overrides=layers())
def test_precedence_property(
    global_: dict[str, Any], executor: dict[str, Any] | None, overrides: dict[str, Any]
) -> None:
    rc.set_config(rc.ExecutorConfig(**global_))
    try:
        executor_config = None if executor is None else rc.ExecutorConfig(**executor)
        config = rc.Runner(executor_config, **overrides).config
    finally:
        rc.set_config(rc.ExecutorConfig())
    for name, default in DESIGN_DEFAULTS.items():
        for layer in (overrides, executor or {}, global_):
            if name in layer:
                expected = _stored(name, layer[name])
                break
        else:
            expected = default
        actual = getattr(config, name)
        assert actual == expected, (name, actual, expected)
        assert type(actual) is type(expected), (name, actual, expected)
    assert config.given == frozenset(global_) | frozenset(executor or {}) | frozenset(overrides)


def test_a_runner_opened_with_the_same_inputs_reuses_the_resolved_config() -> None:
    from requestcompletion.config import resolve_config

    first = resolve_config(None, {"save_state": False, "logging_setting": "NONE"})
    assert resolve_config(None, {"save_state": False, "logging_setting": "NONE"}) is first
    assert resolve_config(None, {"save_state": True, "logging_setting": "NONE"}) is not first
    own = rc.ExecutorConfig(timeout=2.0)
    assert resolve_config(own, {}).timeout == 2.0  # another executor_config: built anew
    rc.set_config(timeout=3.0)
    try:
        assert resolve_config(None, {}).timeout == 3.0  # the global config changed
    finally:
        rc.set_config(rc.ExecutorConfig())


def test_the_reused_config_still_checks_what_differs_only_in_type_or_is_mutable() -> None:
    from requestcompletion.config import resolve_config

    assert resolve_config(None, {"save_state": True}).save_state is True
    with pytest.raises(rc.ConfigError, match="save_state must be True or False, not 1"):
        resolve_config(None, {"save_state": 1})  # equal to True, but not a bool
    with pytest.raises(rc.ConfigError, match="unknown config field"):
        resolve_config(None, {"nope": 1})
    with pytest.raises(rc.ConfigError, match="unknown config field"):
        resolve_config(None, {"nope": 1})  # refused again, not remembered
    init: dict[str, Any] = {"num_cpus": 1}
    with pytest.deprecated_call(match="ray_init"):
        first = resolve_config(None, {"ray_init": init})
    with pytest.deprecated_call(match="ray_init"):  # announced every time, never cached
        assert resolve_config(None, {"ray_init": init}) is not first


def _items_seen(item: Any) -> None:
    pass


def test_the_saved_summary_shows_each_given_field_converted_and_the_rest_as_defaults(
    tmp_path: Path,
) -> None:
    # the defaults' summary is made once and copied: given fields must still show,
    # converted, and no summary may change another one
    config = rc.ExecutorConfig(
        timeout=3,
        log_file=tmp_path / "run.log",
        subscriber=_items_seen,
        budget=rc.Budget(max_nodes=3),
        save_state=False,
    )
    summary = config.summary()
    assert summary["timeout"] == 3.0
    assert summary["log_file"] == str(tmp_path / "run.log")
    assert summary["subscriber"] == "_items_seen"
    assert summary["budget"] == {"max_nodes": 3}
    assert summary["save_state"] is False
    assert "ray_init" not in summary
    untouched = {k: v for k, v in DESIGN_DEFAULTS.items() if k in summary and k not in config.given}
    assert {k: summary[k] for k in untouched} == {
        k: (str(v) if isinstance(v, Path) else v) for k, v in untouched.items()
    }
    summary["timeout"] = "changed"
    assert rc.ExecutorConfig().summary()["timeout"] is None
    assert config.summary()["timeout"] == 3.0
    assert list(summary) == list(rc.ExecutorConfig().summary())  # the fields' order
