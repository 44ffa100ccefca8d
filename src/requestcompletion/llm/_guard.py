"""The switch that forbids real provider requests (for test suites).

It is process-wide on purpose — a test suite turns it on once and every thread and
task must see it — and it is on when either `block_real_requests()` is active or the
environment has ``RC_BLOCK_REAL_REQUESTS=1``. Requests to loopback hosts (127.0.0.1,
::1, localhost) stay allowed, so tests can still use a local server.

The HTTP providers call `check_request_allowed` before every request; it lives here,
under `llm`, so that providers need not import `rc.testing`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
import urllib.parse
from collections.abc import Iterator

from ..errors import ProviderError

__all__ = ["block_real_requests", "check_request_allowed", "real_requests_blocked"]

ENV_VAR = "RC_BLOCK_REAL_REQUESTS"
_lock = threading.Lock()
_depth = 0


@contextlib.contextmanager
def block_real_requests() -> Iterator[None]:
    """Make every provider request to a non-loopback host fail while the block runs.

    Blocks nest. Set ``RC_BLOCK_REAL_REQUESTS=1`` to get the same for a whole process.
    """
    global _depth
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1


def real_requests_blocked() -> bool:
    """Whether real provider requests are forbidden right now."""
    return _depth > 0 or os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request_allowed(url: str, *, provider: str, model: str) -> None:
    """Raise if real requests are blocked and `url` is not on this machine.

    Raises:
        ProviderError: the request is blocked; nothing was sent.
    """
    if not real_requests_blocked():
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    if _is_loopback(host):
        return
    raise ProviderError(
        f"a real request to {host!r} was blocked",
        provider=provider,
        model=model,
        hint=(
            f"rc.testing.block_real_requests() or {ENV_VAR}=1 is on; use "
            "rc.testing.ScriptedModel, or a server on 127.0.0.1"
        ),
    )
