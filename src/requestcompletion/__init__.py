"""requestcompletion: run agentic workflows as graphs of nodes, recorded and cheap.

Everything a user touches is re-exported here. Importing the package builds
nothing and adds no handler beyond a NullHandler on the `RC` logger.
"""

import logging as _logging

from . import errors
from .config import ExecutorConfig, set_config
from .context import context
from .errors import (
    ConfigError,
    ContextError,
    FatalError,
    GlobalTimeOutError,
    LLMError,
    NodeCancelledError,
    NodeCreationError,
    NodeInvocationError,
    NodeTimeoutError,
    ProviderError,
    RCError,
    RunnerCreationError,
    SavedRunError,
    StructuredOutputError,
    ToolCallLimitError,
)
from .interaction import batch, call, call_sync, stream
from .nodes import Node, function_node
from .pubsub import RCPublisher
from .runner import Runner, Session
from .state import ExecutionInfo

_logging.getLogger("RC").addHandler(_logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ContextError",
    "ExecutionInfo",
    "ExecutorConfig",
    "FatalError",
    "GlobalTimeOutError",
    "LLMError",
    "Node",
    "NodeCancelledError",
    "NodeCreationError",
    "NodeInvocationError",
    "NodeTimeoutError",
    "ProviderError",
    "RCError",
    "RCPublisher",
    "Runner",
    "RunnerCreationError",
    "SavedRunError",
    "Session",
    "StructuredOutputError",
    "ToolCallLimitError",
    "__version__",
    "batch",
    "call",
    "call_sync",
    "context",
    "errors",
    "function_node",
    "set_config",
    "stream",
]
