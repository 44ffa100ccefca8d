"""Helpers shared by the tests."""

from __future__ import annotations

import logging
import threading


def leftovers() -> list[str]:
    """What a closed runner must not leave behind: rc threads and rc logging handlers."""
    found = [t.name for t in threading.enumerate() if t.name.startswith("rc-") and t.is_alive()]
    found += [
        repr(h) for h in logging.getLogger("RC").handlers if not isinstance(h, logging.NullHandler)
    ]
    return found
