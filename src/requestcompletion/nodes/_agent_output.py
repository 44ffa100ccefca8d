"""An agent's final answer: checked against its output schema, then its output validator.

A reply that fails either goes back to the model with the reason, for at most
`output_retries` repair rounds (one by default) in one run: a schema problem lists
what does not fit; a validator says why in the `rc.ModelRetry` it raises. These
rounds are counted apart from `retries`, which bounds malformed tool calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ModelRetry, StructuredOutputError
from ..llm.response import Response

__all__ = ["OutputValidator", "final_output", "repair_prompt"]

OutputValidator = Callable[[Any], Any | Awaitable[Any]]
"""``fn(output) -> output``, sync or async; may raise `rc.ModelRetry`."""

_SCHEMA_REPAIR = (
    "Your reply does not match the required output format: {problems}. "
    "Reply again with only a JSON value that matches the schema."
)
_REJECTED = "Your answer was not accepted: {reason}. Correct it and answer again."


async def final_output(
    output_schema: Any, validator: OutputValidator | None, response: Response
) -> Any:
    """The answer a final reply gives: its text, or its object with a schema, as the
    validator returns it (a validator that returns None keeps it as it was).

    Raises:
        StructuredOutputError: the reply does not fit the schema.
        ModelRetry: the validator rejected it.
    """
    output: Any = response.text if output_schema is None else _structured(output_schema, response)
    if validator is None:
        return output
    checked = validator(output)
    if inspect.isawaitable(checked):
        checked = await checked
    return output if checked is None else checked


def repair_prompt(problem: StructuredOutputError | ModelRetry) -> str:
    """What the model is told when its answer is sent back."""
    if isinstance(problem, ModelRetry):
        return _REJECTED.format(reason=problem)
    return _SCHEMA_REPAIR.format(problems=problem)


def _structured(output_schema: Any, response: Response) -> Any:
    from ..llm.structured import check_structured, parse_structured

    if response.structured is not None:
        return check_structured(output_schema, response.structured)
    if not response.text:
        raise StructuredOutputError("the reply was empty; it must be JSON")
    return parse_structured(output_schema, response.text)
