"""Events and the publisher that delivers them."""

from .events import *  # noqa: F403 - the events module lists exactly what it exports
from .events import __all__ as _events
from .publisher import RCPublisher

__all__ = [*_events, "RCPublisher"]
