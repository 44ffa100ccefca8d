"""requestcompletion: run agentic workflows as graphs of nodes, recorded and cheap.

Everything a user touches is re-exported here. Importing the package builds
nothing and adds no handler beyond a NullHandler on the `RC` logger. The LLM side
(`agent_node`, `AgentResult`, the `llm` and `testing` modules) loads on first use,
so that programs without agents never import pydantic or httpx.
"""

import importlib as _importlib
import logging as _logging
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from . import errors, human
from . import runner as _runner
from .config import ExecutorConfig, set_config
from .context import context
from .errors import (
    BudgetExceededError,
    ClusterError,
    ConfigError,
    ContextError,
    FatalError,
    GlobalTimeOutError,
    HumanInputError,
    LLMError,
    MCPError,
    MissingExtraError,
    ModelRetry,
    NodeCancelledError,
    NodeCreationError,
    NodeInvocationError,
    NodeTimeoutError,
    ProviderError,
    RCError,
    RemoteNodeError,
    RunnerCreationError,
    SavedRunError,
    StructuredOutputError,
    ToolArgumentsError,
    ToolCallLimitError,
    TurnLimitError,
)
from .execution import ExecutionStrategy
from .human import ask, ask_sync
from .interaction import batch, call, call_sync, stream
from .nodes import Node, function_node, node_kind
from .pubsub import RCPublisher
from .runner import Runner, Session
from .state import ExecutionInfo

if _TYPE_CHECKING:
    from . import llm, mcp, testing
    from .llm.budget import Budget
    from .nodes.agent import AgentResult, agent_node

_logging.getLogger("RC").addHandler(_logging.NullHandler())


def _open_viewer(runner: Runner) -> None:
    """`ExecutorConfig(viz=True)`: the viewer is loaded only by runs that ask for it."""
    if runner.config.viz:
        from .viz.live import open_for

        open_for(runner)


_runner.open_hooks = (*_runner.open_hooks, _open_viewer)

__version__ = "0.1.0"

__all__ = [
    "AgentResult",
    "Budget",
    "BudgetExceededError",
    "ClusterError",
    "ConfigError",
    "ContextError",
    "ExecutionInfo",
    "ExecutionStrategy",
    "ExecutorConfig",
    "FatalError",
    "GlobalTimeOutError",
    "HumanInputError",
    "LLMError",
    "MCPError",
    "MissingExtraError",
    "ModelRetry",
    "Node",
    "NodeCancelledError",
    "NodeCreationError",
    "NodeInvocationError",
    "NodeTimeoutError",
    "ProviderError",
    "RCError",
    "RCPublisher",
    "RemoteNodeError",
    "Runner",
    "RunnerCreationError",
    "SavedRunError",
    "Session",
    "StructuredOutputError",
    "ToolArgumentsError",
    "ToolCallLimitError",
    "TurnLimitError",
    "__version__",
    "agent_node",
    "ask",
    "ask_sync",
    "batch",
    "call",
    "call_sync",
    "context",
    "errors",
    "function_node",
    "human",
    "llm",
    "mcp",
    "node_kind",
    "set_config",
    "stream",
    "testing",
]

# name -> (module, attribute or None for the module itself), imported on first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "AgentResult": (".nodes.agent", "AgentResult"),
    "agent_node": (".nodes.agent", "agent_node"),
    "Budget": (".llm.budget", "Budget"),
    "llm": (".llm", None),
    "mcp": (".mcp", None),
    "testing": (".testing", None),
}


def __getattr__(name: str) -> _Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _importlib.import_module(where[0], __name__)
    value = module if where[1] is None else getattr(module, where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
