"""What a local model is sent: the system prompt, the history and the action grammar.

Small local models do not produce reliable native tool calls, so tools are described in the
system prompt and the answer is constrained (llguidance, through llama.cpp's `grammar`).
Two formats (`ToolFormat`):

- `"text"` (the default): a plain spoken reply, or one compact JSON tool call
  `{"tool":NAME,"arguments":{...}}`. A reply's first word is the first token decoded, which
  is what a voice agent waits for.
- `"json"`: always one JSON object, a tool call or `{"tool":"none","reply":...}`. The
  explicit "none" choice is a little more reliable with the smallest models, at the price
  of about eight tokens of JSON before the first word of every reply.

The system prompt is byte-identical from one turn to the next (tool descriptions first, in
the agent's order, then the instructions), so llama.cpp's prompt cache keeps it evaluated
and each turn only pays for its new messages.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

from ...llm.chat_context import ChatContext, ChatMessage
from ...llm.llm import ToolChoice
from ...llm.tool_context import FunctionTool

__all__ = [
    "TOOL_FORMATS",
    "Branches",
    "ToolFormat",
    "branches_for",
    "build_grammar",
    "build_messages",
    "system_prompt",
    "with_system",
]

logger = logging.getLogger("voxline.plugins.llama")

# which kinds of answer the grammar allows: a reply, some tool calls, or both
Branches = tuple[bool, tuple[FunctionTool, ...]]
ToolFormat = Literal["text", "json"]
TOOL_FORMATS: tuple[ToolFormat, ...] = ("text", "json")

_COMPACT = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}

_NONE_TOOL = (
    "- none: no tool; answer the user yourself. Use it for greetings, chat, facts and anything "
    "the other tools do not do."
)
_TEXT_RULES = (
    'To call a tool, answer with only one JSON object: {"tool": "<tool name>", '
    '"arguments": {...}}.\n'
    "With none, answer the user directly in plain spoken words, with no JSON.\n"
    "After a tool result, answer the user with it."
)
_ACTION_RULES = (
    "Answer with one JSON object and nothing else.\n"
    'To call a tool: {"tool": "<tool name>", "arguments": {...}}.\n'
    'To answer the user: {"tool": "none", "reply": "<what you say>"}.\n'
    "After a tool result, answer the user with it."
)


def system_prompt(
    instructions: str, tools: Sequence[FunctionTool], tool_format: ToolFormat = "text"
) -> str:
    """The system message for `instructions` with `tools` described first."""
    if not tools:
        return instructions
    # "none" listed as a tool of its own: without it, small models call a tool for
    # questions no tool answers (8/8 right instead of 6/8 for the 1.5B)
    lines = ["You can call these tools:", _NONE_TOOL]
    for tool in tools:
        lines.append(f"- {tool.name}: {_one_line(tool.info.description) or 'no description'}")
        lines.append(f"  arguments: {_describe_parameters(tool.info.parameters)}")
    lines.append(_ACTION_RULES if tool_format == "json" else _TEXT_RULES)
    return "\n".join(lines) + "\n\n" + instructions


def branches_for(
    tools: Sequence[FunctionTool],
    tool_choice: ToolChoice | None,
    *,
    after_tool_result: bool,
    chain_tool_calls: bool,
) -> Branches:
    """The answers allowed this step. After a tool result, small models tend to call the same
    tool again, so unless `chain_tool_calls` the step after a result must be a reply."""
    if not tools or tool_choice == "none" or (after_tool_result and not chain_tool_calls):
        return True, ()
    if tool_choice == "required":
        return False, tuple(tools)
    if isinstance(tool_choice, dict):
        name = _forced_name(tool_choice)
        chosen = tuple(t for t in tools if t.name == name)
        if not chosen:
            known = ", ".join(t.name for t in tools)
            raise ValueError(f"tool_choice names {name!r}, which is not a tool here ({known})")
        return False, chosen
    return True, tuple(tools)


def build_grammar(branches: Branches, tool_format: ToolFormat = "text") -> str:
    """An llguidance grammar for the allowed answers, with calls in compact JSON (no
    whitespace tokens to decode, which at 30 tokens/s would add about half a second to each
    call)."""
    allow_reply, tools = branches
    if tool_format == "text":
        return _text_grammar(allow_reply, tools)
    return "%llguidance {}\nstart: %json " + json.dumps(_action_schema(allow_reply, tools))


def _action_schema(allow_reply: bool, tools: Sequence[FunctionTool]) -> dict[str, Any]:
    """`anyOf` one object per tool call, plus the "none" reply object when a reply is allowed
    (a model that opens "{" for a question no tool answers still has a way out)."""
    options: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for tool in tools:
        params = _closed(copy.deepcopy(tool.info.parameters))
        for name, definition in params.pop("$defs", {}).items():
            if name in defs and defs[name] != definition:
                logger.warning("tools define $defs[%r] differently; the first one is used", name)
            defs.setdefault(name, definition)
        options.append(_object({"tool": {"const": tool.name}, "arguments": params}))
    if allow_reply:
        options.append(_object({"tool": {"const": "none"}, "reply": {"type": "string"}}))
    schema: dict[str, Any] = {"x-guidance": _COMPACT, "anyOf": options}
    if defs:
        schema["$defs"] = defs
    return schema


# a reply is any text that does not open with "{" or a ``` fence (nor with blank space), so
# the choice between a reply and a call is made by the first token
_REPLY = "REPLY: /[^{`\\s][\\s\\S]*/"


def _text_grammar(allow_reply: bool, tools: tuple[FunctionTool, ...]) -> str:
    if not tools:
        # a reply is due, typically right after a tool result: the history there shows the
        # model JSON, and held to plain text it writes the call again in other brackets;
        # held to the "none" object it answers (the JSON costs a few tokens on this step only)
        return build_grammar((True, ()), "json")
    call = "%json " + json.dumps(_action_schema(allow_reply, tools))
    if not allow_reply:
        return "%llguidance {}\nstart: " + call
    return "%llguidance {}\nstart: call | REPLY\ncall: " + call + "\n" + _REPLY


def build_messages(
    chat_ctx: ChatContext, tools: Sequence[FunctionTool], tool_format: ToolFormat = "text"
) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt and the chat messages after it. Past tool calls are written as the
    action JSON the model itself produces, so the history shows it the format it must use."""
    instructions: list[str] = []
    messages: list[dict[str, Any]] = []
    leading = True
    for item in chat_ctx.items:
        if item.type == "message":
            text = _text_of(item)
            if item.role in ("system", "developer"):
                if leading:
                    instructions.append(text)
                else:
                    messages.append({"role": "system", "content": text})
                continue
            leading = False
            if item.role == "assistant" and not text:
                continue
            messages.append({"role": item.role, "content": text})
        elif item.type == "function_call":
            leading = False
            call = {"tool": item.name, "arguments": _arguments_value(item.arguments)}
            messages.append({"role": "assistant", "content": _compact(call)})
        elif item.type == "function_call_output":
            leading = False
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    return system_prompt("\n".join(instructions), tools, tool_format), messages


def with_system(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, *messages] if system else list(messages)


# ------------------------------------------------------------------ helpers


def _forced_name(tool_choice: dict[str, Any]) -> str:
    function = tool_choice.get("function")
    name = function.get("name") if isinstance(function, dict) else tool_choice.get("name")
    if not isinstance(name, str):
        raise ValueError(f"tool_choice {tool_choice!r} does not name a function")
    return name


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _closed(schema: Any) -> Any:
    """Objects without `additionalProperties` get `false`: otherwise the model is free to
    invent extra arguments, and small ones do."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if out.get("type") == "object" and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _describe_parameters(parameters: dict[str, Any]) -> str:
    props: dict[str, Any] = parameters.get("properties", {})
    if not props:
        return "{}"
    required = set(parameters.get("required", []))
    parts = []
    for name, schema in props.items():
        kind = _type_name(schema)
        note = _one_line(schema.get("description", "")) if isinstance(schema, dict) else ""
        optional = "" if name in required else ", optional"
        parts.append(f'"{name}": {kind}{optional}' + (f" ({note})" if note else ""))
    return "{" + ", ".join(parts) + "}"


def _type_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "any"
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_name(s) for s in schema[key])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return "any"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text_of(msg: ChatMessage) -> str:
    parts: list[str] = []
    for c in msg.content:
        if isinstance(c, str):
            parts.append(c)
        elif c.type == "audio_content" and c.transcript:
            parts.append(c.transcript)
    return "\n".join(parts)


def _arguments_value(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return arguments


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
