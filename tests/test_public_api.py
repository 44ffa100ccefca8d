"""The public face: `__all__` is exactly what is exported, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import requestcompletion as rc

PUBLIC = [
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
PUBLIC_MODULES = {"errors", "human", "llm", "mcp", "testing"}


def test_all_lists_the_public_names() -> None:
    assert sorted(rc.__all__) == PUBLIC
    assert len(set(rc.__all__)) == len(rc.__all__)


def test_every_error_class_is_exported() -> None:
    from requestcompletion import errors

    assert set(errors.__all__) <= set(rc.__all__)


def test_every_name_resolves() -> None:
    for name in rc.__all__:
        value = getattr(rc, name)
        assert value is not None, name
        assert isinstance(value, ModuleType) == (name in PUBLIC_MODULES), name
    assert rc.llm.ToolCall is not None and rc.testing.ScriptedModel is not None


def test_nothing_public_is_left_out_of_all() -> None:
    exported = {
        name
        for name, value in vars(rc).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert exported <= set(rc.__all__)


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from requestcompletion import *", namespace)
    assert set(PUBLIC) - {"__version__"} <= set(namespace)


def test_the_testing_package_exports_what_it_lists() -> None:
    for name in rc.testing.__all__:
        assert getattr(rc.testing, name) is not None


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_package_loads_no_pydantic_or_httpx() -> None:
    code = (
        "import sys, requestcompletion as rc\n"
        "heavy = sorted(m for m in ('pydantic', 'httpx', 'pydantic_core') if m in sys.modules)\n"
        "print(heavy)\n"
        "rc.agent_node\n"
        "print('pydantic' in sys.modules, 'httpx' in sys.modules)\n"
    )
    assert run_python(code).splitlines() == ["[]", "True False"]


def test_the_execution_module_exports_the_strategy_seam() -> None:
    from requestcompletion import execution

    assert sorted(execution.__all__) == [
        "AsyncioExecutionStrategy",
        "Coordinator",
        "DistributedExecutionStrategy",
        "Driver",
        "ExecutionStrategy",
        "NodeTask",
        "ThreadedExecutionStrategy",
    ]
    for name in execution.__all__:
        assert getattr(execution, name) is not None
    assert execution.ExecutionStrategy is rc.ExecutionStrategy


def test_the_runners_internals_are_not_its_public_face() -> None:
    for internal in ("request", "run_sync_answer", "end_run", "cancel_reason"):
        assert not hasattr(rc.Runner, internal), internal
    public = {name for name in dir(rc.Runner) if not name.startswith("_")}
    assert public >= {"run", "run_sync", "events", "info", "cancel", "fatal", "loop"}


def test_importing_the_package_loads_no_optional_extra() -> None:
    code = (
        "import sys, requestcompletion as rc\n"
        "extras = ('opentelemetry', 'mcp', 'ray', 'llama_cpp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in extras))\n"
    )
    assert run_python(code) == "[]"
