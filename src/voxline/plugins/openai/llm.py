"""Chat completions through the official `openai` package, streaming, with native tools.

`base_url` points it at any OpenAI-compatible server (llama.cpp's server, vLLM, a gateway);
`OPENAI_BASE_URL` and `OPENAI_API_KEY` are read from the environment when not given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..._exceptions import APIError
from ..._types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGiven,
    NotGivenOr,
    is_given,
)
from ..._utils.aio import short_id
from ...llm import llm as llm_base
from ...llm.chat_context import ChatContext, HistoryError
from ...llm.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall, ToolChoice
from ...llm.tool_context import Tool, flatten_tools
from ._client import make_client, map_error

__all__ = ["LLM", "LLMStream"]


class LLM(llm_base.LLM):
    """An OpenAI (or OpenAI-compatible) chat model. Options left unset are not sent, so a
    server's own defaults apply; `tool_choice` here is the default when a call gives none."""

    def __init__(
        self,
        model: str = "gpt-4.1-mini",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: NotGivenOr[float] = NOT_GIVEN,
        top_p: NotGivenOr[float] = NOT_GIVEN,
        max_completion_tokens: NotGivenOr[int] = NOT_GIVEN,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        user: NotGivenOr[str] = NOT_GIVEN,
        extra_body: dict[str, Any] | None = None,
        client: Any = None,
    ) -> None:
        if not model:
            raise ValueError("model must be a model name")
        if is_given(temperature) and not 0 <= temperature <= 2:
            raise ValueError(f"temperature must be between 0 and 2, got {temperature}")
        self._model = model
        self._client = make_client(api_key=api_key, base_url=base_url, client=client)
        self._options: dict[str, Any] = {
            name: value
            for name, value in (
                ("temperature", temperature),
                ("top_p", top_p),
                ("max_completion_tokens", max_completion_tokens),
                ("user", user),
            )
            if is_given(value)
        }
        self._parallel_tool_calls = parallel_tool_calls
        self._tool_choice: ToolChoice | None = (
            None if isinstance(tool_choice, NotGiven) else tool_choice
        )
        self._extra_body = dict(extra_body or {})

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "openai"

    @property
    def client(self) -> Any:
        return self._client

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream:
        if tool_choice is None:
            tool_choice = self._tool_choice
        return LLMStream(
            self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )

    async def aclose(self) -> None:
        await self._client.close()


@dataclass
class _PartialCall:
    call_id: str
    name: str
    arguments: str


class LLMStream(llm_base.LLMStream):
    async def _run(self) -> None:
        llm = self._llm
        assert isinstance(llm, LLM)
        request = self._request(llm)
        try:
            stream = await llm.client.chat.completions.create(**request)
            calls: dict[int, _PartialCall] = {}
            async with stream:
                async for chunk in stream:
                    self._on_chunk(chunk, calls)
            self._flush_calls(calls)
        except APIError:
            raise
        except Exception as e:
            import openai

            if isinstance(e, openai.OpenAIError):
                raise map_error(llm.label, e) from e
            raise

    def _request(self, llm: LLM) -> dict[str, Any]:
        try:
            messages = self._chat_ctx.to_openai()
        except HistoryError as e:
            raise APIError(f"{llm.label}: {e}", retryable=False) from e
        request: dict[str, Any] = {
            "model": llm.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self._conn_options.timeout,
            **llm._options,
        }
        tools = flatten_tools(self._tools)
        if tools:
            request["tools"] = [t.openai_schema() for t in tools]
            if self._tool_choice is not None:
                request["tool_choice"] = self._tool_choice
            if is_given(llm._parallel_tool_calls):
                request["parallel_tool_calls"] = llm._parallel_tool_calls
        if llm._extra_body:
            request["extra_body"] = llm._extra_body
        return request

    def _on_chunk(self, chunk: Any, calls: dict[int, _PartialCall]) -> None:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            details = getattr(usage, "prompt_tokens_details", None)
            self._send(
                ChatChunk(
                    id=chunk.id,
                    usage=CompletionUsage(
                        completion_tokens=usage.completion_tokens or 0,
                        prompt_tokens=usage.prompt_tokens or 0,
                        prompt_cached_tokens=getattr(details, "cached_tokens", None) or 0,
                        total_tokens=usage.total_tokens or 0,
                    ),
                )
            )
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is None:
                continue
            for tc in delta.tool_calls or []:
                self._add_call_fragment(tc, calls)
            if delta.content:
                self._send(ChatChunk(id=chunk.id, delta=ChoiceDelta(content=delta.content)))
            if choice.finish_reason is not None:
                self._flush_calls(calls)

    def _add_call_fragment(self, tc: Any, calls: dict[int, _PartialCall]) -> None:
        """Tool calls arrive in pieces: the first fragment of an index has the id and name,
        the next ones append to its arguments."""
        index = tc.index if tc.index is not None else len(calls)
        fn = tc.function
        call = calls.get(index)
        if call is None:
            call = calls[index] = _PartialCall(call_id=tc.id or "", name="", arguments="")
        elif tc.id and call.call_id and tc.id != call.call_id:
            # a server reusing an index for a new call: the previous one is complete
            self._flush_calls({index: call})
            call = calls[index] = _PartialCall(call_id=tc.id, name="", arguments="")
        if tc.id and not call.call_id:
            call.call_id = tc.id
        if fn is not None:
            if fn.name:
                call.name += fn.name
            if fn.arguments:
                call.arguments += fn.arguments

    def _flush_calls(self, calls: dict[int, _PartialCall]) -> None:
        if not calls:
            return
        done = [calls[i] for i in sorted(calls)]
        calls.clear()
        tool_calls = [
            FunctionToolCall(
                name=c.name,
                arguments=c.arguments,
                call_id=c.call_id or short_id("call"),
            )
            for c in done
            if c.name
        ]
        if tool_calls:
            self._send(ChatChunk(delta=ChoiceDelta(tool_calls=tool_calls)))
