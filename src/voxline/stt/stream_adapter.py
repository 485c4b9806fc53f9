"""Makes a batch STT streaming: a VAD cuts the audio into utterances, each is recognized once.

A VAD declares the end of speech only after `min_silence_duration` of silence (half a second
by default), and a batch STT starts then. With `early_recognition` (seconds of silence), the
adapter starts recognizing the utterance speculatively as soon as that much silence is heard;
if the speech resumes, the speculation is dropped, and if the VAD then declares the end of
speech, its result is the final transcript. The hangover and the recognition overlap instead
of adding up; the cost is a wasted recognition when the user pauses mid-sentence.

An early result that is ready before the VAD has decided is sent at once as a
PREFLIGHT_TRANSCRIPT: the session may start a preemptive reply on it while the VAD is still
waiting out its silence.

With `interim_interval` (seconds of speech), the utterance so far is also recognized while
the user speaks, each time that much more speech has been heard and no recognition is
running, and sent as an INTERIM_TRANSCRIPT. It costs a recognition per interval of speech, on
cores that are otherwise idle while the user talks; a local LLM reads those words into its
prompt cache meanwhile (see `voxline.voice.prompt_prefill`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, SegmentEnd
from ..audio import AudioFrame
from ..vad import VAD, VADEventType
from .stt import STT, RecognizeStream, SpeechEvent, SpeechEventType, STTCapabilities


class StreamAdapter(STT):
    def __init__(
        self,
        *,
        stt: STT,
        vad: VAD,
        early_recognition: float | None = None,
        interim_interval: float | None = None,
    ) -> None:
        if early_recognition is not None and early_recognition < 0:
            raise ValueError(f"early_recognition must be >= 0 or None, got {early_recognition}")
        if interim_interval is not None and interim_interval <= 0:
            raise ValueError(f"interim_interval must be > 0 or None, got {interim_interval}")
        super().__init__(
            capabilities=STTCapabilities(
                streaming=True, interim_results=interim_interval is not None
            )
        )
        self._stt = stt
        self._vad = vad
        self._early = early_recognition
        self._interim_interval = interim_interval

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
        # early and interim passes whose result is still wanted: a pass's done callback may
        # already be queued when it is dropped or taken over, so the callbacks check this
        self._wanted: set[asyncio.Task[SpeechEvent]] = set()

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
        interval = self._adapter._interim_interval
        keep_speech = early is not None or interval is not None
        speech: list[AudioFrame] = []  # the utterance so far, for early and interim passes
        guess: asyncio.Task[SpeechEvent] | None = None
        interim: asyncio.Task[SpeechEvent] | None = None
        interim_at = 0.0  # seconds of speech the last interim pass heard
        silence = 0.0
        try:
            async for ev in vad_stream:
                if ev.type == VADEventType.START_OF_SPEECH:
                    speech = list(ev.frames)
                    interim_at = 0.0
                    self._emit(SpeechEvent(SpeechEventType.START_OF_SPEECH))
                elif ev.type == VADEventType.INFERENCE_DONE and keep_speech and ev.speaking:
                    speech.extend(ev.frames)
                    if ev.silence_duration < silence and guess is not None:
                        self._drop(guess)  # the user went on speaking
                        guess = None
                    silence = ev.silence_duration
                    if early is not None and guess is None and silence >= early:
                        if interim is not None:
                            self._drop(interim)  # the guess says it, and sooner
                            interim = None
                        guess = self._start_pass(speech, self._preflight)
                    elif (
                        interval is not None
                        and silence == 0.0
                        and guess is None
                        and (interim is None or interim.done())
                        and ev.speech_duration - interim_at >= interval
                    ):
                        interim_at = ev.speech_duration
                        interim = self._start_pass(speech, self._interim)
                elif ev.type == VADEventType.END_OF_SPEECH:
                    if interim is not None:
                        self._drop(interim)
                        interim = None
                    # final first, so an "stt" turn detector sees the text when speech ends
                    if guess is not None:
                        pending, guess = guess, None
                        self._wanted.discard(pending)  # the final says it, not a preflight
                        result = await pending
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
            for task in (guess, interim):
                if task is not None:
                    self._drop(task)
            await vad_stream.aclose()

    async def _recognize(self, frames: list[AudioFrame]) -> SpeechEvent:
        return await self._adapter._stt.recognize(
            frames, language=self._language, conn_options=self._conn_options
        )

    def _start_pass(
        self, speech: list[AudioFrame], on_done: Callable[[asyncio.Task[SpeechEvent]], None]
    ) -> asyncio.Task[SpeechEvent]:
        task = asyncio.get_running_loop().create_task(self._recognize(list(speech)))
        self._wanted.add(task)
        task.add_done_callback(on_done)
        return task

    def _preflight(self, task: asyncio.Task[SpeechEvent]) -> None:
        """An early recognition finished while the VAD still waits: say what it heard."""
        self._say(task, SpeechEventType.PREFLIGHT_TRANSCRIPT)

    def _interim(self, task: asyncio.Task[SpeechEvent]) -> None:
        """An interim pass over the utterance so far finished while the user speaks on."""
        self._say(task, SpeechEventType.INTERIM_TRANSCRIPT)

    def _say(self, task: asyncio.Task[SpeechEvent], kind: SpeechEventType) -> None:
        if task not in self._wanted:
            return  # dropped (the user went on, or speech ended) or taken over by the final
        self._wanted.discard(task)
        if task.cancelled() or task.exception() is not None:
            return  # a failure is raised by the final recognition, which the VAD's end awaits
        result = task.result()
        if result.alternatives and result.alternatives[0].text.strip():
            self._emit(SpeechEvent(kind, result.alternatives))

    def _drop(self, task: asyncio.Task[SpeechEvent]) -> None:
        self._wanted.discard(task)
        task.cancel()
        # a recognition that fails after it was dropped must not be reported as unretrieved
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
