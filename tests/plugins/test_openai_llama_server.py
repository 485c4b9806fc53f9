"""The OpenAI plugin against a real OpenAI-compatible server: llama.cpp's HTTP server (the
one xllamacpp runs in-process, on 127.0.0.1) serving the Qwen2.5 0.5B GGUF."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from voxline import APIConnectOptions
from voxline._exceptions import APIStatusError
from voxline.llm import ChatContext
from voxline.plugins import llama
from voxline.plugins import openai as vo

pytestmark = pytest.mark.models

CONN = APIConnectOptions(max_retry=1, retry_interval=0.1, timeout=60.0)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    local = llama.LLM()
    local.load_blocking()  # the per-process server: it also listens on 127.0.0.1
    address = local.server.listening_address
    assert address.startswith("http://127.0.0.1:")
    yield f"{address}/v1"


def chat(text: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="You are a helpful assistant. Answer in one sentence.")
    ctx.add_message(role="user", content=text)
    return ctx


async def test_streams_an_answer_from_the_local_server(base_url: str) -> None:
    llm = vo.LLM(model="qwen", base_url=base_url, temperature=0.0, max_completion_tokens=40)
    pieces: list[str] = []
    usage = None
    async for c in llm.chat(chat_ctx=chat("What is the capital of France?"), conn_options=CONN):
        if c.delta is not None and c.delta.content:
            pieces.append(c.delta.content)
        if c.usage is not None:
            usage = c.usage
    await llm.aclose()
    assert len(pieces) > 2, pieces
    assert "paris" in "".join(pieces).lower()
    assert usage is not None and 0 < usage.completion_tokens <= 40
    assert usage.prompt_tokens > 10


async def test_a_request_the_server_rejects_is_a_final_error(base_url: str) -> None:
    llm = vo.LLM(model="qwen", base_url=base_url)
    too_long = "word " * 6000  # more tokens than the 4096-token context
    with pytest.raises(APIStatusError) as info:
        await llm.chat(chat_ctx=chat(too_long), conn_options=CONN).collect()
    await llm.aclose()
    assert info.value.status_code == 400 and info.value.retryable is False
    assert "context" in str(info.value).lower()
