"""The OpenAI plugin against small aiohttp servers on 127.0.0.1 that speak the three
endpoints: request shapes, tool-call assembly from a streamed response, PCM streaming, and
how HTTP errors map to voxline's retryable or final errors."""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from io import BytesIO
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from voxline import APIConnectOptions, APIError
from voxline._exceptions import APIConnectionError, APIStatusError
from voxline.audio import AudioFrame
from voxline.llm import ChatContext, function_tool
from voxline.models import UnknownModelError, resolve_model
from voxline.plugins import openai as vo

FAST = APIConnectOptions(max_retry=2, retry_interval=0.01, timeout=5.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(routes: dict[str, Handler]) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 with `routes` (POST paths); yields its /v1 base URL."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def error_handler(status: int, message: str, seen: list[int]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        seen.append(status)
        body = {"error": {"message": message, "type": "invalid_request_error"}}
        return web.json_response(body, status=status)

    return handler


def sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def call_delta(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    tc: dict[str, Any] = {"index": index, "function": fn}
    if id is not None:
        tc.update(id=id, type="function")
    return {"tool_calls": [tc]}


# Two parallel calls, streamed the way chat completions stream them: the first fragment of
# each index carries the id and name, the following ones pieces of the arguments.
TOOL_CALL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(call_delta(0, id="call_A", name="get_weather")),
    chunk(call_delta(0, args='{"lo')),
    chunk(call_delta(0, args='cation": "Par')),
    chunk(call_delta(0, args='is"}')),
    chunk(call_delta(1, id="call_B", name="get_time")),
    chunk(call_delta(1, args='{"timezone": "Europe/Paris"}')),
    chunk({}, finish="tool_calls"),
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1-mini",
        "choices": [],
        "usage": {
            "prompt_tokens": 80,
            "completion_tokens": 30,
            "total_tokens": 110,
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    },
]


@function_tool
async def get_weather(location: str) -> str:
    """The weather somewhere."""
    return "sunny"


@function_tool
async def get_time(timezone: str) -> str:
    """The time somewhere."""
    return "12:00"


def user_chat(text: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="Be brief.")
    ctx.add_message(role="user", content=text)
    return ctx


# ------------------------------------------------------------------ LLM


async def test_streamed_tool_calls_are_assembled_with_usage() -> None:
    bodies: list[dict[str, Any]] = []

    async def completions(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece in sse(TOOL_CALL_STREAM).split(b"\n\n"):
            await resp.write(piece + b"\n\n")
        await resp.write_eof()
        return resp

    async with serve({"/v1/chat/completions": completions}) as url:
        llm = vo.LLM(base_url=url, api_key="sk-test", temperature=0.2, parallel_tool_calls=True)
        stream = llm.chat(
            chat_ctx=user_chat("Weather and time in Paris?"),
            tools=[get_weather, get_time],
            tool_choice="auto",
            conn_options=FAST,
        )
        chunks = [c async for c in stream]
        await llm.aclose()
    calls = [tc for c in chunks if c.delta for tc in c.delta.tool_calls]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_A", "get_weather", {"location": "Paris"}),
        ("call_B", "get_time", {"timezone": "Europe/Paris"}),
    ]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].prompt_cached_tokens == 64
    assert usage[0].total_tokens == 110
    body = bodies[0]
    assert body["model"] == "gpt-4.1-mini" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2 and body["parallel_tool_calls"] is True
    assert body["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
    ]


@pytest.mark.parametrize(
    ("status", "retryable", "attempts"),
    [(500, True, 3), (503, True, 3), (429, True, 3), (400, False, 1), (404, False, 1)],
)
async def test_http_errors_map_to_retryable_or_final_errors(
    status: int, retryable: bool, attempts: int
) -> None:
    seen: list[int] = []
    handler = error_handler(status, f"server says {status}", seen)
    async with serve({"/v1/chat/completions": handler}) as url:
        llm = vo.LLM(base_url=url, api_key="sk-test")
        with pytest.raises(APIStatusError) as info:
            await llm.chat(chat_ctx=user_chat("hi"), conn_options=FAST).collect()
        await llm.aclose()
    assert info.value.status_code == status
    assert info.value.retryable is retryable
    assert f"server says {status}" in str(info.value)
    assert len(seen) == attempts  # the LLM retry logic acted on the mapping


async def test_a_rejected_key_names_the_environment_variable() -> None:
    seen: list[int] = []
    async with serve(
        {"/v1/chat/completions": error_handler(401, "Incorrect API key", seen)}
    ) as url:
        llm = vo.LLM(base_url=url, api_key="sk-wrong")
        with pytest.raises(APIStatusError, match="OPENAI_API_KEY") as info:
            await llm.chat(chat_ctx=user_chat("hi"), conn_options=FAST).collect()
        await llm.aclose()
    assert info.value.retryable is False and seen == [401]


def test_a_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    for make in (vo.LLM, vo.STT, vo.TTS):
        with pytest.raises(vo.MissingAPIKeyError, match="OPENAI_API_KEY"):
            make()
    with pytest.raises(vo.MissingAPIKeyError, match="OPENAI_API_KEY"):
        resolve_model("openai/gpt-4.1-mini", slot="llm")
    # a local OpenAI-compatible server needs no key
    assert vo.LLM(base_url="http://127.0.0.1:1/v1").model == "gpt-4.1-mini"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert vo.LLM().client.api_key == "sk-env"


async def test_an_unreachable_server_is_a_retryable_connection_error() -> None:
    async with serve({}) as url:
        pass  # closed again: nothing listens on that port now
    llm = vo.LLM(base_url=url, api_key="sk-test")
    with pytest.raises(APIConnectionError) as info:
        await llm.chat(chat_ctx=user_chat("hi"), conn_options=FAST).collect()
    assert info.value.retryable is True
    await llm.aclose()


async def test_an_invalid_history_fails_before_any_request() -> None:
    from voxline.llm import FunctionCall

    ctx = user_chat("hi")
    ctx.insert(FunctionCall(call_id="c1", name="get_time", arguments="{}"))
    llm = vo.LLM(base_url="http://127.0.0.1:1/v1")
    with pytest.raises(APIError, match="have no output") as info:
        await llm.chat(chat_ctx=ctx, conn_options=FAST).collect()
    assert info.value.retryable is False


def test_model_strings_resolve_per_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    llm = resolve_model("openai/gpt-4.1-mini", slot="llm")
    assert isinstance(llm, vo.LLM) and llm.model == "gpt-4.1-mini"
    assert isinstance(resolve_model("openai/whisper-1", slot="stt"), vo.STT)
    tts = resolve_model("openai/gpt-4o-mini-tts:ash", slot="tts")
    assert isinstance(tts, vo.TTS) and tts.voice == "ash"
    with pytest.raises(UnknownModelError, match="no 'vad' models"):
        resolve_model("openai/x", slot="vad")
    with pytest.raises(UnknownModelError, match="takes no ':fast' variant"):
        resolve_model("openai/gpt-4.1-mini:fast", slot="llm")
    with pytest.raises(UnknownModelError, match="openai"):
        resolve_model("nope/x", slot="llm")  # the error lists the known providers


# ------------------------------------------------------------------ STT


def tone(seconds: float, rate: int = 16000) -> AudioFrame:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    return AudioFrame(pcm, rate, 1, len(pcm))


async def test_stt_uploads_a_wav_and_returns_the_transcript() -> None:
    received: list[dict[str, Any]] = []

    async def transcriptions(request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        with wave.open(BytesIO(upload.file.read()), "rb") as w:
            received.append(
                {
                    "model": form["model"],
                    "language": form.get("language"),
                    "filename": upload.filename,
                    "rate": w.getframerate(),
                    "frames": w.getnframes(),
                }
            )
        return web.json_response({"text": " Hello there. "})

    async with serve({"/v1/audio/transcriptions": transcriptions}) as url:
        stt = vo.STT(base_url=url, api_key="sk-test", language="en")
        event = await stt.recognize([tone(0.5), tone(0.25)], conn_options=FAST)
        await stt.aclose()
    assert event.type.value == "final_transcript"
    assert event.text == "Hello there."
    assert event.alternatives[0].language == "en"
    assert received == [
        {
            "model": "gpt-4o-mini-transcribe",
            "language": "en",
            "filename": "audio.wav",
            "rate": 16000,
            "frames": 12000,
        }
    ]


async def test_stt_errors_are_mapped() -> None:
    seen: list[int] = []
    async with serve({"/v1/audio/transcriptions": error_handler(400, "bad audio", seen)}) as url:
        stt = vo.STT(base_url=url, api_key="sk-test")
        with pytest.raises(APIStatusError, match="bad audio") as info:
            await stt.recognize([tone(0.2)], conn_options=FAST)
        await stt.aclose()
    assert info.value.retryable is False and seen == [400]
    with pytest.raises(APIConnectionError, match="at least one audio frame"):
        await vo.STT(base_url=url).recognize([], conn_options=FAST)


# ------------------------------------------------------------------ TTS


async def test_tts_streams_pcm_frames_as_they_arrive() -> None:
    bodies: list[dict[str, Any]] = []
    pcm = (np.arange(24000 * 6 // 10) % 200 - 100).astype(np.int16).tobytes()  # 0.6 s
    release = asyncio.Event()

    async def speech(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await resp.prepare(request)
        await resp.write(pcm[:4801])  # an odd split: half a sample waits for the rest
        await release.wait()  # the rest only once the client has played the first part
        await resp.write(pcm[4801:])
        await resp.write_eof()
        return resp

    async with serve({"/v1/audio/speech": speech}) as url:
        tts = vo.TTS(base_url=url, api_key="sk-test", voice="ash", speed=1.25, instructions="Calm.")
        frames: list[AudioFrame] = []
        async for audio in tts.synthesize("Hello there.", conn_options=FAST):
            frames.append(audio.frame)
            release.set()
        await tts.aclose()
    assert bodies == [
        {
            "model": "gpt-4o-mini-tts",
            "voice": "ash",
            "input": "Hello there.",
            "response_format": "pcm",
            "instructions": "Calm.",
            "speed": 1.25,
        }
    ]
    assert all(f.sample_rate == 24000 and f.num_channels == 1 for f in frames)
    assert b"".join(f.to_bytes() for f in frames) == pcm
    assert frames[0].samples_per_channel == 480  # 20 ms frames


async def test_tts_errors_are_mapped_and_options_checked() -> None:
    seen: list[int] = []
    async with serve({"/v1/audio/speech": error_handler(500, "overloaded", seen)}) as url:
        tts = vo.TTS(base_url=url, api_key="sk-test")
        with pytest.raises(APIStatusError, match="overloaded") as info:
            async for _ in tts.synthesize("Hi.", conn_options=FAST):
                pass
        await tts.aclose()
    assert info.value.retryable is True and seen == [500, 500, 500]
    with pytest.raises(ValueError, match="use 'pcm'"):
        vo.TTS(base_url=url, response_format="mp3")
    with pytest.raises(ValueError, match="speed"):
        vo.TTS(base_url=url, speed=9.0)
