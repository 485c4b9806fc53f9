"""Makes a batch STT streaming: a VAD cuts the audio into utterances, each is recognized once."""

from __future__ import annotations

import asyncio

from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, SegmentEnd
from ..audio import AudioFrame
from ..vad import VAD, VADEventType
from .stt import STT, RecognizeStream, SpeechEvent, SpeechEventType, STTCapabilities


class StreamAdapter(STT):
    def __init__(self, *, stt: STT, vad: VAD) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=False))
        self._stt = stt
        self._vad = vad

    @property
    def wrapped_stt(self) -> STT:
        return self._stt

    @property
    def label(self) -> str:
        return f"StreamAdapter({self._stt.label})"

    def prewarm(self) -> None:
        self._stt.prewarm()

    def stream(
        self,
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        return _AdapterStream(self, language=language, conn_options=conn_options)


class _AdapterStream(RecognizeStream):
    def __init__(
        self, adapter: StreamAdapter, *, language: str | None, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(adapter, conn_options=conn_options)
        self._adapter = adapter
        self._language = language

    async def _run(self, frames: Chan[AudioFrame | SegmentEnd]) -> None:
        vad_stream = self._adapter._vad.stream()

        async def forward() -> None:
            async for frame in frames:
                if isinstance(frame, AudioFrame):
                    vad_stream.push_frame(frame)
            vad_stream.end_input()

        forward_task = asyncio.get_running_loop().create_task(forward())
        try:
            async for ev in vad_stream:
                if ev.type == VADEventType.START_OF_SPEECH:
                    self._emit(SpeechEvent(SpeechEventType.START_OF_SPEECH))
                elif ev.type == VADEventType.END_OF_SPEECH:
                    # final first, so an "stt" turn detector sees the text when speech ends
                    if ev.frames:
                        result = await self._adapter._stt.recognize(
                            ev.frames, language=self._language, conn_options=self._conn_options
                        )
                        if result.alternatives and result.alternatives[0].text.strip():
                            self._emit(
                                SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, result.alternatives)
                            )
                    self._emit(SpeechEvent(SpeechEventType.END_OF_SPEECH))
        finally:
            forward_task.cancel()
            await vad_stream.aclose()
