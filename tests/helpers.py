"""Helpers shared by the tests."""

from __future__ import annotations

import logging
import threading

from requestcompletion.pubsub.delivery import THREAD_NAME as DELIVERY_THREAD


def leftovers() -> list[str]:
    """What a closed runner must not leave behind: rc threads and rc logging handlers.

    The delivery thread of sync subscribers (`rc-delivery`) is the process's, not a
    runner's: it idles out by itself (tests/test_delivery.py checks that it does).
    """
    found = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("rc-") and t.name != DELIVERY_THREAD and t.is_alive()
    ]
    found += [
        repr(h) for h in logging.getLogger("RC").handlers if not isinstance(h, logging.NullHandler)
    ]
    return found
