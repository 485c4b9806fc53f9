"""Makes a batch STT streaming: a VAD cuts the audio into utterances, each is recognized once.

A VAD declares the end of speech only after `min_silence_duration` of silence (half a second
by default), and a batch STT starts then. With `early_recognition` (seconds of silence), the
adapter starts recognizing the utterance speculatively as soon as that much silence is heard;
if the speech resumes, the speculation is dropped, and if the VAD then declares the end of
speech, its result is the final transcript. The hangover and the recognition overlap instead
of adding up; the cost is a wasted recognition when the user pauses mid-sentence."""

from __future__ import annotations

import asyncio

from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, SegmentEnd
from ..audio import AudioFrame
from ..vad import VAD, VADEventType
from .stt import STT, RecognizeStream, SpeechEvent, SpeechEventType, STTCapabilities


class StreamAdapter(STT):
    def __init__(self, *, stt: STT, vad: VAD, early_recognition: float | None = None) -> None:
        if early_recognition is not None and early_recognition < 0:
            raise ValueError(f"early_recognition must be >= 0 or None, got {early_recognition}")
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=False))
        self._stt = stt
        self._vad = vad
        self._early = early_recognition

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

        loop = asyncio.get_running_loop()
        forward_task = loop.create_task(forward())
        early = self._adapter._early
        speech: list[AudioFrame] = []  # the utterance so far, for an early recognition
        guess: asyncio.Task[SpeechEvent] | None = None
        silence = 0.0
        try:
            async for ev in vad_stream:
                if ev.type == VADEventType.START_OF_SPEECH:
                    speech = list(ev.frames)
                    self._emit(SpeechEvent(SpeechEventType.START_OF_SPEECH))
                elif ev.type == VADEventType.INFERENCE_DONE and early is not None and ev.speaking:
                    speech.extend(ev.frames)
                    if ev.silence_duration < silence and guess is not None:
                        self._drop(guess)  # the user went on speaking
                        guess = None
                    silence = ev.silence_duration
                    if guess is None and silence >= early:
                        guess = loop.create_task(self._recognize(list(speech)))
                elif ev.type == VADEventType.END_OF_SPEECH:
                    # final first, so an "stt" turn detector sees the text when speech ends
                    if guess is not None:
                        result = await guess
                    elif ev.frames:
                        result = await self._recognize(ev.frames)
                    else:
                        result = None
                    guess, speech, silence = None, [], 0.0
                    if result and result.alternatives and result.alternatives[0].text.strip():
                        self._emit(
                            SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, result.alternatives)
                        )
                    self._emit(SpeechEvent(SpeechEventType.END_OF_SPEECH))
        finally:
            forward_task.cancel()
            if guess is not None:
                self._drop(guess)
            await vad_stream.aclose()

    async def _recognize(self, frames: list[AudioFrame]) -> SpeechEvent:
        return await self._adapter._stt.recognize(
            frames, language=self._language, conn_options=self._conn_options
        )

    @staticmethod
    def _drop(task: asyncio.Task[SpeechEvent]) -> None:
        task.cancel()
        # a recognition that fails after it was dropped must not be reported as unretrieved
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
