"""A run's records: the live state, the views handed to users, saving and loading."""

from .info import ExecutionInfo, TimingSummary
from .records import Edge, ErrorInfo, NodeInfo, NodeRecord, Stamp
from .state import RCState

__all__ = [
    "Edge",
    "ErrorInfo",
    "ExecutionInfo",
    "NodeInfo",
    "NodeRecord",
    "RCState",
    "Stamp",
    "TimingSummary",
]
