"""The messages of a conversation with a model, and the history that holds them.

Messages are frozen dataclasses rather than pydantic models: an agent builds several
per turn, so they must be cheap to make, and they are trusted data of our own making.
Validation happens where untrusted data comes in (provider replies, tool arguments),
not here. `to_dict`/`message_from_dict` give the plain-JSON form used when a run is
saved and read back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

__all__ = [
    "AssistantMessage",
    "Message",
    "MessageHistory",
    "Role",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "UserMessage",
    "message_from_dict",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to run one tool.

    Attributes:
        name: the tool's name as the model gave it (it may name no real tool).
        arguments: the arguments as a mapping, or the raw text the model sent when
            that text was not a JSON object; `Tool.validate` reports either case.
        id: the provider's id for the call, which the tool result must quote.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str = field(default_factory=_new_call_id)

    def arguments_json(self) -> str:
        """The arguments as JSON text, the way providers send them back."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, default=str)

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the call."""
        arguments = self.arguments if isinstance(self.arguments, str) else dict(self.arguments)
        return {"id": self.id, "name": self.name, "arguments": arguments}


@dataclass(frozen=True, slots=True)
class SystemMessage:
    """Instructions for the model, usually the first message."""

    content: str
    role: ClassVar[Literal["system"]] = "system"

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the message."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class UserMessage:
    """What the user says."""

    content: str
    role: ClassVar[Literal["user"]] = "user"

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the message."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """What the model said: text, tool calls, or both."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    role: ClassVar[Literal["assistant"]] = "assistant"

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the message."""
        return {
            "role": self.role,
            "content": self.content,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
        }


@dataclass(frozen=True, slots=True)
class ToolMessage:
    """The result of one tool call, sent back to the model.

    Attributes:
        tool_call_id: the id of the `ToolCall` this answers.
        name: the tool's name.
        content: the result as text (or the error, written for the model).
        is_error: True when the call failed; the content then says why.
    """

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    role: ClassVar[Literal["tool"]] = "tool"

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form of the message."""
        return {
            "role": self.role,
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "content": self.content,
            "is_error": self.is_error,
        }


Message: TypeAlias = SystemMessage | UserMessage | AssistantMessage | ToolMessage


def message_from_dict(data: Mapping[str, Any]) -> Message:
    """Rebuild a message from its `to_dict` form.

    Raises:
        ValueError: the role is not one of system, user, assistant, tool.
    """
    role = data.get("role")
    if role == "system":
        return SystemMessage(data["content"])
    if role == "user":
        return UserMessage(data["content"])
    if role == "assistant":
        calls = tuple(
            ToolCall(name=c["name"], arguments=c["arguments"], id=c["id"])
            for c in data.get("tool_calls", ())
        )
        return AssistantMessage(data.get("content"), calls)
    if role == "tool":
        return ToolMessage(
            data["tool_call_id"], data["name"], data["content"], bool(data.get("is_error"))
        )
    raise ValueError(
        f"unknown message role {role!r}; expected 'system', 'user', 'assistant' or 'tool'"
    )


class MessageHistory(list[Message]):
    """A conversation: a list of messages, oldest first.

    It is a plain list (append, extend, slice) with a readable repr and a few
    shortcuts. Pass one to an agent instead of a string to continue a conversation.
    """

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        super().__init__(messages)

    @classmethod
    def from_dicts(cls, items: Iterable[Mapping[str, Any]]) -> MessageHistory:
        """Rebuild a history from `to_dicts` output."""
        return cls(message_from_dict(item) for item in items)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The plain-JSON form of every message."""
        return [message.to_dict() for message in self]

    def copy(self) -> MessageHistory:
        """A shallow copy that is still a MessageHistory."""
        return MessageHistory(self)

    @property
    def system(self) -> str | None:
        """The text of the first system message, or None."""
        for message in self:
            if isinstance(message, SystemMessage):
                return message.content
        return None

    def __repr__(self) -> str:
        return f"MessageHistory({list.__repr__(self)})"
