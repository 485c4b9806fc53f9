"""Tools the model can call: `@function_tool` turns a typed function into a JSON schema and a
validated call. Return values and exceptions map to tool outputs in `voice/tools.py`."""

from __future__ import annotations

import enum
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_type_hints, overload

from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo


class ToolError(Exception):
    """Raise from a tool to give the model an error message it can read and act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StopResponse(Exception):
    """Raise from a tool or `on_user_turn_completed` to end the turn without a reply."""


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's schema; the message is shown to the model."""


class ToolFlag(enum.IntFlag):
    NONE = 0
    IGNORE_ON_ENTER = 1


@dataclass
class FunctionToolInfo:
    name: str
    description: str
    parameters: dict[str, Any]
    flags: ToolFlag = ToolFlag.NONE


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass
class FunctionTool:
    """A callable tool with its schema; `bound_to` is set when it is a method of an Agent."""

    fn: Callable[..., Any]
    info: FunctionToolInfo
    args_model: type[BaseModel] | None
    context_param: str | None
    raw: bool = False
    bound_to: Any = None

    @property
    def id(self) -> str:
        return self.info.name

    @property
    def name(self) -> str:
        return self.info.name

    def __get__(self, instance: Any, owner: type | None = None) -> FunctionTool:
        if instance is None:
            return self
        return FunctionTool(
            self.fn, self.info, self.args_model, self.context_param, self.raw, bound_to=instance
        )

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.fn if self.bound_to is None else self.fn.__get__(self.bound_to)
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def parse_arguments(self, raw_arguments: str) -> dict[str, Any]:
        """Validate the model's JSON against the schema; errors name the tool and field."""
        data = parse_json_arguments(raw_arguments, tool_name=self.name)
        if self.raw:
            return {"raw_arguments": data}
        assert self.args_model is not None
        try:
            model = self.args_model.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in e.errors()
            )
            raise ToolArgumentsError(f"invalid arguments for tool {self.name!r}: {problems}") from e
        return {name: getattr(model, name) for name in type(model).model_fields}

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.info.name,
                "description": self.info.description,
                "parameters": self.info.parameters,
            },
        }


class Toolset:
    """A named group of tools that can be added to an agent or a session together."""

    def __init__(self, *, id: str, tools: Sequence[Tool] = ()) -> None:
        self.id = id
        self._tools = list(tools)

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools)

    async def setup(self) -> None:
        """Prepare the tools (connect to servers...); called when an agent starts."""

    async def aclose(self) -> None:
        return None


Tool = Union[FunctionTool, Toolset]


def flatten_tools(tools: Sequence[Tool]) -> list[FunctionTool]:
    out: list[FunctionTool] = []
    seen: set[str] = set()
    for t in tools:
        for ft in flatten_tools(t.tools) if isinstance(t, Toolset) else [t]:
            if ft.name in seen:
                raise ValueError(f"duplicate tool name {ft.name!r}")
            seen.add(ft.name)
            out.append(ft)
    return out


def find_function_tools(obj: object) -> list[FunctionTool]:
    """The `@function_tool` methods of an object, bound to it, in definition order."""
    tools: list[FunctionTool] = []
    seen: set[str] = set()
    for klass in type(obj).__mro__:
        for attr, value in vars(klass).items():
            if isinstance(value, FunctionTool) and attr not in seen:
                seen.add(attr)
                tools.append(value.__get__(obj, type(obj)))
    return tools


_JSON_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_json_arguments(raw: str, *, tool_name: str) -> dict[str, Any]:
    """Parse arguments, repairing what models commonly get slightly wrong (fences, trailing
    commas, single-quoted keys, an empty string for no arguments)."""
    text = (raw or "").strip()
    if not text:
        return {}
    m = _JSON_FENCE.match(text)
    if m:
        text = m.group(1)
    for candidate in (text, _repair_json(text)):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if not isinstance(value, dict):
            raise ToolArgumentsError(
                f"arguments for tool {tool_name!r} must be a JSON object, "
                f"got {type(value).__name__}"
            )
        return value
    raise ToolArgumentsError(f"arguments for tool {tool_name!r} are not valid JSON: {raw!r}")


def _repair_json(text: str) -> str:
    fixed = re.sub(r",\s*([}\]])", r"\1", text)
    if "'" in fixed and '"' not in fixed:
        fixed = fixed.replace("'", '"')
    opens = fixed.count("{") - fixed.count("}")
    if opens > 0:
        fixed += "}" * opens
    return fixed


def _docstring_args(doc: str | None) -> tuple[str, dict[str, str]]:
    if not doc:
        return "", {}
    doc = inspect.cleandoc(doc)
    parts = re.split(r"^\s*(?:Args|Arguments|Parameters):\s*$", doc, maxsplit=1, flags=re.M)
    description = parts[0].strip()
    params: dict[str, str] = {}
    if len(parts) > 1:
        current: str | None = None
        for line in parts[1].splitlines():
            m = re.match(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
            if m and (current is None or not line.startswith("        ")):
                current = m.group(1)
                params[current] = m.group(2).strip()
            elif current and line.strip():
                if re.match(r"^\s*(Returns|Raises):", line):
                    break
                params[current] += " " + line.strip()
    return description, params


def _build(
    fn: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    raw_schema: dict[str, Any] | None,
    flags: ToolFlag,
) -> FunctionTool:
    from ..voice.run_context import RunContext  # late: voice depends on llm, not the reverse

    sig = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    doc_desc, doc_params = _docstring_args(fn.__doc__)
    context_param: str | None = None
    if raw_schema is not None:
        for pname in sig.parameters:
            hint = hints.get(pname)
            if hint is not None and _is_run_context(hint, RunContext):
                context_param = pname
        info = FunctionToolInfo(
            name=raw_schema.get("name") or name or fn.__name__,
            description=raw_schema.get("description", description or doc_desc),
            parameters=raw_schema.get("parameters", {"type": "object", "properties": {}}),
            flags=flags,
        )
        return FunctionTool(fn, info, None, context_param, raw=True)

    fields: dict[str, Any] = {}
    for pname, param in sig.parameters.items():
        if pname == "self":
            continue
        hint = hints.get(pname, Any)
        if _is_run_context(hint, RunContext):
            context_param = pname
            continue
        default = param.default if param.default is not inspect.Parameter.empty else ...
        fields[pname] = (hint, FieldInfo(default=default, description=doc_params.get(pname)))
    args_model = create_model(f"{fn.__name__}_args", **fields)
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    info = FunctionToolInfo(
        name=name or fn.__name__,
        description=description or doc_desc,
        parameters=schema,
        flags=flags,
    )
    return FunctionTool(fn, info, args_model, context_param)


def _is_run_context(hint: Any, run_context_type: type) -> bool:
    origin = getattr(hint, "__origin__", None)
    return hint is run_context_type or origin is run_context_type


@overload
def function_tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    raw_schema: dict[str, Any] | None = None,
    flags: ToolFlag = ToolFlag.NONE,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    raw_schema: dict[str, Any] | None = None,
    flags: ToolFlag = ToolFlag.NONE,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a function (or an Agent method) callable by the model."""

    def decorate(f: Callable[..., Any]) -> FunctionTool:
        return _build(f, name=name, description=description, raw_schema=raw_schema, flags=flags)

    if fn is not None:
        return decorate(fn)
    return decorate


@dataclass
class ToolContext:
    """The tools visible to one LLM call, by name."""

    tools: list[FunctionTool] = field(default_factory=list)

    def get(self, name: str) -> FunctionTool | None:
        return next((t for t in self.tools if t.name == name), None)
