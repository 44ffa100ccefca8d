"""Retrying provider calls: exponential backoff with jitter, honouring ``Retry-After``.

`RetryPolicy` holds the numbers; `call_with_retries` runs one attempt after another
until one succeeds, an attempt fails for good, or the retries run out. An attempt asks
for another by raising `RetryLater`. The sleep function is injectable so that tests
never wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ProviderError

__all__ = ["RetryLater", "RetryPolicy", "call_with_retries", "parse_retry_after"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a failed provider call.

    Attributes:
        max_retries: retries after the first attempt (0 = never retry).
        base_delay: seconds before the first retry; each later one doubles it.
        max_delay: the longest backoff, in seconds.
        jitter: the fraction of each backoff that is random (0 to 1), so that many
            clients that failed together do not retry together.
        max_retry_after: the longest ``Retry-After`` to honour, in seconds; a server
            asking for a longer wait fails the call at once instead.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter!r}")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("base_delay, max_delay and max_retry_after must be >= 0")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (0 for the first)."""
        ceiling = min(self.max_delay, self.base_delay * float(2**retry))
        return ceiling * (1 - self.jitter) + ceiling * self.jitter * rand()


class RetryLater(Exception):
    """Raised by an attempt that failed in a way worth retrying.

    Attributes:
        error: the error to raise if no retry is left.
        retry_after: seconds the server asked to wait, if it said.
    """

    def __init__(self, error: ProviderError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


async def call_with_retries(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[object]],
) -> T:
    """Run `attempt(number)` (numbered from 1) until it returns or fails for good.

    Raises:
        ProviderError: an attempt failed for good, the retries ran out (the last
            attempt's error), or the server asked to wait longer than allowed.
    """
    number = 1
    while True:
        try:
            return await attempt(number)
        except RetryLater as failure:
            if number > policy.max_retries:
                raise failure.error from failure.__cause__
            if failure.retry_after is not None:
                if failure.retry_after > policy.max_retry_after:
                    error = failure.error
                    raise ProviderError(
                        f"the server asked to wait {failure.retry_after:g}s before retrying, "
                        f"longer than max_retry_after={policy.max_retry_after:g}s",
                        provider=error.provider,
                        model=error.model,
                        status=error.status,
                        hint="try again later, or raise RetryPolicy.max_retry_after",
                    ) from failure.__cause__
                delay = failure.retry_after
            else:
                delay = policy.backoff(number - 1)
            await sleep(delay)
            number += 1


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
