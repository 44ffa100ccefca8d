"""The conversation an agent starts from: its instructions, then the prompt.

Prompt filling lives here because who wrote a text decides whether it is filled: the
developer's system message and string prompts are, a model's text never is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..context import context, fill_prompt
from ..llm.messages import Message, MessageHistory, SystemMessage, UserMessage

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["ModelText", "start_history"]


class ModelText(str):
    """A prompt a model wrote (for a sub-agent it calls as a tool): sent as written.

    It is a plain string everywhere else (equal, hashed and saved as one); the mark
    only keeps `{name}` filling, which is for text the developer wrote, away from it.
    """

    __slots__ = ()


def start_history(
    agent: str,
    system: str | Callable[[Any], str | None] | None,
    runner: Runner | None,
    prompt: str | Sequence[Message],
) -> MessageHistory:
    """The conversation to send first: the system message, then the prompt.

    With prompt injection on, `{name}` placeholders in the agent's system message
    and in a string prompt are filled from `rc.context`: that is text the developer
    wrote. A `MessageHistory` is sent as written (it is usually a conversation
    already filled once, and filling it again could expand braces that came from
    context values), and so is a `ModelText`, a prompt another agent's model wrote.
    """
    values = runner.variables if runner is not None and runner.config.prompt_injection else None
    if callable(system):
        system = _dynamic_system(agent, system)
    elif system is not None and values is not None:
        system = _fill(system, values)
    if isinstance(prompt, str):
        history = MessageHistory()
        if system is not None:
            history.append(SystemMessage(system))
        if values is not None and not isinstance(prompt, ModelText):
            prompt = _fill(prompt, values)
        history.append(UserMessage(str(prompt)))  # a ModelText goes in as plain text
        return history
    # A conversation runs under this agent's instructions, whoever had it before: a
    # history handed over by another agent must not bring that agent's system
    # message along (nor does one of this agent's own go in twice).
    history = MessageHistory(m for m in prompt if not isinstance(m, SystemMessage))
    if system is not None:
        history.insert(0, SystemMessage(system))
    return history


def _dynamic_system(agent: str, make: Callable[[Any], Any]) -> str | None:
    """A callable system message's text, made from the run's context."""
    text = make(context)
    if text is not None and not isinstance(text, str):
        raise TypeError(
            f"agent {agent!r}: its system_message function returned {text!r}; "
            "it must return a string (or None for no system message)"
        )
    return text


def _fill(template: str, values: Mapping[str, Any]) -> str:
    """`fill_prompt`, skipped for the common text that has no brace at all."""
    if "{" in template or "}" in template:
        return fill_prompt(template, values)
    return template
