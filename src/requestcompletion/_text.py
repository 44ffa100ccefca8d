"""Showing text that came from a run (a node's output, an error, a run id) safely.

Saved and logged text is data: printed as it is, an ESC sequence would drive the
terminal, a newline would forge a log line, a bidi override would reorder what a
reader sees. The CLI and the log both show such text through `escape_controls`.
"""

from __future__ import annotations

__all__ = ["escape_controls", "safe_repr"]


def escape_controls(text: str) -> str:
    """`text` with every non-printable character escaped as Python would write it in a
    literal (``\\x1b``, ``\\n``, ``\\u202e``); printable text is returned as it is."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def safe_repr(value: object, limit: int = 300) -> str:
    """`repr(value)` cut to about `limit` characters, for an error message about a
    user's value; never raises (a value whose `__repr__` raises is shown by its type)."""
    try:
        text = repr(value)
    except Exception as error:  # a user's __repr__: the message about it must still be made
        return f"<{type(value).__name__} object (its repr raised {type(error).__name__})>"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
