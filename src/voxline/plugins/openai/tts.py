"""Text to speech through `audio.speech`, streamed as raw 24 kHz 16-bit mono PCM.

The audio is played as it arrives: each chunk of the HTTP body becomes frames right away,
so the first frame goes out long before the whole sentence is rendered.
"""

from __future__ import annotations

from typing import Any

from ..._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ...audio import AudioByteStream
from ...tts.tts import TTS as BaseTTS
from ...tts.tts import ChunkedStream, TTSCapabilities
from ._client import make_client, map_error

__all__ = ["TTS"]

SAMPLE_RATE = 24000  # what the "pcm" response format is: 24 kHz, 16-bit, mono
_FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms frames


class TTS(BaseTTS):
    def __init__(
        self,
        model: str = "gpt-4o-mini-tts",
        *,
        voice: str = "alloy",
        instructions: str | None = None,
        speed: float | None = None,
        response_format: str = "pcm",
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
    ) -> None:
        if response_format != "pcm":
            raise ValueError(
                f"response_format {response_format!r} is not supported: the TTS streams raw "
                "PCM, use 'pcm'"
            )
        if not model or not voice:
            raise ValueError("model and voice must be given")
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be between 0.25 and 4.0, got {speed}")
        super().__init__(
            capabilities=TTSCapabilities(streaming=False), sample_rate=SAMPLE_RATE, num_channels=1
        )
        self._model = model
        self.voice = voice
        self.instructions = instructions
        self.speed = speed
        self._client = make_client(api_key=api_key, base_url=base_url, client=client)

    @property
    def model(self) -> str:
        return self._model

    @property
    def client(self) -> Any:
        return self._client

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return _SpeechStream(self, text, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._client.close()


class _SpeechStream(ChunkedStream):
    async def _run(self) -> None:
        tts = self._tts
        assert isinstance(tts, TTS)
        request: dict[str, Any] = {
            "model": tts.model,
            "voice": tts.voice,
            "input": self._text,
            "response_format": "pcm",
            "timeout": self._conn_options.timeout,
        }
        if tts.instructions:
            request["instructions"] = tts.instructions
        if tts.speed is not None:
            request["speed"] = tts.speed
        pcm = AudioByteStream(SAMPLE_RATE, 1, _FRAME_SAMPLES)
        try:
            async with tts.client.audio.speech.with_streaming_response.create(**request) as resp:
                async for data in resp.iter_bytes():
                    for frame in pcm.push(data):
                        self._emit(frame)
        except Exception as e:
            import openai

            if isinstance(e, openai.OpenAIError):
                raise map_error(tts.label, e) from e
            raise
        for frame in pcm.flush():
            self._emit(frame)
