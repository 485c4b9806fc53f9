"""Speech to text through `audio.transcriptions` (one WAV upload per utterance).

Not a streaming STT: in a session it runs behind the VAD (`stt.StreamAdapter`), which cuts
the audio into utterances and sends each one here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._types import APIConnectOptions
from ..._utils.aio import short_id
from ...audio import AudioFrame, wav_bytes
from ...stt.stt import STT as BaseSTT
from ...stt.stt import SpeechData, SpeechEvent, SpeechEventType, STTCapabilities
from ._client import make_client, map_error

__all__ = ["STT"]


class STT(BaseSTT):
    def __init__(
        self,
        model: str = "gpt-4o-mini-transcribe",
        *,
        language: str | None = "en",
        prompt: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
    ) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        if not model:
            raise ValueError("model must be a model name")
        self._model = model
        self._language = language
        self._prompt = prompt
        self._client = make_client(api_key=api_key, base_url=base_url, client=client)

    @property
    def model(self) -> str:
        return self._model

    @property
    def client(self) -> Any:
        return self._client

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        frames = list(buffer)
        if not frames:
            raise ValueError("recognize() needs at least one audio frame")
        language = language or self._language
        request: dict[str, Any] = {
            "model": self._model,
            "file": ("audio.wav", wav_bytes(frames), "audio/wav"),
            "response_format": "json",
            "timeout": conn_options.timeout,
        }
        if language:
            request["language"] = language
        if self._prompt:
            request["prompt"] = self._prompt
        try:
            result = await self._client.audio.transcriptions.create(**request)
        except Exception as e:
            raise _mapped(self.label, e) from e
        text = getattr(result, "text", None)
        if not isinstance(text, str):
            text = str(result) if isinstance(result, str) else ""
        duration = sum(f.duration for f in frames)
        return SpeechEvent(
            type=SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[
                SpeechData(language=language or "", text=text.strip(), end_time=duration)
            ],
            request_id=short_id("stt"),
        )

    async def aclose(self) -> None:
        await self._client.close()


def _mapped(label: str, error: Exception) -> Exception:
    import openai

    return map_error(label, error) if isinstance(error, openai.OpenAIError) else error
