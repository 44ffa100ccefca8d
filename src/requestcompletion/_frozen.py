"""fast_constructor: build instances of a frozen dataclass at about twice the speed.

A frozen dataclass's `__init__` assigns each field through the generic
`object.__setattr__(self, "name", value)`, which costs more than a node call.
The constructor made here fills the instance as an unfrozen twin (a subclass that
adds no slots, so the same memory layout) whose plain assignments are the fast
ones, then gives it its real class: the result is the same immutable instance.

For rc's own hot paths (per-call events, the test models' replies, tool
results): every field is passed, in the order of the class's `__init__` (keyword-only
fields last, positionally here), with no defaults, no validation and no
`__post_init__`, so it is only for classes that have none to run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

__all__ = ["fast_constructor"]

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor taking every field of the frozen dataclass `cls`."""
    every = fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in every if not f.kw_only] + [f.name for f in every if f.kw_only]
    twin = type(
        f"_Building{cls.__name__}",
        (cls,),
        # both, so the type's one setattr slot is the generic (specialisable) one
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )
    namespace: dict[str, Any] = {"new": object.__new__, "twin": twin, "cls": cls}
    lines = [f"def make({', '.join(names)}):", "    made = new(twin)"]
    lines += [f"    made.{name} = {name}" for name in names]
    lines += ["    made.__class__ = cls", "    return made"]
    exec("\n".join(lines), namespace)
    make: Callable[..., T] = namespace["make"]
    return make
