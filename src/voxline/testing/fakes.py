"""Scripted fakes of every model and I/O slot, timed on the loop clock.

A `FakeActions` script says who speaks when and what each model answers; the fakes replay
it relative to the first audio frame the session receives (the time origin), so scenario
tests read like timelines: "the user speaks 0.5-2.5 s, the agent answers at 3.5 s".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import APIConnectionError, APIError
from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, SegmentEnd, now
from ..audio import AudioFrame
from ..llm.chat_context import ChatContext
from ..llm.llm import LLM, ChatChunk, ChoiceDelta, FunctionToolCall, LLMStream, ToolChoice
from ..llm.tool_context import Tool
from ..stt.stt import (
    STT,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
)
from ..tts.timed import TimedString
from ..tts.tts import (
    TTS,
    ChunkedStream,
    SynthesizedAudio,
    SynthesizeStream,
    TTSCapabilities,
)
from ..vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream
from ..voice.io import AudioInput, AudioOutput, PlaybackFinishedEvent, TextOutput

SAMPLE_RATE = 16000
FRAME_SECONDS = 0.05
VAD_MIN_SPEECH = 0.05
VAD_MIN_SILENCE = 0.5


@dataclass
class UserSpeech:
    start: float
    end: float
    transcript: str
    stt_delay: float = 0.2


@dataclass
class LLMAction:
    content: str
    tool_calls: list[FunctionToolCall] = field(default_factory=list)
    input: str = ""
    ttft: float = 0.1
    duration: float = 0.3


@dataclass
class TTSAction:
    audio_duration: float
    input: str = ""
    ttfb: float = 0.2
    duration: float = 0.3


class FakeActions:
    """The script of a conversation: user speech, LLM answers and TTS renderings."""

    def __init__(self) -> None:
        self.user_speeches: list[UserSpeech] = []
        self.llm: list[LLMAction] = []
        self.tts: list[TTSAction] = []

    def add_user_speech(
        self, start: float, end: float, transcript: str, stt_delay: float = 0.2
    ) -> FakeActions:
        if end < start:
            raise ValueError(f"user speech ends ({end}) before it starts ({start})")
        self.user_speeches.append(UserSpeech(start, end, transcript, stt_delay))
        return self

    def add_llm(
        self,
        content: str,
        tool_calls: Sequence[FunctionToolCall] = (),
        input: str | None = None,
        ttft: float = 0.1,
        duration: float = 0.3,
    ) -> FakeActions:
        """Answer `content` when the last chat item's text is `input` (default: the last
        user speech of the script)."""
        if input is None:
            spoken = [s.transcript for s in self.user_speeches if s.transcript]
            if not spoken:
                raise ValueError("add_llm needs input= when no user speech precedes it")
            input = spoken[-1]
        self.llm.append(LLMAction(content, list(tool_calls), input, ttft, duration))
        return self

    def add_tts(
        self,
        audio_duration: float,
        input: str | None = None,
        ttfb: float = 0.2,
        duration: float = 0.3,
    ) -> FakeActions:
        """Render `audio_duration` seconds for `input` (default: the last LLM content)."""
        if input is None:
            if not self.llm:
                raise ValueError("add_tts needs input= when no LLM answer precedes it")
            input = self.llm[-1].content
        self.tts.append(TTSAction(audio_duration, input, ttfb, duration))
        return self

    @property
    def last_user_event_time(self) -> float:
        return max(
            (s.end + max(VAD_MIN_SILENCE, s.stt_delay) for s in self.user_speeches), default=0.0
        )


# ------------------------------------------------------------------------------ VAD


class FakeVAD(VAD):
    """Start of speech at start+0.05 s, end of speech at end+0.5 s, from the first frame."""

    def __init__(self, actions: FakeActions) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=FRAME_SECONDS))
        self._actions = actions
        self.origin: float | None = None

    def stream(self) -> VADStream:
        return _FakeVADStream(self, self._actions)


class _FakeVADStream(VADStream):
    def __init__(self, vad: FakeVAD, actions: FakeActions) -> None:
        super().__init__(vad)
        self._vad: FakeVAD = vad
        self._actions = actions
        self._handles: list[asyncio.TimerHandle] = []
        self._current: UserSpeech | None = None
        self._origin = 0.0

    async def _run(self, frames: Chan[AudioFrame]) -> None:
        origin: float | None = None
        loop = asyncio.get_running_loop()
        try:
            async for _ in frames:
                if origin is not None:
                    continue
                if self._vad.origin is None:
                    self._vad.origin = now()
                origin = self._origin = self._vad.origin
                for sp in self._actions.user_speeches:
                    if origin + sp.end + VAD_MIN_SILENCE < now():
                        continue  # already past for a stream started later
                    self._handles.append(
                        loop.call_at(origin + sp.start + VAD_MIN_SPEECH, self._start, sp)
                    )
                    self._handles.append(
                        loop.call_at(origin + sp.end + VAD_MIN_SILENCE, self._end, sp)
                    )
        finally:
            for h in self._handles:
                h.cancel()

    def _progress(self, sp: UserSpeech) -> None:
        """Inference results every frame while speech lasts, counting speech only."""
        if self._current is not sp:
            return
        t = now() - self._origin
        self._emit(
            VADEvent(
                VADEventType.INFERENCE_DONE,
                samples_index=0,
                timestamp=now(),
                speech_duration=min(t, sp.end) - sp.start,
                silence_duration=max(0.0, t - sp.end),
                speaking=True,
            )
        )
        self._handles.append(
            asyncio.get_running_loop().call_later(FRAME_SECONDS, self._progress, sp)
        )

    def _start(self, sp: UserSpeech) -> None:
        self._current = sp
        self._handles.append(
            asyncio.get_running_loop().call_later(FRAME_SECONDS, self._progress, sp)
        )
        self._emit(
            VADEvent(
                VADEventType.START_OF_SPEECH,
                samples_index=0,
                timestamp=now(),
                speech_duration=VAD_MIN_SPEECH,
                silence_duration=0.0,
                speaking=True,
            )
        )

    def _end(self, sp: UserSpeech) -> None:
        if self._current is sp:
            self._current = None
        self._emit(
            VADEvent(
                VADEventType.END_OF_SPEECH,
                samples_index=0,
                timestamp=now(),
                speech_duration=sp.end - sp.start,
                silence_duration=VAD_MIN_SILENCE,
                speaking=False,
            )
        )


# ------------------------------------------------------------------------------ STT


class FakeSTT(STT):
    """Streaming STT: interim (first two words) at end+stt_delay/2, final at end+stt_delay.
    An empty transcript is noise only the VAD hears. `fail_times` makes the first streams
    fail; `fake_exception` chooses the error."""

    def __init__(
        self,
        actions: FakeActions,
        *,
        fail_times: int = 0,
        fake_exception: Exception | None = None,
    ) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=True))
        self._actions = actions
        self.fail_times = fail_times
        self.fake_exception = fake_exception
        self.streams_created = 0
        self.origin: float | None = None

    def stream(
        self,
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        self.streams_created += 1
        fail = self.streams_created <= self.fail_times
        return _FakeSTTStream(self, self._actions, fail=fail)


class _FakeSTTStream(RecognizeStream):
    def __init__(self, stt: FakeSTT, actions: FakeActions, *, fail: bool) -> None:
        super().__init__(stt)
        self._fake = stt
        self._actions = actions
        self._fail = fail
        self._handles: list[asyncio.TimerHandle] = []

    async def _run(self, frames: Chan[AudioFrame | SegmentEnd]) -> None:
        loop = asyncio.get_running_loop()
        origin: float | None = None
        try:
            async for frame in frames:
                if not isinstance(frame, AudioFrame) or origin is not None:
                    continue
                if self._fake.origin is None:
                    self._fake.origin = now()
                origin = self._fake.origin
                if self._fail:
                    raise self._fake.fake_exception or APIConnectionError("fake STT failure")
                for sp in self._actions.user_speeches:
                    if not sp.transcript:
                        continue
                    at = origin + sp.end
                    if at + sp.stt_delay < now():
                        continue  # already past for a restarted stream
                    self._handles.append(
                        loop.call_at(
                            origin + sp.start, self._emit_type, SpeechEventType.START_OF_SPEECH, ""
                        )
                    )
                    words = sp.transcript.split()
                    if len(words) > 2 and sp.stt_delay > 0:
                        self._handles.append(
                            loop.call_at(
                                at + sp.stt_delay / 2,
                                self._emit_type,
                                SpeechEventType.INTERIM_TRANSCRIPT,
                                " ".join(words[:2]),
                            )
                        )
                    self._handles.append(
                        loop.call_at(
                            at + sp.stt_delay,
                            self._emit_type,
                            SpeechEventType.FINAL_TRANSCRIPT,
                            sp.transcript,
                        )
                    )
                    self._handles.append(
                        loop.call_at(
                            at + sp.stt_delay, self._emit_type, SpeechEventType.END_OF_SPEECH, ""
                        )
                    )
        finally:
            for h in self._handles:
                h.cancel()

    def _emit_type(self, kind: SpeechEventType, text: str) -> None:
        alts = [SpeechData(language="en", text=text)] if text else []
        self._emit(SpeechEvent(kind, alts))


# ------------------------------------------------------------------------------ LLM


class FakeLLM(LLM):
    """Answers by the text of the last chat item (a message or a tool output): waits `ttft`,
    streams the content in 3-character chunks, ends at `duration`, then emits tool calls.
    Unknown input gets an empty answer at once."""

    def __init__(
        self,
        actions: FakeActions,
        *,
        fail_times: int = 0,
        fake_exception: Exception | None = None,
        hang: bool = False,
    ) -> None:
        self._actions = actions
        self.fail_times = fail_times
        self.fake_exception = fake_exception
        self.hang = hang
        self.requests: list[ChatContext] = []
        self.tool_choices: list[ToolChoice | None] = []

    @property
    def model(self) -> str:
        return "fake-llm"

    @property
    def provider(self) -> str:
        return "voxline.testing"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream:
        self.requests.append(chat_ctx)
        self.tool_choices.append(tool_choice)
        return _FakeLLMStream(
            self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )

    def lookup(self, chat_ctx: ChatContext) -> LLMAction | None:
        key = _last_item_text(chat_ctx)
        return next((a for a in reversed(self._actions.llm) if a.input == key), None)


def _last_item_text(chat_ctx: ChatContext) -> str:
    for item in reversed(chat_ctx.items):
        if item.type == "message":
            return item.text_content or ""
        if item.type == "function_call_output":
            return item.output
    return ""


class _FakeLLMStream(LLMStream):
    async def _run(self) -> None:
        fake = self._llm
        assert isinstance(fake, FakeLLM)
        if fake.fail_times > 0:
            fake.fail_times -= 1
            raise fake.fake_exception or APIError("fake LLM failure", retryable=False)
        if fake.hang:
            await asyncio.Event().wait()
        action = fake.lookup(self._chat_ctx)
        if action is None:
            return
        start = now()
        await asyncio.sleep(action.ttft)
        for i in range(0, len(action.content), 3):
            self._send(ChatChunk(delta=ChoiceDelta(content=action.content[i : i + 3])))
        remaining = action.duration - (now() - start)
        if remaining > 0:
            await asyncio.sleep(remaining)
        if action.tool_calls and self._tool_choice != "none":
            self._send(ChatChunk(delta=ChoiceDelta(tool_calls=action.tool_calls)))


# ------------------------------------------------------------------------------ TTS


class FakeTTS(TTS):
    """Renders silence by input text: waits `ttfb` after the text is complete, emits
    `audio_duration` seconds, ends at `duration`. Unknown text renders nothing."""

    def __init__(
        self,
        actions: FakeActions,
        *,
        streaming: bool = True,
        aligned: bool = False,
        fail_times: int = 0,
        fake_exception: Exception | None = None,
    ) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=streaming, aligned_transcript=aligned),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._actions = actions
        self.fail_times = fail_times
        self.fake_exception = fake_exception
        self.inputs: list[str] = []

    def lookup(self, text: str) -> TTSAction | None:
        return next((a for a in reversed(self._actions.tts) if a.input == text), None)

    def word_timings(self, text: str) -> list[TimedString]:
        """Words spread evenly over the rendered audio, as an aligned TTS would report."""
        action = self.lookup(text)
        words = text.split()
        if action is None or not words:
            return []
        step = action.audio_duration / len(words)
        return [
            TimedString(word + " ", start_time=i * step, end_time=(i + 1) * step)
            for i, word in enumerate(words)
        ]

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return _FakeChunkedStream(self, text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        if not self.capabilities.streaming:
            return super().stream(conn_options=conn_options)
        return _FakeSynthesizeStream(self, conn_options=conn_options)

    async def render(self, text: str) -> AsyncIterator[AudioFrame]:
        self.inputs.append(text)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.fake_exception or APIError("fake TTS failure", retryable=False)
        action = self.lookup(text)
        if action is None:
            return
        start = now()
        await asyncio.sleep(action.ttfb)
        remaining = action.audio_duration
        while remaining > 1e-9:
            seconds = min(FRAME_SECONDS, remaining)
            samples = round(seconds * SAMPLE_RATE)
            if samples == 0:
                break
            yield AudioFrame.create(SAMPLE_RATE, 1, samples)
            remaining -= samples / SAMPLE_RATE
        rest = action.duration - (now() - start)
        if rest > 0:
            await asyncio.sleep(rest)


class _FakeChunkedStream(ChunkedStream):
    async def _run(self) -> None:
        tts = self._tts
        assert isinstance(tts, FakeTTS)
        async for frame in tts.render(self._text):
            self._emit(frame)


class _FakeSynthesizeStream(SynthesizeStream):
    async def _run(self, text: Chan[str | SegmentEnd]) -> None:
        tts = self._tts
        assert isinstance(tts, FakeTTS)
        pending: list[str] = []
        async for piece in text:
            if isinstance(piece, str):
                pending.append(piece)
                continue
            if pending:
                await self._synthesize("".join(pending))
                pending = []
        if pending:
            await self._synthesize("".join(pending))

    async def _synthesize(self, text: str) -> None:
        tts = self._tts
        assert isinstance(tts, FakeTTS)
        first = True
        async for frame in tts.render(text):
            timed = tts.word_timings(text) if first and tts.capabilities.aligned_transcript else []
            first = False
            self._emit(SynthesizedAudio(frame=frame, timed_text=timed))


# ------------------------------------------------------------------------------ I/O


class FakeAudioInput(AudioInput):
    """Silence frames at real-time pace on the loop clock, for as long as `push` allows."""

    def __init__(self, *, sample_rate: int = SAMPLE_RATE) -> None:
        self._sample_rate = sample_rate
        self._budget = 0.0
        self._more = asyncio.Event()
        self._closed = False
        self.first_frame_at: float | None = None
        self._first_frame = asyncio.Event()

    async def wait_first_frame(self) -> float:
        await self._first_frame.wait()
        assert self.first_frame_at is not None
        return self.first_frame_at

    def push(self, seconds: float) -> None:
        self._budget += seconds
        self._more.set()

    def close(self) -> None:
        self._closed = True
        self._more.set()

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        samples = round(FRAME_SECONDS * self._sample_rate)
        next_at: float | None = None
        while True:
            while self._budget < FRAME_SECONDS / 2:
                if self._closed:
                    return
                self._more.clear()
                await self._more.wait()
                next_at = None
            if next_at is None:
                next_at = now()
            else:
                delay = next_at - now()
                if delay > 0:
                    await asyncio.sleep(delay)
            if self.first_frame_at is None:
                self.first_frame_at = now()
                self._first_frame.set()
            self._budget -= FRAME_SECONDS
            next_at += FRAME_SECONDS
            yield AudioFrame.create(self._sample_rate, 1, samples)


class FakeAudioOutput(AudioOutput):
    """Plays on a virtual playout clock: playback starts with the first captured frame
    (or on resume), finishes `pushed duration` later; `clear_buffer` reports the position."""

    def __init__(self, *, can_pause: bool = False, sample_rate: int | None = None) -> None:
        super().__init__(sample_rate=sample_rate, can_pause=can_pause)
        self.playback_finished_events: list[PlaybackFinishedEvent] = []
        self.playback_started_at: list[float] = []
        self.captured_duration = 0.0
        self._pushed = 0.0
        self._started_at: float | None = None
        self._paused = False
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._flushed = False
        self._finish_handle: asyncio.TimerHandle | None = None
        self._in_segment = False

    async def capture_frame(self, frame: AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._in_segment:
            self._in_segment = True
            self._pushed = 0.0
            self._started_at = None
            self._paused_total = 0.0
            self._flushed = False
            if not self._paused:
                self._start()
        self._pushed += frame.duration
        self.captured_duration += frame.duration

    def _start(self) -> None:
        self._started_at = now()
        self.playback_started_at.append(self._started_at)
        self.on_playback_started(created_at=self._started_at)

    def _played(self) -> float:
        if self._started_at is None:
            return 0.0
        end = self._paused_at if self._paused and self._paused_at is not None else now()
        return max(0.0, min(self._pushed, end - self._started_at - self._paused_total))

    def flush(self) -> None:
        if not self._in_segment:
            return
        self._flushed = True
        self._schedule_finish()

    def _schedule_finish(self) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None
        if self._started_at is None or self._paused or not self._flushed:
            return
        at = self._started_at + self._paused_total + self._pushed
        self._finish_handle = asyncio.get_running_loop().call_at(at, self._finish, False)

    def _finish(self, interrupted: bool) -> None:
        position = self._played() if interrupted else self._pushed
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None
        self._in_segment = False
        ev = PlaybackFinishedEvent(playback_position=position, interrupted=interrupted)
        self.playback_finished_events.append(ev)
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    def clear_buffer(self) -> None:
        if self._in_segment:
            self._finish(True)

    def pause(self) -> None:
        if not self.can_pause:
            super().pause()
        if self._paused:
            return
        self._paused = True
        self._paused_at = now()
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._started_at is not None and self._paused_at is not None:
            self._paused_total += now() - self._paused_at
        self._paused_at = None
        if self._in_segment and self._started_at is None:
            self._start()
        self._schedule_finish()


class FakeTextOutput(TextOutput):
    """Records the agent's transcript: pieces, when each arrived (loop clock), segments."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.times: list[float] = []
        self.segments: list[str] = []
        self._current: list[str] = []

    async def capture_text(self, text: str) -> None:
        self.pieces.append(text)
        self.times.append(now())
        self._current.append(text)

    def flush(self) -> None:
        self.segments.append("".join(self._current))
        self._current = []
