"""Budgets: what a run, or one agent and everything under it, may spend on models.

    budget = rc.Budget(max_cost=2.00, max_tokens=200_000, max_model_calls=100, max_nodes=500)
    async with rc.Runner(budget=budget) as runner: ...        # the whole run
    Researcher = rc.agent_node("researcher", llm=..., budget=rc.Budget(max_cost=0.10))

A run's budget counts every model call and node of the run. An agent's budget
counts, for each invocation of the agent, its own model calls and those of every
node under it (sub-agents share it), and the nodes created under it. All the
budgets a call is under apply at once.

**Reserve, then settle.** Checking after each response lets parallel branches
overshoot: fifty calls in flight all passed the check before any of them was paid
for. So each model call reserves its worst case on every budget it is under before
it is sent, and is refused (`BudgetExceededError`, in the calling node) if spent
plus reserved plus its worst case would pass a limit. When the response arrives
the reservation is replaced by the real usage; a call that fails releases it.

**The worst case of a call** is its prompt tokens plus the most it may answer:

* prompt tokens are counted from the request as the UTF-8 bytes of its JSON form
  (every message, every tool's name, description and parameter schema, and the
  output schema) plus `MESSAGE_OVERHEAD` tokens per message and per tool. A token
  of a byte-level tokenizer always covers at least one byte, so this is an upper
  bound, and a generous one (about four times the real count for English): a
  budget refuses early rather than overshoot;
* the answer is at most the model's ``max_tokens`` (the attribute of the Anthropic
  and local models, or ``settings={"max_tokens": ...}`` of an OpenAI-compatible
  one), else `DEFAULT_MAX_OUTPUT`. Give the model a ``max_tokens`` to make that a
  bound the provider enforces; a reply longer than what was reserved is counted as
  it was, and the calls after it are refused.

A cost limit needs the model's price (`requestcompletion.llm.pricing`); a model
whose price is unknown is an error at its first call.

**On a Ray worker** (an agent with ``mode="distributed"``) there is no runner: the
budgets stay on the driver, and the worker asks for them (`reserve`). The worker
counts the call's prompt tokens and takes its ``max_tokens``; the driver reserves
(or refuses) under the remote node, as for a local one, and answers before the
request leaves the worker: a round trip per model call, made only when a budget
applies. Settling and releasing travel back in order with the node's other
messages, so they are counted before the node's result is. Prices are looked up on
the driver, so a price registered there holds for remote calls too. An agent's own
budget opens on the driver too, and covers the children it calls back there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from .. import budgets
from ..budgets import LOCK, Budget, check_budget, count_node, ledgers
from ..context import current_host
from ..errors import ConfigError
from .pricing import Price, price_for
from .response import Usage

if TYPE_CHECKING:
    from ..budgets import _Ledger
    from ..runner import Runner
    from ..state.records import NodeRecord
    from .messages import Message
    from .model import ModelBase
    from .tools import Tool

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "MESSAGE_OVERHEAD",
    "Budget",
    "Hold",
    "Reservation",
    "agent_scope",
    "check_budget",
    "count_node",
    "reserve",
]

DEFAULT_MAX_OUTPUT = 4096
"""Output tokens reserved for a call whose model sets no ``max_tokens``."""
MESSAGE_OVERHEAD = 8
"""Tokens counted per message and per tool on top of its bytes (role, separators)."""


class Hold:
    """What one model call has reserved; `settle` or `release` it exactly once."""

    __slots__ = ("ledgers", "needs", "price")

    def __init__(self, ledgers: list[_Ledger], needs: dict[str, float], price: Price | None):
        self.ledgers = ledgers
        self.needs = needs
        self.price = price  # the asked model's, for a reply naming a model of unknown price

    @classmethod
    def reserve(cls, found: list[_Ledger], name: str, prompt: int, answer: int, where: str) -> Hold:
        """Reserve `prompt` plus `answer` tokens of model `name` on the ledgers `found`.

        Raises:
            BudgetExceededError: the call would go over a limit.
            ConfigError: a cost limit applies and the model's price is unknown.
        """
        price = price_for(name)
        if price is None and any(ledger.budget.max_cost is not None for ledger in found):
            raise ConfigError(
                f"{where}: a budget with max_cost applies, but the price of model {name!r} "
                f"is unknown. Give it before the run with "
                f"requestcompletion.llm.register_price({name!r}, input_per_million=..., "
                f"output_per_million=...) (see requestcompletion/llm/pricing.py), or drop "
                f"max_cost"
            )
        needs: dict[str, float] = {
            "cost": 0.0 if price is None else price.cost(Usage(prompt, answer)) or 0.0,
            "tokens": prompt + answer,
            "model_calls": 1,
        }
        detail = (
            f"{prompt} prompt tokens counted from the request as its bytes, plus max_tokens "
            f"{answer}"
        )
        with LOCK:
            for ledger in found:
                ledger.refuse(needs, where, detail)
            for ledger in found:
                for amount, need in needs.items():
                    ledger.reserved[amount] += need
        return cls(found, needs, price)

    def release(self) -> None:
        """The call failed: free what it reserved."""
        with LOCK:
            for ledger in self.ledgers:
                ledger.unreserve(self.needs)

    def settle(self, model: str, usage: Usage) -> None:
        """The response came: count its real usage in place of the reservation.

        A provider that did not report its tokens is charged the worst case reserved.
        """
        price = price_for(model) or self.price
        tokens = usage.total_tokens
        if tokens is None:
            tokens = int(self.needs["tokens"])
            cost: float | None = self.needs["cost"] if price is not None else None
        else:
            cost = None if price is None else price.cost(usage)
        with LOCK:
            for ledger in self.ledgers:
                ledger.unreserve(self.needs)
                spent = ledger.spent
                spent["tokens"] += tokens
                spent["model_calls"] += 1
                spent["cost"] = (
                    None if cost is None or spent["cost"] is None else spent["cost"] + cost
                )


class Reservation(Protocol):
    """What one model call reserved: a `Hold` here, or one held on the driver."""

    def release(self) -> None:
        """The call failed: free what it reserved."""

    def settle(self, model: str, usage: Usage) -> None:
        """The response came: count its real usage in place of the reservation."""


async def reserve(
    runner: Runner | None,
    record: NodeRecord | None,
    llm: ModelBase,
    messages: Sequence[Message],
    tools: Sequence[Tool] | None,
    output_schema: Any,
    where: Callable[[], str],
) -> Reservation | None:
    """Reserve a model call's worst case on every budget over `record`; None if none.

    With a runner, here (`Hold.reserve`); on a Ray worker, on the driver, through the
    node's link to it, when a budget applies there.

    Raises:
        BudgetExceededError: the call would go over a limit.
        ConfigError: a cost limit applies and the model's price is unknown.
    """
    if runner is not None:
        found = ledgers(runner, record)
        if not found:
            return None
        prompt = prompt_tokens(messages, tools, output_schema)
        return Hold.reserve(found, llm.model_name, prompt, max_output(llm), where())
    host: Any = current_host.get()
    if not getattr(host, "budgeted", False):  # not on a worker, or no budget over it
        return None
    prompt = prompt_tokens(messages, tools, output_schema)
    held: Reservation = await host.reserve(llm.model_name, prompt, max_output(llm), where())
    return held


@contextmanager
def agent_scope(runner: Runner | None, record: NodeRecord | None, budget: Budget) -> Iterator[None]:
    """While an agent runs: its budget covers it and every node under it.

    On a Ray worker the budget opens on the driver, under the remote node, so the
    children it calls there are counted too.
    """
    host: Any = current_host.get()
    if runner is None and hasattr(host, "open_budget"):
        host.open_budget(budget)
        try:
            yield
        finally:
            host.close_budget()
        return
    with budgets.agent_scope(runner, record, budget):
        yield


budgets.HOLDS = Hold  # how the distributed strategy reserves for calls made on workers


def prompt_tokens(
    messages: Sequence[Message], tools: Sequence[Tool] | None, output_schema: Any
) -> int:
    """An upper bound of the request's prompt tokens (see the module docstring)."""
    count = 0
    for message in messages:
        count += _size(message.to_dict()) + MESSAGE_OVERHEAD
    for tool in tools or ():
        count += _size([tool.name, tool.description, tool.parameters]) + MESSAGE_OVERHEAD
    if output_schema is not None:
        from .structured import output_json_schema

        count += _size(output_json_schema(output_schema)) + MESSAGE_OVERHEAD
    return count


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def max_output(llm: ModelBase) -> int:
    """The most tokens the model's answer may have, as the model is set up."""
    limit = getattr(llm, "max_tokens", None)
    settings = getattr(llm, "settings", None)
    if limit is None and isinstance(settings, dict):
        limit = settings.get("max_tokens", settings.get("max_completion_tokens"))
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return DEFAULT_MAX_OUTPUT
