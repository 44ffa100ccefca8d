"""`Tool`: something a model may call, described by a JSON schema.

`Tool.from_function` reads the schema off a Python function: its signature and type
hints give the types, its docstring (Google, NumPy or reST) the descriptions. An
argument model is built once per tool, so validating a call costs one pydantic
validation and nothing else. Parameter names go through aliases, so a parameter
may be called ``json``, ``copy`` or ``schema`` without clashing with pydantic.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from ..errors import NodeCreationError, ToolArgumentsError
from ._docstrings import parse_docstring
from ._jsonschema import clean_schema, type_name, unsupported_part

__all__ = ["Tool"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SKIPPED_KINDS = (inspect.Parameter.VAR_KEYWORD,)


class Tool:
    """A tool a model may call.

    Build one from a function with `Tool.from_function`, or by hand from a name, a
    description and a JSON schema for its arguments.

    Attributes:
        name: what the model calls it (letters, digits, ``_`` and ``-``, at most 64).
        description: what it does, for the model.
        parameters: a JSON schema of the arguments (an object schema).
        function: the function it was made from, if any.
    """

    __slots__ = ("_aliases", "_arguments", "description", "function", "name", "parameters")

    def __init__(
        self,
        name: str,
        description: str = "",
        parameters: Mapping[str, Any] | None = None,
        *,
        function: Callable[..., Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise NodeCreationError(
                f"tool name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-'"
            )
        self.name = name
        self.description = description
        self.parameters: dict[str, Any] = dict(parameters or {"type": "object", "properties": {}})
        self.function = function
        self._arguments: type[pydantic.BaseModel] | None = None
        self._aliases: dict[str, str] = {}  # argument model field -> parameter name

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool:
        """Describe `function` as a tool.

        Args:
            function: a function whose parameters are annotated; a class is described
                by its ``__init__``, a callable object by its ``__call__``.
            name: the tool's name; defaults to the function's ``__name__``.
            description: what the tool does; defaults to the docstring's description.

        Raises:
            NodeCreationError: a parameter's type cannot be expressed in JSON schema,
                a parameter is ``*args`` or positional-only, or the annotations cannot
                be resolved. The message names the function and the parameter.
        """
        label = getattr(function, "__qualname__", None) or repr(function)
        tool_name = name if name is not None else getattr(function, "__name__", "")
        if not _NAME.match(tool_name):
            raise NodeCreationError(
                f"cannot make a tool of {label!r}: its name {tool_name!r} is not a valid "
                "tool name (1 to 64 letters, digits, '_' or '-'); pass name=..."
            )
        doc = parse_docstring(inspect.getdoc(function))
        arguments = _arguments_model(function, label, tool_name, doc.params)
        with warnings.catch_warnings():
            # a default that is not JSON is left out of the schema; that is fine
            warnings.simplefilter("ignore", pydantic.json_schema.PydanticJsonSchemaWarning)
            schema = clean_schema(arguments.model_json_schema(by_alias=True))
        tool = cls(
            tool_name,
            description if description is not None else doc.description,
            schema,
            function=function,
        )
        tool._arguments = arguments
        tool._aliases = {key: field.alias or key for key, field in arguments.model_fields.items()}
        return tool

    def renamed(
        self,
        name: str,
        description: str | None = None,
        *,
        function: Callable[..., Any] | None = None,
    ) -> Tool:
        """This tool under another name (and description, and function to run), sharing
        its schema and argument model: nothing is rebuilt, so it costs a few hundred ns.

        Raises:
            NodeCreationError: `name` is not a valid tool name.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise NodeCreationError(
                f"tool name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-'"
            )
        tool = object.__new__(Tool)
        tool.name = name
        tool.description = self.description if description is None else description
        tool.parameters = self.parameters  # shared: a tool's schema is read, never written
        tool.function = self.function if function is None else function
        tool._arguments = self._arguments
        tool._aliases = self._aliases
        return tool

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """Check a model's arguments and convert them to the function's types.

        Args:
            arguments: a mapping, or the JSON text the model sent.

        Returns:
            Keyword arguments for the function: only those the model gave, so the
            function's own defaults apply to the rest. Nested models come back as
            model instances and enums as members.

        A tool made by hand (not from a function) only checks that the arguments are
        a JSON object; it has no model to validate them against.

        Raises:
            ToolArgumentsError: the text is not a JSON object, or the arguments do not
                fit the schema. The message is written to be sent back to the model.
        """
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(
                    f"arguments for tool {self.name!r} are not valid JSON ({exc.msg} at "
                    f"position {exc.pos}); send a JSON object",
                    tool=self.name,
                ) from None
        if type(arguments) is not dict and not isinstance(arguments, Mapping):
            raise ToolArgumentsError(
                f"arguments for tool {self.name!r} must be a JSON object, "
                f"not {type(arguments).__name__}",
                tool=self.name,
            )
        if self._arguments is None:
            return dict(arguments)
        try:
            validated = self._arguments.__pydantic_validator__.validate_python(arguments)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise ToolArgumentsError(
                f"arguments for tool {self.name!r} do not fit its schema: {problems}",
                tool=self.name,
            ) from None
        aliases, values = self._aliases, validated.__dict__
        return {aliases[key]: values[key] for key in validated.__pydantic_fields_set__}

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, description={self.description[:40]!r})"


def _arguments_model(
    function: Callable[..., Any], label: str, tool_name: str, descriptions: dict[str, str]
) -> type[pydantic.BaseModel]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise NodeCreationError(f"cannot read the signature of {label!r}: {exc}") from exc
    if inspect.isclass(function):
        annotated: Any = function.__init__
    elif inspect.isfunction(function) or inspect.ismethod(function):
        annotated = function
    else:
        annotated = type(function).__call__
    try:
        hints = typing.get_type_hints(annotated, include_extras=True)
    except Exception as exc:
        raise NodeCreationError(
            f"cannot resolve the type hints of {label!r}: {exc}; "
            "import the names its annotations use at module level"
        ) from exc
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(signature.parameters.values()):
        where = f"parameter {parameter.name!r} of {label!r}"
        if parameter.kind in _SKIPPED_KINDS:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            raise NodeCreationError(
                f"{where} is *{parameter.name}: a model sends named arguments only; "
                "use a list parameter instead"
            )
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise NodeCreationError(
                f"{where} is positional-only: a model sends named arguments only; "
                "remove the '/' from the signature"
            )
        annotation = hints.get(parameter.name, Any)
        bad = unsupported_part(annotation)
        if bad is not None:
            written = type_name(annotation)
            culprit = "which" if bad == written else f"and {bad}"
            raise NodeCreationError(
                f"{where} has type {written}, {culprit} cannot be expressed in JSON schema; "
                "use str, int, float, bool, Literal, an Enum, list, dict[str, ...], "
                "Optional or a pydantic model"
            )
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        info = pydantic.Field(
            default, alias=parameter.name, description=descriptions.get(parameter.name)
        )
        fields[f"p{index}"] = (annotation, info)
    try:
        model: type[pydantic.BaseModel] = pydantic.create_model(
            f"{tool_name}_arguments",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
    except pydantic.PydanticUserError as exc:
        raise NodeCreationError(f"cannot describe the parameters of {label!r}: {exc}") from exc
    return model
