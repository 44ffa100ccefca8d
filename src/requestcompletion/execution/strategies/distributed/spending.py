"""The run's budgets, as a node on a Ray worker spends them: kept and counted on the driver.

A remote node has no runner, so its model calls cannot reserve on the run's
ledgers themselves. Each asks with a `Reserve` message (answered before the
request leaves the worker); `Settle` and `Release` follow in order with the
node's other messages. `NodeBudgets` applies them under the remote node's
record, exactly as `llm.budget.reserve` does for a local node, so the run's
budget and the budgets of the agents above it count the call, and parallel
remote calls cannot overshoot them. A remote agent with a budget of its own
opens it here (`OpenBudget`), where the children it calls back run.
"""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from typing import Any

from .... import budgets
from ....budgets import agent_scope, ledgers
from .messages import CloseBudget, OpenBudget, Release, Reserve, Settle
from .sync import loads

__all__ = ["NodeBudgets"]

NO_HOLD = -1  # the answer to a Reserve when no budget applies after all


class NodeBudgets:
    """The holds and the own budget of one remote node's run.

    Args:
        runner: the run (None: no budgets to count in).
        record: the remote node's record on the driver.
    """

    def __init__(self, runner: Any, record: Any) -> None:
        self.runner = runner
        self.record = record
        self._holds: dict[int, Any] = {}  # number -> its `llm.budget.Hold`
        self._ids = itertools.count()
        self._scope: ExitStack | None = None

    def applies(self) -> bool:
        """Does any budget cover the node now (so its model calls must ask here)?"""
        return self.runner is not None and bool(ledgers(self.runner, self.record))

    def reserve(self, message: Reserve) -> int:
        """Reserve the call's worst case: the id of its hold.

        Raises:
            BudgetExceededError: the call would go over a limit.
            ConfigError: a cost limit applies and the model's price is unknown.
        """
        found = [] if self.runner is None else ledgers(self.runner, self.record)
        holds = budgets.HOLDS
        if not found or holds is None:  # None: no agent was ever imported here
            return NO_HOLD
        hold = holds.reserve(
            found, message.model, message.prompt_tokens, message.max_output, message.where
        )
        number = next(self._ids)
        self._holds[number] = hold
        return number

    async def reserved(self, message: Reserve) -> int:
        """`reserve`, as the work whose outcome answers the worker."""
        return self.reserve(message)

    def apply(self, message: Settle | Release | OpenBudget | CloseBudget) -> None:
        """A settlement, a release, or the node's own budget opening or closing."""
        if isinstance(message, Settle):
            hold = self._holds.pop(message.hold, None)
            if hold is not None:
                hold.settle(message.model, loads(message.blob))
        elif isinstance(message, Release):
            hold = self._holds.pop(message.hold, None)
            if hold is not None:
                hold.release()
        elif isinstance(message, OpenBudget):
            if self.runner is not None and self._scope is None:
                self._scope = ExitStack()
                self._scope.enter_context(
                    agent_scope(self.runner, self.record, loads(message.blob))
                )
        elif self._scope is not None:
            self._scope.close()
            self._scope = None

    def close(self) -> None:
        """The node's run is over (or lost with its worker): free what it still holds."""
        holds, self._holds = self._holds, {}
        for hold in holds.values():
            hold.release()
        if self._scope is not None:
            self._scope.close()
            self._scope = None
