"""A remote agent's model calls, as the driver announces and records them.

An agent on a Ray worker has no runner, so it cannot publish its model events or
keep its model calls in the run's state itself. Its link sends them here
(`ModelAsked`, `ModelChunk`, `ModelStreamed`, `ModelReplied`, in order with the
node's other messages), and `NodeModelCalls` does under the node's real record
what a local agent does (`nodes._agent_loop`): the `LLMRequestStarted`,
`LLMChunk` and `LLMResponseReceived` events on the run's publisher, the node's
``extras["llm"]`` usage (priced here, where the run's prices and budgets are),
and its ``extras["model_calls"]``, which `Runner.from_state` replays: a resumed
run answers the worker's `Recall` from them, so a replayed call never leaves it.

The model package sits above the strategies, so this module knows prices only
through `PRICE`, which the agents set when they are imported (they always are
on the driver before a remote agent runs: its node type was made there).

What travels is decided at the node's start (`reports`): the conversation only
when the publisher has a subscriber, the digests only when the run is saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ....pubsub.events import LLMChunk, LLMRequestStarted, LLMResponseReceived
from .messages import ModelAsked, ModelChunk, ModelReplied, ModelStreamed, Recall, Reports
from .sync import loads

__all__ = ["PRICE", "NodeModelCalls"]

_now = time.perf_counter


def _unpriced(model: str, usage: Any) -> float | None:
    return None


PRICE: Callable[[str, Any], float | None] = _unpriced
"""What `usage` (an `llm.Usage`) of `model` cost in US dollars, or None when unknown:
`llm.pricing.cost`, once the agents are imported (`nodes._agent_loop` sets it)."""


class NodeModelCalls:
    """The model calls of one remote node's run, told to its run on the driver.

    Args:
        runner: the run (None: nobody to tell).
        record: the remote node's record on the driver.
    """

    def __init__(self, runner: Any, record: Any) -> None:
        self.runner = runner
        self.record = record
        self._history: list[Any] = []  # the agent's conversation, as far as it was sent
        self._cost: float | None = 0.0  # of the calls so far, at the driver's prices

    def reports(self) -> Reports | None:
        """What the worker must send of the node's model calls (None: nothing to tell)."""
        runner, record = self.runner, self.record
        if runner is None or record is None:
            return None
        # only a node that matched a recorded one can have recorded responses: the
        # others need not ask for them, a round trip per model call
        replay = runner.state.replay
        recorded = replay is not None and record.id in replay.matched
        return Reports(runner.publisher.active, runner.config.save_state, recorded)

    def apply(self, message: ModelAsked | ModelChunk | ModelStreamed | ModelReplied) -> None:
        """Announce or record what the remote agent told of a model call."""
        runner, record = self.runner, self.record
        if runner is None or record is None:
            return
        if isinstance(message, ModelReplied):
            self._replied(runner, record, message)
        elif isinstance(message, ModelStreamed):
            runner.state.add_streamed(record, message.whole, publish=False)
        elif runner.publisher.active:
            if isinstance(message, ModelAsked):
                del self._history[message.start :]
                self._history.extend(loads(message.blob))
                event: Any = LLMRequestStarted(
                    runner.run_id,
                    *who(record),
                    _now(),
                    message.provider,
                    message.model,
                    len(self._history),
                    self._history,  # grows like a local agent's: `sent` reads this call's
                    _scrub(record),
                    kind="agent",
                )
            else:
                piece = loads(message.blob)  # the `llm.Chunk`, the item of its Streamed event
                event = LLMChunk(
                    runner.run_id, *who(record), _now(), piece, piece.text, kind="agent"
                )
            runner.publisher.publish(event)

    async def recalled(self, message: Recall) -> dict[str, Any] | None:
        """The recorded response to the remote agent's request, when the run has one."""
        replay = None if self.runner is None else self.runner.state.replay
        if replay is None or self.record is None:
            return None
        found: dict[str, Any] | None = replay.model_response(self.record, message.digest)
        return found

    def _replied(self, runner: Any, record: Any, message: ModelReplied) -> None:
        response = loads(message.blob)  # an `llm.Response`
        model, usage, accounts = message.model, response.usage, message.accounts
        cost = PRICE(model, usage)
        self._cost = None if cost is None or self._cost is None else self._cost + cost
        accounts["cost"] = self._cost  # the run's prices are the driver's (as its budgets')
        runner.state.extras.setdefault(record.id, {})["llm"] = accounts
        if message.digest is not None:
            runner.state.model_call(record, message.digest, response.to_dict())
        if runner.publisher.active:
            runner.publisher.publish(
                LLMResponseReceived(
                    runner.run_id,
                    *who(record),
                    _now(),
                    accounts.get("provider", ""),
                    model,
                    usage.input_tokens,
                    usage.output_tokens,
                    response.latency,
                    cost,
                    response.finish_reason,
                    response,
                    kind="agent",
                )
            )


def who(record: Any) -> tuple[int, str, int | None]:
    """(node id, node name, parent id) of the remote node, for its events."""
    return record.id, record.spec.name, record.parent_id


def _scrub(record: Any) -> Callable[[str], str]:
    """The agent's model's `scrub`: the driver holds the same model, in the agent node
    type's `agent` config (read by name: agents sit above the strategies)."""
    llm = getattr(getattr(record.spec.node, "agent", None), "llm", None)
    scrub = getattr(llm, "scrub", None)
    return scrub if callable(scrub) else _unchanged


def _unchanged(text: str) -> str:
    return text
