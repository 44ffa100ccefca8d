"""The checks of `ExecutorConfig`'s fields, one per kind of value, and how a saved run shows them.

Each checker takes the field's name (for the message) and the value given, and
returns the value to keep or raises `ConfigError` naming the field and what is
allowed. The converters at the end turn a kept value into what a saved run's
config summary holds (plain JSON). `config.py` says which field uses which.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from .budgets import check_budget
from .errors import ConfigError

LoggingSetting = Literal["VERBOSE", "REGULAR", "QUIET", "NONE"]
LOGGING_SETTINGS: Final = get_args(LoggingSetting)
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

MAX_SECONDS: Final = 1e9  # about 31 years: beyond it, a limit is no limit (say None)
MAX_COUNT: Final = 1_000_000  # threads or concurrent nodes: beyond it, say None


def seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of seconds > 0 or None, not {_shown(value)}")
    # compared as given: float() of a huge int raises OverflowError
    if not 0 < value <= MAX_SECONDS:
        raise ConfigError(
            f"{name} must be a finite number of seconds > 0 and <= {MAX_SECONDS:g}, not "
            f"{_shown(value)}; for no limit give None"
        )
    return float(value)


def _shown(value: Any) -> str:
    """`repr(value)`, except for an int too long to print (repr raises past 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, not {value!r}")
    return value


def logging_setting(name: str, value: Any) -> str:
    setting = value.upper() if isinstance(value, str) else value
    if setting not in LOGGING_SETTINGS:
        raise ConfigError(f"{name} must be one of {', '.join(LOGGING_SETTINGS)}, not {value!r}")
    return str(setting)


def callable_or_none(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise ConfigError(f"{name} must be a callable (sync or async) or None, not {value!r}")
    return value


def run_identifier(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not _RUN_ID.fullmatch(value)):
        raise ConfigError(
            f"{name} must be 1-128 characters of letters, digits, '.', '_' or '-', "
            f"not starting with '.', not {value!r}"
        )
    return value


def path(name: str, value: Any) -> Any:
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if not isinstance(text, str) or not text:  # bytes paths too: saved runs hold text
        raise ConfigError(f"{name} must be a non-empty path, not {value!r}")
    if "\x00" in text:  # no OS accepts it; open() would raise a bare ValueError later
        raise ConfigError(f"{name} {text!r} contains a NUL character; give a path without it")
    return value


def path_or_none(name: str, value: Any) -> Any:
    return None if value is None else path(name, value)


def mode(name: str, value: Any) -> str | None:
    # Any name: which modes exist depends on the runner's strategies (checked at call time).
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(
            f"{name} must be the name of an execution mode ('asyncio', 'threads', "
            f"'distributed' or one given with Runner(execution_modes=...)) or None, "
            f"not {value!r}"
        )
    return value


def count(name: str, value: Any) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT
    ):
        raise ConfigError(
            f"{name} must be a whole number >= 1 and <= {MAX_COUNT:,}, or None for no limit, "
            f"not {_shown(value)}"
        )
    return value


def ray_address(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(
            f"{name} must be a cluster address such as '127.0.0.1:6379', or None, not {value!r}"
        )
    return value


def ray_init(name: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(
            f"{name} must be a mapping of ray.init keyword arguments, or None, not {value!r}"
        )
    return dict(value)


def as_is(value: Any) -> Any:
    return value


def path_text(value: Any) -> Any:
    return None if value is None else os.fspath(value)


def budget(name: str, value: Any) -> Any:
    return check_budget(value)


def budget_limits(value: Any) -> Any:
    return None if value is None else value.limits()


def callable_name(value: Any) -> Any:
    return None if value is None else getattr(value, "__qualname__", "callable")
