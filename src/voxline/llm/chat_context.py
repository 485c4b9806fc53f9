"""The conversation as data: messages, tool calls and their outputs, handoffs.

The history must always be valid for a provider: every function call has exactly one output,
in order. `to_openai()` checks that on the way out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .._utils.aio import now, short_id

ChatRole = Literal["developer", "system", "user", "assistant"]


class ImageContent(BaseModel):
    """An image the model should see; `image` is a data URL, a URL, or raw encoded bytes."""

    type: Literal["image_content"] = "image_content"
    id: str = Field(default_factory=lambda: short_id("img"))
    image: str | bytes
    mime_type: str | None = None
    inference_detail: Literal["auto", "high", "low"] = "auto"

    def to_url(self) -> str:
        if isinstance(self.image, bytes):
            mime = self.mime_type or "image/jpeg"
            return f"data:{mime};base64,{base64.b64encode(self.image).decode()}"
        return self.image


class AudioContent(BaseModel):
    type: Literal["audio_content"] = "audio_content"
    transcript: str | None = None


ChatContent = Union[str, ImageContent, AudioContent]


class ChatMessage(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str = Field(default_factory=lambda: short_id("item"))
    type: Literal["message"] = "message"
    role: ChatRole
    content: list[ChatContent]
    interrupted: bool = False
    transcript_confidence: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=now)

    @property
    def text_content(self) -> str | None:
        texts = [c for c in self.content if isinstance(c, str)]
        return "\n".join(texts) if texts else None


class FunctionCall(BaseModel):
    id: str = Field(default_factory=lambda: short_id("item"))
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=now)


class FunctionCallOutput(BaseModel):
    id: str = Field(default_factory=lambda: short_id("item"))
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    name: str = ""
    output: str
    is_error: bool
    created_at: float = Field(default_factory=now)


class AgentHandoff(BaseModel):
    id: str = Field(default_factory=lambda: short_id("item"))
    type: Literal["agent_handoff"] = "agent_handoff"
    old_agent_id: str | None
    new_agent_id: str
    created_at: float = Field(default_factory=now)


class AgentConfigUpdate(BaseModel):
    id: str = Field(default_factory=lambda: short_id("item"))
    type: Literal["agent_config_update"] = "agent_config_update"
    instructions: str | None = None
    tools_added: list[str] | None = None
    tools_removed: list[str] | None = None
    created_at: float = Field(default_factory=now)


ChatItem = Annotated[
    Union[ChatMessage, FunctionCall, FunctionCallOutput, AgentHandoff, AgentConfigUpdate],
    Field(discriminator="type"),
]


class HistoryError(ValueError):
    """The history cannot be sent to a provider as it is (e.g. a call without an output)."""


class _ItemsModel(BaseModel):
    items: list[ChatItem]


class ChatContext:
    """An ordered list of chat items with the operations a voice agent needs on it."""

    def __init__(self, items: Sequence[ChatItem] | None = None) -> None:
        self._items: list[ChatItem] = list(items or [])

    @classmethod
    def empty(cls) -> ChatContext:
        return cls([])

    @property
    def items(self) -> list[ChatItem]:
        return self._items

    @items.setter
    def items(self, items: list[ChatItem]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ChatContext({len(self._items)} items)"

    def add_message(
        self,
        *,
        role: ChatRole,
        content: list[ChatContent] | str,
        id: str | None = None,
        interrupted: bool = False,
        created_at: float | None = None,
        metrics: dict[str, float] | None = None,
    ) -> ChatMessage:
        kwargs: dict[str, Any] = {}
        if id is not None:
            kwargs["id"] = id
        if created_at is not None:
            kwargs["created_at"] = created_at
        msg = ChatMessage(
            role=role,
            content=[content] if isinstance(content, str) else list(content),
            interrupted=interrupted,
            metrics=metrics or {},
            **kwargs,
        )
        self.insert(msg)
        return msg

    def insert(self, item: ChatItem | Sequence[ChatItem]) -> None:
        """Insert keeping created_at order; equal times keep insertion order."""
        items = [item] if not isinstance(item, Sequence) else list(item)
        for it in items:
            idx = len(self._items)
            while idx > 0 and self._items[idx - 1].created_at > it.created_at:
                idx -= 1
            self._items.insert(idx, it)

    def get_by_id(self, item_id: str) -> ChatItem | None:
        return next((it for it in self._items if it.id == item_id), None)

    def index_by_id(self, item_id: str) -> int | None:
        return next((i for i, it in enumerate(self._items) if it.id == item_id), None)

    def copy(
        self,
        *,
        exclude_function_call: bool = False,
        exclude_instructions: bool = False,
        exclude_empty_message: bool = False,
        exclude_config_update: bool = False,
        exclude_handoff: bool = False,
    ) -> ChatContext:
        out: list[ChatItem] = []
        for it in self._items:
            if exclude_function_call and it.type in ("function_call", "function_call_output"):
                continue
            if exclude_instructions and it.type == "message" and it.role in ("system", "developer"):
                continue
            if exclude_empty_message and it.type == "message" and not it.content:
                continue
            if exclude_config_update and it.type == "agent_config_update":
                continue
            if exclude_handoff and it.type == "agent_handoff":
                continue
            out.append(it)
        return ChatContext(out)

    def truncate(self, *, max_items: int) -> ChatContext:
        """Keep the last items but never start with an orphaned function output."""
        instructions = [
            it
            for it in self._items[:1]
            if it.type == "message" and it.role in ("system", "developer")
        ]
        tail = self._items[-max_items:]
        while tail and tail[0].type in ("function_call_output",):
            tail = tail[1:]
        self._items = instructions + [it for it in tail if it not in instructions]
        return self

    def merge(self, other: ChatContext) -> ChatContext:
        """Add items of `other` not already here (by id), keeping time order."""
        known = {it.id for it in self._items}
        for it in other.items:
            if it.id not in known:
                self.insert(it)
        return self

    def is_equivalent(self, other: ChatContext) -> bool:
        """Same conversation content, ignoring ids and timestamps (preemptive adoption)."""
        if len(self._items) != len(other.items):
            return False
        return all(_item_key(a) == _item_key(b) for a, b in zip(self._items, other.items))

    def to_dict(self) -> dict[str, Any]:
        return _ItemsModel(items=self._items).model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatContext:
        return cls(_ItemsModel.model_validate(data).items)

    def to_openai(self) -> list[dict[str, Any]]:
        """Convert to OpenAI chat-completions messages, refusing an invalid history."""
        return to_openai_messages(self)


def _item_key(item: ChatItem) -> tuple[Any, ...]:
    if item.type == "message":
        return (
            "message",
            item.role,
            tuple(c if isinstance(c, str) else c.type for c in item.content),
        )
    if item.type == "function_call":
        return ("function_call", item.name, item.arguments, item.call_id)
    if item.type == "function_call_output":
        return ("function_call_output", item.call_id, item.output, item.is_error)
    if item.type == "agent_handoff":
        return ("agent_handoff", item.old_agent_id, item.new_agent_id)
    return ("agent_config_update", item.instructions)


def to_openai_messages(ctx: ChatContext) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    pending_calls: dict[str, FunctionCall] = {}
    answered: set[str] = set()
    for item in ctx.items:
        if item.type == "message":
            if pending_calls:
                raise HistoryError(
                    f"function call(s) {sorted(pending_calls)} have no output before a message"
                )
            messages.append(_message_to_openai(item))
        elif item.type == "function_call":
            if item.call_id in answered or item.call_id in pending_calls:
                raise HistoryError(f"duplicate function call id {item.call_id!r}")
            pending_calls[item.call_id] = item
            last = messages[-1] if messages else None
            tool_call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            if last is not None and last["role"] == "assistant" and _only_calls_follow(messages):
                last.setdefault("tool_calls", []).append(tool_call)
            else:
                messages.append({"role": "assistant", "tool_calls": [tool_call]})
        elif item.type == "function_call_output":
            if item.call_id not in pending_calls:
                raise HistoryError(f"function output {item.call_id!r} has no matching call")
            del pending_calls[item.call_id]
            answered.add(item.call_id)
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    if pending_calls:
        raise HistoryError(f"function call(s) {sorted(pending_calls)} have no output")
    return messages


def _only_calls_follow(messages: list[dict[str, Any]]) -> bool:
    # an assistant message can carry tool calls only while no tool result followed it yet
    return bool(messages[-1]["role"] == "assistant")


def _message_to_openai(msg: ChatMessage) -> dict[str, Any]:
    role = "system" if msg.role == "developer" else msg.role
    if all(isinstance(c, str) for c in msg.content):
        return {"role": role, "content": "\n".join(c for c in msg.content if isinstance(c, str))}
    parts: list[dict[str, Any]] = []
    for c in msg.content:
        if isinstance(c, str):
            parts.append({"type": "text", "text": c})
        elif isinstance(c, ImageContent):
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": c.to_url(), "detail": c.inference_detail},
                }
            )
        elif c.transcript:
            parts.append({"type": "text", "text": c.transcript})
    return {"role": role, "content": parts}


def dumps_arguments(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, separators=(",", ":"))
