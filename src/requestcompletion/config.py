"""ExecutorConfig, the global default, and the one place precedence is resolved.

A runner's configuration comes from four layers, highest first: keyword overrides
given to `Runner(...)`, the `executor_config` given to it, the config passed to
`set_config`, and the defaults below. Resolution is per field, and "not given" is
told apart from "given as None" (`timeout=None` means "no limit", which must be
able to override a global `timeout=30`): every field defaults to the `UNSET`
sentinel, and a config remembers which fields were really given. Each field's
checker lives in `_config_checks`.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from . import _config_checks as check
from ._config_checks import MAX_COUNT, MAX_SECONDS, LoggingSetting
from .budgets import Budget
from .errors import ConfigError

__all__ = [
    "MAX_COUNT",
    "MAX_SECONDS",
    "UNSET",
    "ExecutorConfig",
    "LoggingSetting",
    "get_config",
    "resolve_config",
    "set_config",
]


class _Unset:
    """The type of `UNSET`: a field that was not given."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()
_NOT_GIVEN: Any = UNSET  # typed as Any so fields keep their real types


def _setting(
    default: Any,
    check: Callable[[str, Any], Any],
    instead: str = "",
    saved: Callable[[Any], Any] | None = check.as_is,
) -> dict[str, Any]:
    """A field's metadata: its default, its checker, for an old spelling what to write
    instead, and how a saved run shows it (None: left out of saved runs)."""
    return {"default": default, "check": check, "instead": instead, "saved": saved}


_DISTRIBUTED = "rc.Runner(execution_modes={'distributed': DistributedExecutionStrategy(%s=...)})"


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """How a runner behaves. Every value is checked here, at construction.

    Args:
        timeout: seconds each top-level request may take (> 0, at most 1e9);
            None for no limit.
        end_on_error: when True, the first exception any node raises ends the whole run.
        logging_setting: "VERBOSE", "REGULAR", "QUIET" or "NONE".
        log_file: also write the log to this file.
        subscriber: called (sync or async) with every item passed to `rc.stream`.
        run_identifier: the run's id and saved file name; 1-128 of letters, digits,
            ".", "_", "-", not starting with "."; default a fresh uuid4.
        prompt_injection: fill `{name}` placeholders in agent prompts from `rc.context`.
        save_state: write `{state_dir}/{run_identifier}.json` when the runner closes
            (never over another run's file: a taken name gives `{run_identifier}.2.json`).
        state_dir: the folder saved runs go to.
        journal_fsync: with `save_state`, also fsync the run's journal after each
            batch it writes, and the final JSON before the journal is removed (survives
            power loss, at the cost of a disk sync per batch; without it a batch reaches
            the OS, which survives the process dying).
        viz: serve the run viewer for `state_dir` while the process lives and print
            the URL of this run's page when the runner opens (with `save_state`).
        execution_mode: where nodes without a mode of their own run: the name of
            one of the runner's strategies ("asyncio", "threads", "distributed" or
            one given with `Runner(execution_modes=...)`; an unknown name fails
            when a node is called); None (default) picks by the kind of node
            (asyncio for `async def`, threads for `def`).
        max_concurrency: at most this many nodes run their own code at once
            (a node waiting on a child it called does not count; 1 to 1,000,000);
            None: no limit.
        max_threads: size of the thread pool for thread nodes (1 to 1,000,000);
            None: Python's default.
        ray_address: deprecated: give the runner
            ``execution_modes={"distributed": DistributedExecutionStrategy(address=...)}``.
        ray_init: deprecated: ``DistributedExecutionStrategy(init=...)`` likewise.
        budget: an `rc.Budget` the whole run's model calls and nodes must stay within
            (see `requestcompletion.llm.budget`); None: no limit.
        human: answers `rc.ask`: called (sync or async) with an `rc.human.Question`,
            returns the answer or `rc.human.DEFER`; `rc.human.terminal()` asks on the
            terminal. None: every question stays open and the run ends ``waiting``.

    Raises:
        ConfigError: a value is not allowed (a `ValueError` and a `TypeError`); the
            message names the field and what is allowed.
    """

    timeout: float | None = field(default=_NOT_GIVEN, metadata=_setting(None, check.seconds))
    end_on_error: bool = field(default=_NOT_GIVEN, metadata=_setting(False, check.flag))
    logging_setting: LoggingSetting = field(
        default=_NOT_GIVEN, metadata=_setting("REGULAR", check.logging_setting)
    )
    log_file: str | os.PathLike[str] | None = field(
        default=_NOT_GIVEN, metadata=_setting(None, check.path_or_none, saved=check.path_text)
    )
    subscriber: Callable[[Any], Any] | None = field(
        default=_NOT_GIVEN,
        metadata=_setting(None, check.callable_or_none, saved=check.callable_name),
    )
    run_identifier: str | None = field(
        default=_NOT_GIVEN, metadata=_setting(None, check.run_identifier)
    )
    prompt_injection: bool = field(default=_NOT_GIVEN, metadata=_setting(True, check.flag))
    save_state: bool = field(default=_NOT_GIVEN, metadata=_setting(True, check.flag))
    state_dir: str | os.PathLike[str] = field(
        default=_NOT_GIVEN, metadata=_setting(".covailence", check.path, saved=check.path_text)
    )
    journal_fsync: bool = field(default=_NOT_GIVEN, metadata=_setting(False, check.flag))
    viz: bool = field(default=_NOT_GIVEN, metadata=_setting(False, check.flag))
    execution_mode: str | None = field(default=_NOT_GIVEN, metadata=_setting(None, check.mode))
    max_concurrency: int | None = field(default=_NOT_GIVEN, metadata=_setting(None, check.count))
    max_threads: int | None = field(default=_NOT_GIVEN, metadata=_setting(None, check.count))
    ray_address: str | None = field(
        default=_NOT_GIVEN, metadata=_setting(None, check.ray_address, _DISTRIBUTED % "address")
    )
    ray_init: Mapping[str, Any] | None = field(
        default=_NOT_GIVEN,
        metadata=_setting(None, check.ray_init, _DISTRIBUTED % "init", saved=None),
    )
    budget: Budget | None = field(
        default=_NOT_GIVEN, metadata=_setting(None, check.budget, saved=check.budget_limits)
    )
    human: Callable[[Any], Any] | None = field(
        default=_NOT_GIVEN,
        metadata=_setting(None, check.callable_or_none, saved=check.callable_name),
    )
    given: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _fill(self, functools.partial(getattr, self))
        # stack: _warn_deprecated < __post_init__ < __init__ < the user's line
        _warn_deprecated(self.given, stacklevel=4)

    def summary(self) -> dict[str, Any]:
        """The fields as a saved run shows them: JSON values; `ray_init` left out
        (its runtime_env may hold secrets)."""
        # The defaults' summary is made once; only the few given fields are converted
        # (every runner's close writes one: all 19 fields each time were 1.2 us).
        summary = dict(_DEFAULT_SUMMARY)
        for name in self.given:
            saved = _SAVED.get(name)
            if saved is not None:
                value = getattr(self, name)
                summary[name] = value if saved is check.as_is else saved(value)
        return summary

    def replace(self, **changes: Any) -> ExecutorConfig:
        """A copy with some fields changed (the given fields are kept).

        Raises:
            ConfigError: a name is not a field, or a value is not allowed.
        """
        return _changed(self, changes, stacklevel=3)  # _changed < replace < the user's line


# The one list of fields: the dataclass's own (`given` is bookkeeping).
_FIELDS: Final = tuple(f for f in fields(ExecutorConfig) if f.init)
DEFAULTS: Final[Mapping[str, Any]] = {f.name: f.metadata["default"] for f in _FIELDS}
# The same, read out of the metadata once: a runner is opened per request in some apps.
_CHECKS: Final = tuple((f.name, f.metadata["default"], f.metadata["check"]) for f in _FIELDS)
_SAVED: Final = {f.name: f.metadata["saved"] for f in _FIELDS if f.metadata["saved"]}
_DEFAULT_SUMMARY: Final = {name: saved(DEFAULTS[name]) for name, saved in _SAVED.items()}
_INSTEAD: Final = {f.name: f.metadata["instead"] for f in _FIELDS if f.metadata["instead"]}


def _fill(config: ExecutorConfig, given_value: Callable[[str, Any], Any]) -> None:
    """Check every given field, fill the others with their defaults, remember which were given.

    `given_value(name, UNSET)` is the value given for a field, or UNSET.
    """
    given = []
    for name, default, checked in _CHECKS:
        value = given_value(name, UNSET)
        if value is UNSET:
            object.__setattr__(config, name, default)
        else:
            object.__setattr__(config, name, checked(name, value))
            given.append(name)
    object.__setattr__(config, "given", frozenset(given))


def _build(values: Mapping[str, Any]) -> ExecutorConfig:
    """A config from field values that were already announced (no deprecation warnings again)."""
    config: ExecutorConfig = object.__new__(ExecutorConfig)
    _fill(config, values.get)
    return config


def _changed(config: ExecutorConfig, changes: Mapping[str, Any], stacklevel: int) -> ExecutorConfig:
    """`config` with `changes`; `stacklevel` counts from here to the user's line."""
    _check_known(changes)
    _warn_deprecated(changes, stacklevel + 1)
    values = {name: getattr(config, name) for name in config.given}
    values.update(changes)
    return _build(values)


def _check_known(names: Iterable[str]) -> None:
    unknown = set(names) - set(DEFAULTS)
    if unknown:
        raise ConfigError(
            f"unknown config field(s): {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}"
        )


def _warn_deprecated(names: Iterable[str], stacklevel: int) -> None:
    for name, instead in _INSTEAD.items():
        if name in names:
            warnings.warn(
                f"ExecutorConfig.{name} is deprecated and goes away in the next release; "
                f"write {instead} instead",
                DeprecationWarning,
                stacklevel=stacklevel,
            )


_global_config = ExecutorConfig()


def set_config(config: ExecutorConfig | None = None, **fields: Any) -> None:
    """Set the global default configuration for runners created later.

    Args:
        config: the new global config; fields it does not give fall back to defaults.
        **fields: or individual fields, merged into the current global config.

    Raises:
        ConfigError: a name is not a field (the message lists the fields), or a value
            is not allowed.
    """
    global _global_config
    if config is not None and not isinstance(config, ExecutorConfig):
        raise ConfigError(f"set_config takes an ExecutorConfig, not {config!r}")
    base = config if config is not None else _global_config
    # stack: _changed < set_config < the user's line
    _global_config = _changed(base, fields, stacklevel=3) if fields else base


def get_config() -> ExecutorConfig:
    """The global default configuration."""
    return _global_config


def resolve_config(
    executor_config: ExecutorConfig | None = None, overrides: Mapping[str, Any] | None = None
) -> ExecutorConfig:
    """Merge the layers: overrides > executor_config > set_config > defaults, per field."""
    if executor_config is not None and not isinstance(executor_config, ExecutorConfig):
        raise ConfigError(f"executor_config must be an ExecutorConfig, not {executor_config!r}")
    overrides = overrides or {}
    # An app opening a runner per request gives the same inputs every time: checking
    # every field again was a fifth of a short runner's own cost. Configs are frozen,
    # so runners can share one. Only immutable override values are keyed on (a list
    # or a dict could change between two runners), with their types (True == 1, and a
    # check may take one and refuse the other); inputs naming a deprecated field are
    # never kept, so a hit has no warning to give and its names were checked.
    key: tuple[Any, ...] | None = None
    if all(type(value) in _IMMUTABLE for value in overrides.values()):
        key = tuple([(name, type(value), value) for name, value in overrides.items()])
        last = _last_resolved
        if last and last[0] is _global_config and last[1] is executor_config and last[2] == key:
            return last[3]  # type: ignore[no-any-return]
    _check_known(overrides)
    # stack: _warn_deprecated < resolve_config < Runner.__init__ < the user's line
    _warn_deprecated(overrides, stacklevel=4)
    values: dict[str, Any] = {}
    for layer in (_global_config, executor_config):
        if layer is not None:
            values.update((name, getattr(layer, name)) for name in layer.given)
    values.update(overrides)
    config = _build(values)
    if key is not None and not _INSTEAD.keys() & values.keys():
        _last_resolved[:] = [_global_config, executor_config, key, config]  # held by identity
    return config


_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None)})
_last_resolved: list[Any] = []  # [global config, executor_config, overrides key, result]
