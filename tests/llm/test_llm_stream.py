"""LLMStream: retries before the first chunk, idle timeout between chunks, errors surface."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from voxline import APIConnectOptions, APIError, APITimeoutError
from voxline._types import DEFAULT_API_CONNECT_OPTIONS
from voxline.llm import LLM, ChatChunk, ChatContext, ChoiceDelta, LLMStream, Tool, ToolChoice


class ScriptedLLM(LLM):
    def __init__(self, *, gaps: Sequence[float], fail_first: int = 0, retryable: bool = True):
        self.gaps = list(gaps)
        self.fail_first = fail_first
        self.retryable = retryable
        self.attempts = 0

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream:
        return _Stream(
            self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )


class _Stream(LLMStream):
    async def _run(self) -> None:
        llm = self._llm
        assert isinstance(llm, ScriptedLLM)
        llm.attempts += 1
        if llm.attempts <= llm.fail_first:
            raise APIError("transient", retryable=llm.retryable)
        for i, gap in enumerate(llm.gaps):
            await asyncio.sleep(gap)
            self._send(ChatChunk(delta=ChoiceDelta(content=f"w{i} ")))


@pytest.mark.virtual_time
async def test_a_long_steady_stream_is_not_cut_by_the_timeout() -> None:
    llm = ScriptedLLM(gaps=[0.5] * 40)  # 20 s of answer, never 2 s of silence
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=APIConnectOptions(timeout=2.0))
    text, _ = await stream.collect()
    assert text.count("w") == 40


@pytest.mark.virtual_time
async def test_silence_longer_than_the_timeout_fails() -> None:
    llm = ScriptedLLM(gaps=[0.5, 5.0])
    options = APIConnectOptions(timeout=2.0, max_retry=0)
    stream = llm.chat(chat_ctx=ChatContext.empty(), conn_options=options)
    start = asyncio.get_running_loop().time()
    with pytest.raises(APITimeoutError):
        await stream.collect()
    assert asyncio.get_running_loop().time() - start == pytest.approx(2.5)


@pytest.mark.virtual_time
async def test_retryable_failures_before_the_first_chunk_are_retried() -> None:
    llm = ScriptedLLM(gaps=[0.1], fail_first=2)
    options = APIConnectOptions(max_retry=3, retry_interval=1.0)
    text, _ = await llm.chat(chat_ctx=ChatContext.empty(), conn_options=options).collect()
    assert text == "w0 " and llm.attempts == 3


@pytest.mark.virtual_time
async def test_non_retryable_failures_surface_at_once() -> None:
    llm = ScriptedLLM(gaps=[0.1], fail_first=1, retryable=False)
    with pytest.raises(APIError, match="transient"):
        await llm.chat(chat_ctx=ChatContext.empty()).collect()
    assert llm.attempts == 1


def test_connect_options_validate() -> None:
    with pytest.raises(ValueError, match="timeout"):
        APIConnectOptions(timeout=0)
    with pytest.raises(ValueError, match="max_retry"):
        APIConnectOptions(max_retry=-1)
