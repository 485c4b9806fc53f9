"""The LLM protocol: a model turns a chat context into a stream of text and tool-call chunks.

Subclasses implement `LLMStream._run()`; the base class owns retries and timeouts from
`APIConnectOptions`, so every provider fails the same way.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Literal, Union

from pydantic import BaseModel, Field

from .._exceptions import APIConnectionError, APIError, APITimeoutError
from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, cancel_and_wait, now, short_id
from .chat_context import ChatContext
from .tool_context import Tool

ToolChoice = Union[Literal["auto", "required", "none"], dict[str, Any]]


class FunctionToolCall(BaseModel):
    type: Literal["function"] = "function"
    name: str
    arguments: str
    call_id: str


class CompletionUsage(BaseModel):
    completion_tokens: int = 0
    prompt_tokens: int = 0
    prompt_cached_tokens: int = 0
    total_tokens: int = 0


class ChoiceDelta(BaseModel):
    role: Literal["assistant"] | None = "assistant"
    content: str | None = None
    tool_calls: list[FunctionToolCall] = Field(default_factory=list)


class ChatChunk(BaseModel):
    id: str = Field(default_factory=lambda: short_id("chunk"))
    delta: ChoiceDelta | None = None
    usage: CompletionUsage | None = None


class LLMError(BaseModel):
    """Payload of the session's `error` event when the LLM fails."""

    model_config = {"arbitrary_types_allowed": True}
    type: Literal["llm_error"] = "llm_error"
    timestamp: float
    label: str
    error: Exception = Field(exclude=True)
    recoverable: bool


class LLM(ABC):
    """A chat model. `chat()` must not block: work happens when the stream is iterated."""

    @property
    def model(self) -> str:
        return "unknown"

    @property
    def provider(self) -> str:
        return "unknown"

    @property
    def label(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}"

    @abstractmethod
    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream: ...

    def prewarm(self) -> None:
        """Open connections or load weights ahead of the first request (optional)."""

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> LLM:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class LLMStream(ABC):
    """An async iterator of ChatChunks with retry: an attempt that fails before emitting
    anything is retried; once text went out, a failure is final (no duplicated words)."""

    def __init__(
        self,
        llm: LLM,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None,
        tool_choice: ToolChoice | None,
        conn_options: APIConnectOptions,
    ) -> None:
        self._llm = llm
        self._chat_ctx = chat_ctx
        self._tools = list(tools or [])
        self._tool_choice = tool_choice
        self._conn_options = conn_options
        self._chan: Chan[ChatChunk] = Chan()
        self._emitted = False
        self._task: asyncio.Task[None] | None = None
        self.started_at = now()
        self._last_activity = self.started_at
        self.ttft: float | None = None

    @property
    def chat_ctx(self) -> ChatContext:
        return self._chat_ctx

    @property
    def tools(self) -> list[Tool]:
        return self._tools

    @abstractmethod
    async def _run(self) -> None:
        """Produce chunks with `self._send(chunk)`."""

    def _send(self, chunk: ChatChunk) -> None:
        self._last_activity = now()
        if self.ttft is None and chunk.delta is not None:
            self.ttft = now() - self.started_at
        self._emitted = True
        self._chan.send_nowait(chunk)

    async def _main(self) -> None:
        try:
            for attempt in range(self._conn_options.max_retry + 1):
                try:
                    await self._run_attempt()
                    return
                except asyncio.TimeoutError as e:
                    err: APIError = APITimeoutError(
                        f"{self._llm.label}: no answer within {self._conn_options.timeout}s"
                    )
                    err.__cause__ = e
                except APIError as e:
                    err = e
                except Exception as e:
                    err = APIConnectionError(f"{self._llm.label}: {e!r}", retryable=False)
                    err.__cause__ = e
                if self._emitted or not err.retryable or attempt >= self._conn_options.max_retry:
                    raise err
                await asyncio.sleep(self._conn_options.interval_for_retry(attempt))
        finally:
            self._chan.close()

    async def _run_attempt(self) -> None:
        """Run one attempt; `timeout` bounds the silence between chunks, not the whole reply,
        so a long answer that keeps streaming is never cut."""
        loop = asyncio.get_running_loop()
        self._last_activity = now()
        task = loop.create_task(self._run())
        timeout = self._conn_options.timeout
        try:
            while True:
                last = self._last_activity
                done, _ = await asyncio.wait({task}, timeout=max(0.0, last + timeout - now()))
                if done:
                    task.result()
                    return
                if self._last_activity == last:
                    raise asyncio.TimeoutError
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ChatChunk]:
        assert self._task is not None
        async for chunk in self._chan:
            yield chunk
        await self._task  # re-raise the failure, if any

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def collect(self) -> tuple[str, list[FunctionToolCall]]:
        """Convenience for text use: the whole reply and the tool calls."""
        text: list[str] = []
        calls: list[FunctionToolCall] = []
        async for chunk in self:
            if chunk.delta is None:
                continue
            if chunk.delta.content:
                text.append(chunk.delta.content)
            calls.extend(chunk.delta.tool_calls)
        return "".join(text), calls
