"""Budgets, the limits and their ledgers: see `requestcompletion.llm.budget`.

This part sits at the bottom of the layers, so that node registration (max_nodes)
can count against it; the model-call side (reserving a call's worst case) is in
`llm.budget`, with the agents. The distributed strategy, below the agents, reserves
for model calls made on Ray workers through `HOLDS`, which `llm.budget` sets when
it is imported (it always is before a model call can be made: agents import it).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from .errors import BudgetExceededError, ConfigError

__all__ = ["HOLDS", "Budget", "Holds", "agent_scope", "check_budget", "count_node", "ledgers"]

Runner = Any  # the runner, duck-typed: this module sits below it
NodeRecord = Any

# budget field -> what it limits, in a ledger's amounts
_FIELDS = {
    "max_cost": "cost",
    "max_tokens": "tokens",
    "max_model_calls": "model_calls",
    "max_nodes": "nodes",
}
_WHOLE = ("max_tokens", "max_model_calls", "max_nodes")


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits on spending; None (the default) leaves that one unlimited.

    Args:
        max_cost: US dollars of model calls (prices from `llm.pricing`).
        max_tokens: input plus output tokens of model calls.
        max_model_calls: model calls.
        max_nodes: nodes created (for an agent's budget: the nodes under it).

    Raises:
        ConfigError: a limit is negative, not a number, or (but for max_cost) not whole.
    """

    max_cost: float | None = None
    max_tokens: int | None = None
    max_model_calls: int | None = None
    max_nodes: int | None = None

    def __post_init__(self) -> None:
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            whole = name in _WHOLE
            number = int if whole else int | float
            if (
                isinstance(value, bool)
                or not isinstance(value, number)
                or value < 0
                or not math.isfinite(value)
            ):
                kind = "a whole number >= 0" if whole else "a number of US dollars >= 0"
                raise ConfigError(f"Budget {name} must be {kind} or None, not {value!r}")
        if self.max_cost is not None:
            object.__setattr__(self, "max_cost", float(self.max_cost))

    def limits(self) -> dict[str, float]:
        """The limits that are set, by field name."""
        return {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}


def check_budget(value: Any) -> Budget | None:
    """`ExecutorConfig(budget=...)`: a `Budget` or None."""
    if value is not None and not isinstance(value, Budget):
        raise ConfigError(f"budget must be an rc.Budget or None, not {value!r}")
    return value


class _Ledger:
    """One budget being spent: by a run, or by one invocation of an agent."""

    __slots__ = ("budget", "report", "reserved", "scope", "spent")

    def __init__(self, budget: Budget, scope: str) -> None:
        self.budget = budget
        self.scope = scope  # "the run's budget", "the budget of agent 'x' (node 3)"
        self.spent: dict[str, Any] = {"cost": 0.0, "tokens": 0, "model_calls": 0, "nodes": 0}
        self.reserved: dict[str, Any] = {"cost": 0.0, "tokens": 0, "model_calls": 0}
        # what the run's usage and the saved run show; the dicts are the live ones
        self.report = {"limits": budget.limits(), "spent": self.spent, "reserved": self.reserved}

    def unreserve(self, needs: dict[str, float]) -> None:
        reserved = self.reserved
        for amount, need in needs.items():
            reserved[amount] -= need
        if not reserved["model_calls"]:  # none in flight: no float dust left reserved
            reserved["cost"] = 0.0

    def refuse(self, needs: dict[str, float], where: str, detail: str) -> None:
        """Raise if `needs` on top of what is spent and reserved would pass a limit."""
        for name, amount in _FIELDS.items():
            allowed = getattr(self.budget, name)
            need = needs.get(amount, 0)
            if allowed is None or not need:
                continue
            spent, reserved = self.spent[amount] or 0, self.reserved.get(amount, 0)
            if spent + reserved + need > allowed + 1e-12:  # float sums of prices
                show = _dollars if amount == "cost" else str
                raise BudgetExceededError(
                    f"{where}: refused, it would go over {self.scope} {name}={allowed!r}: it "
                    f"needs up to {show(need)} ({detail}), while {show(spent)} is spent and "
                    f"{show(reserved)} reserved by calls in flight. Raise {name}, or give the "
                    f"work less to do",
                    limit=name,
                    allowed=allowed,
                    spent=spent,
                    reserved=reserved,
                    needed=need,
                )


def _dollars(amount: float) -> str:
    return f"${amount:.6f}"


class _Books:
    """A runner's ledgers: the run's, and those of the agent invocations now running."""

    __slots__ = ("agents", "run")

    def __init__(self, runner: Runner) -> None:
        budget = runner.config.budget
        self.run = None if budget is None else _Ledger(budget, "the run's budget")
        self.agents: dict[int, _Ledger] = {}
        if self.run is not None:
            runner._run["budget"] = self.run.report  # saved with the run's fields


_BOOKS: WeakKeyDictionary[Runner, _Books] = WeakKeyDictionary()
LOCK = threading.Lock()  # a reservation checks then takes: never interleaved
OPEN = 0
"""Agent budgets now being spent (the node-registration hook is skipped at 0)."""


def ledgers(runner: Runner, record: NodeRecord | None) -> list[_Ledger]:
    """The ledgers work in `record` spends from: its agents' (innermost first), the run's."""
    books = _BOOKS.get(runner)
    if books is None:
        if runner.config.budget is None:
            return []
        books = _BOOKS[runner] = _Books(runner)
    found = []
    if books.agents:
        while record is not None:
            ledger = books.agents.get(record.id)
            if ledger is not None:
                found.append(ledger)
            record = record.parent
    if books.run is not None:
        found.append(books.run)
    return found


@contextmanager
def agent_scope(runner: Runner | None, record: NodeRecord | None, budget: Budget) -> Iterator[None]:
    """While an agent runs: its budget covers it and every node under it."""
    global OPEN
    if runner is None or record is None:  # no runner to count in (a Ray worker)
        yield
        return
    books = _BOOKS.get(runner)
    if books is None:
        books = _BOOKS[runner] = _Books(runner)
    ledger = _Ledger(budget, f"the budget of agent {record.spec.name!r} (node {record.id})")
    books.agents[record.id] = ledger
    runner.state.extras.setdefault(record.id, {})["budget"] = ledger.report
    OPEN += 1
    try:
        yield
    finally:
        OPEN -= 1
        del books.agents[record.id]


def count_node(runner: Runner, parent: NodeRecord | None) -> None:
    """A node is about to be created under `parent`: count it, or refuse it."""
    found = ledgers(runner, parent)
    if not found:
        return
    where = "a top-level request" if parent is None else f"node {parent.id} ({parent.spec.name!r})"
    with LOCK:
        for ledger in found:
            ledger.refuse({"nodes": 1}, where, "one more node")
        for ledger in found:
            ledger.spent["nodes"] += 1


class Holds(Protocol):
    """How a model call's worst case is reserved on ledgers (`llm.budget.Hold`)."""

    def reserve(self, found: list[_Ledger], name: str, prompt: int, answer: int, where: str) -> Any:
        """Reserve `prompt` plus `answer` tokens of model `name`: a hold to settle or release."""


HOLDS: Holds | None = None
"""`llm.budget.Hold`, once `llm.budget` is imported (see the module docstring)."""
