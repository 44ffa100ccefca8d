"""What an agent running on a Ray worker tells the driver about its model calls.

On a worker there is no runner: no publisher, no state. The node's link to the
driver (the distributed strategy's `WorkerLink`, its `context.current_host`)
carries the model calls there instead, where the driver publishes their events
and records them under the node's real record, as a local agent does itself.
This module holds only the shape of that link as the agent loop sees it: it
sits in the nodes' layer, below the strategies and the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..context import current_host

__all__ = ["ModelReports", "model_reports"]


@runtime_checkable
class ModelReports(Protocol):
    """Where a remote agent's model calls go (the driver, through the node's link).

    Attributes:
        events: whether the driver's publisher had a subscriber when the node
            started: only then do `asked` and `chunk` send anything.
        saved: whether the run keeps each call's request digest (for replay).
        replay: whether the run is resumed and the node matched a recorded one: ask
            `recorded` before calling the model.
    """

    events: bool
    saved: bool
    replay: bool

    def asked(self, provider: str, model: str, history: Sequence[Any]) -> None:
        """A model call leaves with `history` (the agent's whole conversation)."""

    def chunk(self, piece: Any) -> None:
        """A piece of a streamed reply came (its `llm.Chunk`)."""

    def streamed(self, whole: dict[str, Any]) -> None:
        """What the run records of one streamed reply."""

    def replied(
        self, model: str, digest: str | None, accounts: dict[str, Any] | None, response: Any
    ) -> None:
        """The call was answered (by `model`, with this `llm.Response`); `digest` when the
        run is saved; `accounts` the agent's totals so far (its ``extras["llm"]``)."""

    async def recorded(self, digest: str) -> dict[str, Any] | None:
        """The recorded response to the request with this digest, if the run has one."""


def model_reports() -> ModelReports | None:
    """The link to the driver, when this agent runs on a Ray worker; else None."""
    host = current_host.get()
    return host if isinstance(host, ModelReports) else None
