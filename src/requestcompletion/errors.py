"""Every exception requestcompletion raises, in one tree.

::

    RCError                          base of everything below
    ├── misuse: the program is wrong; fix the code or the configuration
    │   ├── ConfigError              (also ValueError, TypeError) a bad ExecutorConfig value
    │   ├── NodeCreationError        (also TypeError) a node could not be built from its arguments
    │   ├── ContextError             (also RuntimeError) a runner-only helper used outside a runner
    │   ├── RunnerCreationError      (also RuntimeError) a runner opened where it cannot be
    │   ├── SavedRunError            (also ValueError) a saved run file cannot be read
    │   └── MissingExtraError        (also ImportError) an optional extra is not installed
    ├── ModelRetry                   raised by a user's validator or tool: "model, try again"
    └── run-time failures: the run went wrong; each carries `info`, what the run had done so far
        ├── NodeInvocationError      a node failed in a way that is not its own exception
        │   ├── NodeCancelledError   the node was cancelled (runner.cancel, or a per-node timeout)
        │   ├── NodeTimeoutError     the node's own `timeout` expired
        │   └── RemoteNodeError      a node on a Ray worker: its worker died, or its exception
        │                            type cannot be rebuilt on the driver
        ├── ClusterError             the Ray cluster cannot be reached, started, or run the node
        ├── GlobalTimeOutError       (also TimeoutError) a top-level request ran past `timeout`
        ├── FatalError               raise it in a node to end the whole run
        ├── MCPError                 an MCP server could not be reached, refused a call, or
        │                            offers a tool whose schema rc cannot express
        ├── BudgetExceededError      a model call or a node would go over an `rc.Budget`
        ├── HumanInputError          the human handler's answers did not fit the schema
        └── LLMError                 a model could not give a usable answer
            ├── ProviderError        the provider failed: HTTP status, timeout, bad body
            ├── ToolArgumentsError   a tool call did not fit its tool (goes back to the model)
            ├── ToolCallLimitError   an agent asked for more tool calls than `max_tool_calls`
            ├── TurnLimitError       an agent asked its model `max_turns` times with no answer
            └── StructuredOutputError the reply did not match the output schema, even after repair

Outside the tree: `rc.human.QuestionPending`, a `BaseException` (like
`CancelledError`): not a failure but a question left open, which ends the run
`waiting`. It is defined here, exported from `rc.human`, so that the execution
layer can tell it from a node's failure.

Misuse errors also derive from the builtin a caller would naturally catch
(`ValueError`, `TypeError`, `RuntimeError`), so `except ValueError` around a bad
config still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state.info import ExecutionInfo

__all__ = [
    "BudgetExceededError",
    "ClusterError",
    "ConfigError",
    "ContextError",
    "FatalError",
    "GlobalTimeOutError",
    "HumanInputError",
    "LLMError",
    "MCPError",
    "MissingExtraError",
    "ModelRetry",
    "NodeCancelledError",
    "NodeCreationError",
    "NodeInvocationError",
    "NodeTimeoutError",
    "ProviderError",
    "RCError",
    "RemoteNodeError",
    "RunnerCreationError",
    "SavedRunError",
    "StructuredOutputError",
    "ToolArgumentsError",
    "ToolCallLimitError",
    "TurnLimitError",
]


class RCError(Exception):
    """Base of every error requestcompletion raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its args and attributes, not by calling __init__ again: many
        # take keyword-only fields, which pickle's default (`cls(*args)`) cannot
        # give, and errors travel between the driver and Ray workers as pickles.
        return (_rebuilt, (type(self), self.args), self.__dict__ or None)


def _rebuilt(kind: type[RCError], args: tuple[Any, ...]) -> RCError:
    error = kind.__new__(kind, *args)
    error.args = args
    return error


# --- misuse ---------------------------------------------------------------


class ConfigError(RCError, ValueError, TypeError):
    """A configuration value is not allowed. The message names the field."""


class NodeCreationError(RCError, TypeError):
    """A node could not be built from the arguments it was called with."""


class ContextError(RCError, RuntimeError):
    """A helper that needs an active runner (rc.stream, rc.context, ...) ran outside one."""


class RunnerCreationError(RCError, RuntimeError):
    """A runner was opened where it cannot be (inside another active runner, say)."""


class SavedRunError(RCError, ValueError):
    """A saved run cannot be read: missing, not JSON, not a run, or from a newer version."""


class MissingExtraError(RCError, ImportError):
    """An optional extra is needed and not installed. The message gives the pip command."""


# --- run-time failures ------------------------------------------------------


class RunError(RCError):
    """A failure of the run itself.

    `info` is the run it ended (its `ExecutionInfo`), set when the error leaves a
    runner's request (`run`, `run_sync`); None while it travels inside nodes.
    """

    info: ExecutionInfo | None = None


class NodeInvocationError(RunError):
    """A node could not finish for a reason other than its own exception."""


class NodeCancelledError(NodeInvocationError):
    """The node was cancelled before it finished."""


class NodeTimeoutError(NodeInvocationError, TimeoutError):
    """The node ran past its own `timeout`."""


class RemoteNodeError(NodeInvocationError):
    """A node that ran on a Ray worker failed in a way its own exception cannot show.

    Its worker process died, or it raised an exception whose type cannot be
    rebuilt on the driver (then `remote_type` names it).

    Attributes:
        remote_type: the remote exception's ``module.QualName``, or None.
        remote_traceback: the traceback as formatted on the worker ("" if none).
    """

    def __init__(
        self, message: str, *, remote_type: str | None = None, remote_traceback: str = ""
    ) -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_remote_error, (str(self), self.remote_type, self.remote_traceback))


def _rebuild_remote_error(message: str, remote_type: str | None, text: str) -> RemoteNodeError:
    return RemoteNodeError(message, remote_type=remote_type, remote_traceback=text)


class ClusterError(RunError):
    """The Ray cluster cannot be reached or started in time, or cannot place the node."""


class GlobalTimeOutError(RunError, TimeoutError):
    """A top-level request ran past the runner's `timeout`; everything under it was cancelled."""


class FatalError(RunError):
    """Raise it in a node to end the whole run, whatever `end_on_error` says."""


class MCPError(RunError):
    """An MCP server failed: it could not be reached, a tool call failed or timed out, or a
    tool's input schema cannot be expressed (`rc.mcp`). An agent's tool that raises it
    shows the message to the model."""


class BudgetExceededError(RunError):
    """A model call (or a new node) would take a run or an agent over its `rc.Budget`.

    It is raised in the calling node before anything is sent, so nothing was paid
    for the refused call.

    Attributes:
        limit: the budget field that refused, e.g. ``"max_cost"``.
        allowed: that field's value.
        spent: what calls that finished had used of it when the call was refused.
        reserved: what calls still in flight held reserved of it.
        needed: what the refused call asked for (its worst case).
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        allowed: float,
        spent: float,
        reserved: float,
        needed: float,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.allowed = allowed
        self.spent = spent
        self.reserved = reserved
        self.needed = needed


class HumanInputError(RunError):
    """`rc.ask`: the human handler's answers did not fit the question's schema."""


class LLMError(RunError):
    """A model could not give a usable answer.

    Attributes:
        history: when an agent raised it, the conversation so far (a `MessageHistory`).
    """

    history: Any = None


class ProviderError(LLMError):
    """A model provider failed.

    Attributes:
        provider: the provider's name, e.g. ``"openai"``.
        model: the model that was asked.
        status: the HTTP status, or None when no response arrived.
        hint: what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        hint: str = "",
        retryable: bool = False,
    ) -> None:
        text = f"{provider} model {model!r}: {message}"
        if status is not None:
            text += f" (HTTP {status})"
        if hint:
            text += f". {hint}"
        super().__init__(text)
        self.provider = provider
        self.model = model
        self.status = status
        self.hint = hint
        self.retryable = retryable


class ToolArgumentsError(LLMError):
    """A model's tool call named no such tool, or its arguments did not fit the tool's schema.

    The message is written for the model: an agent sends it back as the tool's result.

    Attributes:
        tool: the tool's name as the model gave it.
    """

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


class ToolCallLimitError(LLMError):
    """An agent reached `max_tool_calls`. `history` holds the conversation so far.

    Attributes:
        history: the conversation; its last message is the turn over the limit.
        not_run: the tool calls of that turn, none of which ran.
    """

    def __init__(self, message: str, *, history: Any = None, not_run: Any = ()) -> None:
        super().__init__(message)
        self.history = history
        self.not_run = not_run


class TurnLimitError(LLMError):
    """An agent asked its model `max_turns` times without a final answer.

    Attributes:
        history: the conversation so far.
    """

    def __init__(self, message: str, *, history: Any = None) -> None:
        super().__init__(message)
        self.history = history


class ModelRetry(RCError):
    """Raise it in an output validator or a tool to send the model back with the reason.

    ``raise rc.ModelRetry("the date must be in the future")``: the model reads the
    message and tries again, within the agent's `output_retries` (an output
    validator) or `retries` (a tool). It is a message for the model, not a failure:
    an agent that runs out of rounds raises `StructuredOutputError` or
    `ToolArgumentsError` instead.
    """


class StructuredOutputError(LLMError):
    """The model's reply did not validate against the output schema, even after one repair."""

    def __init__(self, message: str, *, raw: str | None = None, history: Any = None) -> None:
        super().__init__(message)
        self.raw = raw
        self.history = history


class QuestionPending(BaseException):  # a signal, like CancelledError: not an Exception
    """The question has no answer yet: the asking node stops and the run ends waiting.

    Attributes:
        question_id: the open question's id.
    """

    def __init__(self, message: str, question_id: str) -> None:
        super().__init__(message)
        self.question_id = question_id
