"""Credentials a provider holds: `Secret`, which never shows itself, and which headers are secret.

An HTTP provider keeps its API key, and every header whose name says it carries a
credential, as a `Secret`, and scrubs them (and their long parts) from every text it
lets out: errors, logs, and captured message contents (`HTTPModel.scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SECRET_HEADER", "Secret", "secret_parts"]

# header names whose values are credentials: scrubbed from errors and logs like api_key
SECRET_HEADER = re.compile(
    r"auth|key|token|secret|passw|cookie|session|signature|credential", re.IGNORECASE
)


class Secret:
    """A string that never shows itself in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; only for the request header."""
        return self._value

    def scrub(self, text: str) -> str:
        """`text` with every occurrence of the secret replaced by ``***``."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def secret_parts(values: Iterable[str | Secret]) -> list[Secret]:
    """The secret header values, longest first, and their long parts ("Bearer <token>",
    "session=<id>"): a server may echo only the token."""
    parts: set[str] = set()
    for value in values:
        if isinstance(value, Secret):
            whole = value.reveal()
            parts.add(whole)
            parts.update(part for part in re.split(r"[\s=;,:]+", whole) if len(part) >= 8)
    return [Secret(part) for part in sorted(parts, key=len, reverse=True) if part]
