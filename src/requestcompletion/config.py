"""ExecutorConfig, the global default, and the one place precedence is resolved.

A runner's configuration comes from four layers, highest first: keyword overrides
given to `Runner(...)`, the `executor_config` given to it, the config passed to
`set_config`, and the defaults below. Resolution is per field, and "not given" is
told apart from "given as None" (`timeout=None` means "no limit", which must be
able to override a global `timeout=30`): every field defaults to the `UNSET`
sentinel, and a config remembers which fields were really given.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from .errors import ConfigError

__all__ = [
    "UNSET",
    "ExecutorConfig",
    "LoggingSetting",
    "get_config",
    "resolve_config",
    "set_config",
]

LoggingSetting = Literal["VERBOSE", "REGULAR", "QUIET", "NONE"]
LOGGING_SETTINGS: Final = get_args(LoggingSetting)
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


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

DEFAULTS: Final[Mapping[str, Any]] = {
    "timeout": None,
    "end_on_error": False,
    "logging_setting": "REGULAR",
    "log_file": None,
    "subscriber": None,
    "run_identifier": None,
    "prompt_injection": True,
    "save_state": True,
    "state_dir": ".covailence",
    "journal_fsync": False,
    "execution_mode": None,
    "max_concurrency": None,
    "max_threads": None,
    "ray_address": None,
    "ray_init": None,
}
EXECUTION_MODES: Final = ("asyncio", "threads", "distributed")


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """How a runner behaves. Every value is checked here, at construction.

    Args:
        timeout: seconds each top-level request may take; None for no limit.
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
            batch it writes (survives power loss, at the cost of a disk sync per batch;
            without it a batch reaches the OS, which survives the process dying).
        execution_mode: where nodes without a mode of their own run: "asyncio",
            "threads" or "distributed"; None (default) picks by the kind of
            node (asyncio for `async def`, threads for `def`).
        max_concurrency: at most this many nodes run their own code at once
            (a node waiting on a child it called does not count); None: no limit.
        max_threads: size of the thread pool for thread nodes; None: Python's default.
        ray_address: the Ray cluster distributed nodes run on, "host:port"; None joins
            the cluster this process is already connected to, else `$RAY_ADDRESS`,
            else starts a local one (shut down when the runner closes).
        ray_init: extra keyword arguments for `ray.init` when rc connects or starts
            the cluster, e.g. ``{"runtime_env": {...}, "num_cpus": 4}``.

    Raises:
        ConfigError: a value is not allowed (a `ValueError` and a `TypeError`); the
            message names the field and what is allowed.
    """

    timeout: float | None = _NOT_GIVEN
    end_on_error: bool = _NOT_GIVEN
    logging_setting: LoggingSetting = _NOT_GIVEN
    log_file: str | os.PathLike[str] | None = _NOT_GIVEN
    subscriber: Callable[[Any], Any] | None = _NOT_GIVEN
    run_identifier: str | None = _NOT_GIVEN
    prompt_injection: bool = _NOT_GIVEN
    save_state: bool = _NOT_GIVEN
    state_dir: str | os.PathLike[str] = _NOT_GIVEN
    journal_fsync: bool = _NOT_GIVEN
    execution_mode: Literal["asyncio", "threads", "distributed"] | None = _NOT_GIVEN
    max_concurrency: int | None = _NOT_GIVEN
    max_threads: int | None = _NOT_GIVEN
    ray_address: str | None = _NOT_GIVEN
    ray_init: Mapping[str, Any] | None = _NOT_GIVEN
    given: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = []
        for name, default in DEFAULTS.items():
            value = getattr(self, name)
            if value is UNSET:
                object.__setattr__(self, name, default)
            else:
                object.__setattr__(self, name, _check(name, value))
                given.append(name)
        object.__setattr__(self, "given", frozenset(given))

    def replace(self, **changes: Any) -> ExecutorConfig:
        """A copy with some fields changed (the given fields are kept)."""
        values = {name: getattr(self, name) for name in self.given}
        values.update(changes)
        return ExecutorConfig(**values)


def _check(name: str, value: Any) -> Any:
    """Validate one field; return the value to store."""
    if name == "timeout":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"timeout must be a number of seconds > 0 or None, not {value!r}")
        if not value > 0 or math.isinf(value):
            raise ConfigError(f"timeout must be a finite number of seconds > 0, not {value!r}")
        return float(value)
    if name in ("end_on_error", "prompt_injection", "save_state", "journal_fsync"):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be True or False, not {value!r}")
        return value
    if name == "logging_setting":
        setting = value.upper() if isinstance(value, str) else value
        if setting not in LOGGING_SETTINGS:
            allowed = ", ".join(LOGGING_SETTINGS)
            raise ConfigError(f"logging_setting must be one of {allowed}, not {value!r}")
        return setting
    if name == "subscriber":
        if value is not None and not callable(value):
            raise ConfigError(
                f"subscriber must be a callable (sync or async) or None, not {value!r}"
            )
        return value
    if name == "run_identifier":
        if value is None:
            return None
        if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
            raise ConfigError(
                f"run_identifier must be 1-128 characters of letters, digits, '.', '_' or '-', "
                f"not starting with '.', not {value!r}"
            )
        return value
    if name in ("log_file", "state_dir"):
        if value is None and name == "log_file":
            return None
        if not isinstance(value, str | os.PathLike) or not os.fspath(value):
            raise ConfigError(f"{name} must be a non-empty path, not {value!r}")
        return value
    if name == "execution_mode":
        if value is not None and value not in EXECUTION_MODES:
            allowed = ", ".join(EXECUTION_MODES)
            raise ConfigError(f"execution_mode must be one of {allowed} or None, not {value!r}")
        return value
    if name in ("max_concurrency", "max_threads"):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{name} must be a whole number >= 1 or None, not {value!r}")
        return value
    if name == "ray_address":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"ray_address must be a cluster address such as '127.0.0.1:6379', or None, "
                f"not {value!r}"
            )
        return value
    if name == "ray_init":
        if value is None:
            return None
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ConfigError(
                f"ray_init must be a mapping of ray.init keyword arguments, or None, not {value!r}"
            )
        return dict(value)
    raise AssertionError(name)  # pragma: no cover - DEFAULTS and _check list the same fields


_global_config = ExecutorConfig()


def set_config(config: ExecutorConfig | None = None, **fields: Any) -> None:
    """Set the global default configuration for runners created later.

    Args:
        config: the new global config; fields it does not give fall back to defaults.
        **fields: or individual fields, merged into the current global config.
    """
    global _global_config
    if config is not None and not isinstance(config, ExecutorConfig):
        raise ConfigError(f"set_config takes an ExecutorConfig, not {config!r}")
    base = config if config is not None else _global_config
    _global_config = base.replace(**fields) if fields else base


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
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError(f"unknown config field(s): {names}; known: {', '.join(DEFAULTS)}")
    values: dict[str, Any] = {}
    for layer in (_global_config, executor_config):
        if layer is not None:
            values.update((name, getattr(layer, name)) for name in layer.given)
    values.update(overrides)
    return ExecutorConfig(**values)
