"""The local LLM on the real Qwen2.5 0.5B GGUF: streamed answers, tool calls through a
session, the prompt cache after prewarming, and cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from voxline import Agent, AgentSession, APIError, function_tool
from voxline._exceptions import APIConnectionError
from voxline.llm import ChatContext
from voxline.plugins import llama

pytestmark = pytest.mark.models

INSTRUCTIONS = "You are a helpful voice assistant. Keep answers short."


@function_tool
async def add(a: float, b: float) -> str:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return f"{a + b:g}"


@pytest.fixture(scope="module")
def llm() -> Iterator[llama.LLM]:
    model = llama.LLM(temperature=0.0, max_tokens=48)
    model.load_blocking()  # loads once for the module; sessions of the module share it
    yield model


def chat(*turns: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=INSTRUCTIONS)
    for text in turns:
        ctx.add_message(role="user", content=text)
    return ctx


async def test_answers_a_factual_question_as_a_stream(llm: llama.LLM) -> None:
    stream = llm.chat(chat_ctx=chat("What is the capital of France?"))
    pieces: list[str] = []
    usage = None
    async with stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                pieces.append(chunk.delta.content)
            if chunk.usage is not None:
                usage = chunk.usage
    assert len(pieces) > 2, pieces  # token by token, not one block
    assert "paris" in "".join(pieces).lower()
    assert stream.ttft is not None
    assert usage is not None and usage.completion_tokens >= len(pieces)


async def test_calls_a_tool_with_typed_arguments_through_a_session(llm: llama.LLM) -> None:
    agent = Agent(instructions=INSTRUCTIONS, tools=[add])
    async with AgentSession(llm=llm) as session:
        await session.start(agent)
        result = await session.run(user_input="What is 17 plus 25?")
    call = result.expect.next_event().is_function_call(name="add")
    assert json.loads(call.event().item.arguments) == {"a": 17, "b": 25}
    result.expect.next_event().is_function_call_output(output="42", is_error=False)
    reply = result.expect.next_event().is_message(role="assistant")
    assert reply.event().item.text_content  # a spoken answer after the tool result


async def test_a_reply_streams_out_of_the_action_json(llm: llama.LLM) -> None:
    stream = llm.chat(
        chat_ctx=chat("Describe the sea in one sentence."), tools=[add], tool_choice="none"
    )
    pieces: list[str] = []
    async with stream:
        async for chunk in stream:
            assert chunk.delta is None or not chunk.delta.tool_calls
            if chunk.delta is not None and chunk.delta.content:
                pieces.append(chunk.delta.content)
    text = "".join(pieces)
    assert len(pieces) > 2 and text.strip()
    assert '"tool"' not in text and "{" not in text  # the JSON wrapper is not spoken


async def test_prewarm_puts_the_system_prompt_in_the_cache(llm: llama.LLM) -> None:
    @function_tool
    async def book_table(people: int, time: str) -> str:
        """Book a table at the restaurant.

        Args:
            people: how many guests
            time: when, like 8 PM
        """
        return "booked"

    instructions = "You take bookings for the Blue Door restaurant. Keep answers short."
    warm = await llm.prewarm_prompt(instructions, [book_table])
    assert warm is not None
    assert warm["prompt_n"] > 60  # the prewarm itself read the prompt: it was not cached
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=instructions)
    ctx.add_message(role="user", content="Hi!")
    stream = llm.chat(chat_ctx=ctx, tools=[book_table])
    async with stream:
        await stream.collect()
    assert stream.timings is not None
    # the whole system prompt came from the cache; only the user turn was read
    assert stream.timings["cache_n"] >= warm["prompt_n"] + warm["cache_n"] - 5
    assert stream.timings["prompt_n"] < 20


async def test_cancelling_a_stream_stops_generation(llm: llama.LLM) -> None:
    long = llama.LLM(temperature=0.0, max_tokens=400)  # same model: the shared server
    stream = long.chat(chat_ctx=chat("Tell me a long story about a dragon and a knight."))
    seen = 0
    async for chunk in stream:
        if chunk.delta is not None and chunk.delta.content:
            seen += 1
        if seen >= 3:
            break
    await stream.aclose()
    assert await stream.generation_finished(timeout=10.0)
    stopped_at = stream.tokens_generated
    assert stopped_at < 20  # stopped within a token or two, far before max_tokens
    await asyncio.sleep(0.5)
    assert stream.tokens_generated == stopped_at
    # and the server is free for the next request at once
    text, _ = await llm.chat(chat_ctx=chat("Say yes.")).collect()
    assert text.strip()


def test_models_share_one_server_per_process(llm: llama.LLM) -> None:
    other = llama.LLM(temperature=0.9)
    other.prewarm()  # in the background, and quick: the model is already loaded
    assert other._prewarm_thread is not None
    other._prewarm_thread.join(timeout=30)
    assert other.server is llm.server
    assert (
        len([p for p in llama.loaded_servers() if p.path.endswith("0.5b-instruct-q4_k_m.gguf")])
        == 1
    )


async def test_concurrent_sessions_share_the_server_and_both_get_answers(
    llm: llama.LLM,
) -> None:
    async def ask(text: str) -> str:
        reply, _ = await llm.chat(chat_ctx=chat(text)).collect()
        return reply

    paris, hamlet = await asyncio.gather(
        ask("What is the capital of France?"), ask("Who wrote Hamlet?")
    )
    assert "paris" in paris.lower()
    assert "shakespeare" in hamlet.lower()


async def test_a_truncated_tool_call_reaches_the_session_as_invalid_arguments(
    llm: llama.LLM,
) -> None:
    tight = llama.LLM(temperature=0.0, max_tokens=8)
    stream = tight.chat(chat_ctx=chat("Add 17 and 25."), tools=[add], tool_choice="required")
    async with stream:
        text, calls = await stream.collect()
    assert text == "" and len(calls) == 1 and calls[0].name == "add"
    with pytest.raises(Exception, match=r"not valid JSON|invalid arguments"):
        add.parse_arguments(calls[0].arguments)


def test_bad_configuration_gets_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown local LLM 'gpt-9'.*qwen2\.5-0\.5b"):
        llama.LLM(model="gpt-9")
    with pytest.raises(ValueError, match="temperature"):
        llama.LLM(temperature=-1)
    with pytest.raises(ValueError, match="max_tokens"):
        llama.LLM(max_tokens=0)


async def test_a_missing_gguf_fails_the_stream_without_retrying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = llama.LLM(model="/nonexistent/dir/model.gguf")
    missing.prewarm()  # in the background: it returns at once and logs the failure
    assert missing._prewarm_thread is not None
    missing._prewarm_thread.join(timeout=10)
    assert "GGUF model file not found" in caplog.text
    with pytest.raises(APIConnectionError, match="GGUF model file not found") as info:
        await missing.chat(chat_ctx=chat("hi")).collect()
    assert info.value.retryable is False


async def test_tool_choice_naming_an_unknown_tool_is_an_error(llm: llama.LLM) -> None:
    stream = llm.chat(
        chat_ctx=chat("hi"),
        tools=[add],
        tool_choice={"type": "function", "function": {"name": "x"}},
    )
    with pytest.raises(APIError, match="'x', which is not a tool here"):
        await stream.collect()
