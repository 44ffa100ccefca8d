"""What model calls cost, in US dollars, from a small price table you can extend.

Prices are per million tokens and change often: the built-in table is a convenience,
not a bill. Add or correct a price with `register_price`. A model the table does not
know costs None — unknown — never 0; so do tokens the provider did not report.

Lookup tries the name as given, then without a ``provider/`` prefix (OpenRouter
style), then without a trailing date (``gpt-4o-2024-08-06`` → ``gpt-4o``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .response import Usage

__all__ = ["Price", "cost", "price_for", "register_price"]


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million input and output tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float | None:
        """The price of `usage` in US dollars, or None when its tokens are unknown."""
        if usage.input_tokens is None or usage.output_tokens is None:
            return None
        return (
            usage.input_tokens * self.input_per_million
            + usage.output_tokens * self.output_per_million
        ) / 1_000_000


# list prices as published by the providers (mid 2025); correct them with register_price
_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
}

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def register_price(model: str, input_per_million: float, output_per_million: float) -> None:
    """Set the price of `model` (US dollars per million tokens), replacing any known one.

    Raises:
        ValueError: a price is negative.
    """
    if input_per_million < 0 or output_per_million < 0:
        raise ValueError(
            f"prices must be >= 0, got {input_per_million!r} and {output_per_million!r} "
            f"for {model!r}"
        )
    _PRICES[model] = Price(float(input_per_million), float(output_per_million))
    _FOUND.clear()


# the answers of price_for, by model name: agents ask once per model call
_FOUND: dict[str, Price | None] = {}


def price_for(model: str) -> Price | None:
    """The price of `model`, or None when the table does not know it."""
    try:
        return _FOUND[model]
    except KeyError:
        pass
    bare = model.rsplit("/", 1)[-1]
    found = next(
        (_PRICES[name] for name in (model, bare, _DATE_SUFFIX.sub("", bare)) if name in _PRICES),
        None,
    )
    if len(_FOUND) < 1_000:  # model names come from servers: keep the memo bounded
        _FOUND[model] = found
    return found


def cost(model: str, usage: Usage) -> float | None:
    """What `usage` of `model` cost in US dollars, or None when the price or the tokens
    are unknown."""
    price = price_for(model)
    return None if price is None else price.cost(usage)
