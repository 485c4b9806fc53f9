"""voxline's own overhead, measured in real time with zero-latency models.

Run: `.venv/bin/python benchmarks/overhead.py` (about a minute; everything is bounded).

Every model and I/O slot here answers instantly, so what is measured is the framework:

1. first audio: from the VAD's END_OF_SPEECH event leaving the VAD stream (the last input of
   the turn; the final transcript arrived while the user was still speaking, endpointing
   min_delay=0) to the audio output's `capture_frame()` receiving the reply's first frame.
2. clear: from a START_OF_SPEECH event while the agent speaks (interruption min_duration=0,
   AEC warm-up off, output cannot pause) to the output's `clear_buffer()`.
3. CPU: N sessions side by side for ~30 s with 20 ms frames of fresh audio arriving in real time
   and a user turn every 4 s, `time.process_time()` per session-minute; the same audio
   inputs drained without sessions give the harness baseline, which is subtracted.
4. memory: RSS before and after starting 200 idle sessions (audio input attached, silence),
   right after start and once 8 s of silence went through each, divided by 200.

The clock is the normal asyncio loop (`asyncio.run`), never voxline's virtual clock.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voxline import Agent, AgentSession
from voxline._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxline._utils.aio import Chan
from voxline.audio import AudioFrame
from voxline.llm import ChatContext
from voxline.llm.llm import LLM, ChatChunk, ChoiceDelta, LLMStream, ToolChoice
from voxline.llm.tool_context import Tool
from voxline.stt import (
    STT,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
)
from voxline.tts import TTS, ChunkedStream, SynthesizedAudio, SynthesizeStream, TTSCapabilities
from voxline.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream
from voxline.voice.events import AgentStateChangedEvent
from voxline.voice.io import AudioInput, AudioOutput

SAMPLE_RATE = 16000
FRAME_SECONDS = 0.02
FRAME_SAMPLES = round(SAMPLE_RATE * FRAME_SECONDS)
REPLY_TEXT = "Sure, here is the answer to your question."
USER_TEXT = "What is the weather like today?"

Playout = Literal["instant", "realtime", "hold"]


def silence() -> AudioFrame:
    """A fresh 20 ms frame, as a transport would deliver (no buffer shared between frames)."""
    return AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)


# ================================================================== probes


@dataclass
class Probe:
    """Timestamps taken inline by the fakes (time.perf_counter) and wake-ups for the driver."""

    vad_end_at: float | None = None
    vad_start_at: float | None = None
    first_frame_at: float | None = None
    cleared_at: float | None = None
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    cleared: asyncio.Event = field(default_factory=asyncio.Event)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    speaking: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self) -> None:
        self.vad_end_at = self.vad_start_at = self.first_frame_at = self.cleared_at = None
        self.first_frame.clear()
        self.cleared.clear()
        self.listening.clear()
        self.speaking.clear()

    def on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "listening":
            self.listening.set()
        elif ev.new_state == "speaking":
            self.speaking.set()


# ================================================================== zero-latency models


class BenchVAD(VAD):
    """Emits the events queued with `queue()` when the next audio frame arrives."""

    def __init__(self, probe: Probe) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=FRAME_SECONDS))
        self.probe = probe
        self.current: BenchVADStream | None = None

    def stream(self) -> VADStream:
        self.current = BenchVADStream(self)
        return self.current

    def queue(self, kind: VADEventType) -> None:
        assert self.current is not None, "the session has not opened its VAD stream yet"
        self.current.pending.append(kind)


class BenchVADStream(VADStream):
    def __init__(self, vad: BenchVAD) -> None:
        super().__init__(vad)
        self._probe = vad.probe
        self.pending: collections.deque[VADEventType] = collections.deque()

    async def _run(self, frames: Chan[AudioFrame]) -> None:
        async for _ in frames:
            while self.pending:
                kind = self.pending.popleft()
                start = kind == VADEventType.START_OF_SPEECH
                ev = VADEvent(
                    kind,
                    samples_index=0,
                    timestamp=0.0,
                    speech_duration=FRAME_SECONDS,
                    silence_duration=0.0,
                    speaking=start,
                )
                if start:
                    self._probe.vad_start_at = time.perf_counter()
                else:
                    self._probe.vad_end_at = time.perf_counter()
                self._emit(ev)


class BenchSTT(STT):
    """Streaming STT that consumes audio and emits a final transcript on `final()`."""

    def __init__(self) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=False))
        self.current: BenchSTTStream | None = None

    def stream(
        self,
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        self.current = BenchSTTStream(self, conn_options=conn_options)
        return self.current

    def final(self, text: str) -> None:
        assert self.current is not None, "the session has not opened its STT stream yet"
        self.current.emit_final(text)


class BenchSTTStream(RecognizeStream):
    async def _run(self, frames: Chan[AudioFrame | RecognizeStream._Flush]) -> None:
        async for _ in frames:
            pass

    def emit_final(self, text: str) -> None:
        self._emit(
            SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [SpeechData(language="en", text=text)])
        )


_REPLY_CHUNK = ChatChunk(id="bench", delta=ChoiceDelta(content=REPLY_TEXT))


class BenchLLM(LLM):
    """Answers every request at once with one chunk."""

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream:
        return BenchLLMStream(
            self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )


class BenchLLMStream(LLMStream):
    async def _run(self) -> None:
        self._send(_REPLY_CHUNK)


class BenchTTS(TTS):
    """Emits `frames_per_text` fresh 20 ms frames for each text piece, the moment it arrives."""

    def __init__(self, frames_per_text: int) -> None:
        super().__init__(
            capabilities=TTSCapabilities(streaming=True), sample_rate=SAMPLE_RATE, num_channels=1
        )
        self.frames_per_text = frames_per_text

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return BenchChunkedStream(self, text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return BenchSynthesizeStream(self, conn_options=conn_options)


class BenchChunkedStream(ChunkedStream):
    async def _run(self) -> None:
        assert isinstance(self._tts, BenchTTS)
        for _ in range(self._tts.frames_per_text):
            self._emit(silence())


class BenchSynthesizeStream(SynthesizeStream):
    async def _run(self, text: Chan[str | SynthesizeStream._Flush]) -> None:
        assert isinstance(self._tts, BenchTTS)
        count = self._tts.frames_per_text
        async for piece in text:
            if isinstance(piece, str):
                for _ in range(count):
                    self._emit(SynthesizedAudio(frame=silence()))


# ================================================================== I/O


class PushAudioInput(AudioInput):
    """Frames exactly when the driver pushes them (no background traffic)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[AudioFrame] = asyncio.Queue()

    def push(self, frame: AudioFrame) -> None:
        self._queue.put_nowait(frame)

    @property
    def drained(self) -> bool:
        return self._queue.empty()

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        while True:
            yield await self._queue.get()


class RealtimeAudioInput(AudioInput):
    """A fresh 20 ms frame every 20 ms of loop time (absolute schedule, no drift)."""

    def __init__(self) -> None:
        self.closed = False
        self.frames = 0

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self.closed:
            next_at += FRAME_SECONDS
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.frames += 1
            yield silence()


class BenchAudioOutput(AudioOutput):
    """`instant`: a flushed segment has finished playing; `realtime`: it finishes after its
    duration; `hold`: it plays until `clear_buffer()`."""

    def __init__(self, probe: Probe, playout: Playout) -> None:
        super().__init__(sample_rate=None, can_pause=False)
        self._probe = probe
        self._playout: Playout = playout
        self._in_segment = False
        self._pushed = 0.0
        self._started_at = 0.0
        self._finish_handle: asyncio.TimerHandle | None = None

    async def capture_frame(self, frame: AudioFrame) -> None:
        if not self._in_segment:
            self._probe.first_frame_at = time.perf_counter()
            self._probe.first_frame.set()
            self._in_segment = True
            self._pushed = 0.0
            await super().capture_frame(frame)
            self._started_at = asyncio.get_running_loop().time()
            self.on_playback_started(created_at=self._started_at)
        else:
            await super().capture_frame(frame)
        self._pushed += frame.duration

    def flush(self) -> None:
        if not self._in_segment:
            return
        if self._playout == "instant":
            self._finish(interrupted=False)
        elif self._playout == "realtime":
            loop = asyncio.get_running_loop()
            self._finish_handle = loop.call_at(self._started_at + self._pushed, self._finish, False)

    def clear_buffer(self) -> None:
        self._probe.cleared_at = time.perf_counter()
        self._probe.cleared.set()
        if self._in_segment:
            self._finish(interrupted=True)

    def _finish(self, interrupted: bool) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None
        self._in_segment = False
        played = asyncio.get_running_loop().time() - self._started_at
        position = min(self._pushed, played) if interrupted else self._pushed
        self.on_playback_finished(playback_position=position, interrupted=interrupted)


# ================================================================== sessions


@dataclass
class Rig:
    session: AgentSession[None]
    probe: Probe
    vad: BenchVAD
    stt: BenchSTT


def make_rig(
    *,
    playout: Playout,
    tts_frames: int,
    audio_in: AudioInput | None,
    with_output: bool = True,
) -> Rig:
    probe = Probe()
    vad = BenchVAD(probe)
    stt = BenchSTT()
    session: AgentSession[None] = AgentSession(
        vad=vad,
        stt=stt,
        llm=BenchLLM(),
        tts=BenchTTS(tts_frames),
        turn_handling={
            "endpointing": {"min_delay": 0.0},
            "interruption": {"min_duration": 0.0},
        },
        aec_warmup_duration=None,
        session_close_transcript_timeout=0.2,
    )
    session.on("agent_state_changed", probe.on_agent_state)
    if audio_in is not None:
        session.input.audio = audio_in
    if with_output:
        session.output.audio = BenchAudioOutput(probe, playout)
    return Rig(session, probe, vad, stt)


async def start_rig(rig: Rig) -> None:
    await rig.session.start(Agent(instructions="You are a benchmark."))


async def wait(event: asyncio.Event, what: str, timeout: float = 2.0) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


async def settle(seconds: float = 0.002) -> None:
    """Let every task the last step woke finish, so the next timestamp starts from quiet."""
    await asyncio.sleep(seconds)


async def wait_streams_open(rig: Rig, audio_in: PushAudioInput) -> None:
    audio_in.push(silence())  # the VAD task starts with the first frame
    for _ in range(200):
        if rig.vad.current is not None and rig.stt.current is not None:
            await settle()
            return
        await asyncio.sleep(0.001)
    raise RuntimeError("the session did not open its VAD and STT streams")


async def user_turn(rig: Rig, audio_in: PushAudioInput) -> None:
    """Speech start, the final transcript while speaking, then the VAD end of speech."""
    rig.vad.queue(VADEventType.START_OF_SPEECH)
    audio_in.push(silence())
    await settle()
    rig.stt.final(USER_TEXT)
    audio_in.push(silence())
    await settle()
    rig.vad.queue(VADEventType.END_OF_SPEECH)
    audio_in.push(silence())


# ================================================================== 1. first audio


async def bench_first_audio(turns: int, warmup: int) -> list[float]:
    audio_in = PushAudioInput()
    rig = make_rig(playout="instant", tts_frames=5, audio_in=audio_in)
    await start_rig(rig)
    await wait_streams_open(rig, audio_in)
    samples: list[float] = []
    try:
        for i in range(warmup + turns):
            rig.probe.reset()
            await user_turn(rig, audio_in)
            await wait(rig.probe.first_frame, "the first audio frame")
            await wait(rig.probe.listening, "the end of the reply")
            await settle()
            if i >= warmup:
                assert rig.probe.first_frame_at is not None and rig.probe.vad_end_at is not None
                samples.append(rig.probe.first_frame_at - rig.probe.vad_end_at)
    finally:
        await rig.session.aclose()
    return samples


# ================================================================== 2. clear on barge-in


async def bench_clear(turns: int, warmup: int) -> list[float]:
    audio_in = PushAudioInput()
    rig = make_rig(playout="hold", tts_frames=50, audio_in=audio_in)
    await start_rig(rig)
    await wait_streams_open(rig, audio_in)
    samples: list[float] = []
    try:
        for i in range(warmup + turns):
            rig.probe.reset()
            await user_turn(rig, audio_in)
            await wait(rig.probe.speaking, "the agent to speak")
            await settle()
            rig.probe.listening.clear()
            rig.vad.queue(VADEventType.START_OF_SPEECH)  # barge-in
            audio_in.push(silence())
            await wait(rig.probe.cleared, "clear_buffer()")
            await wait(rig.probe.listening, "the interrupted reply to end")
            rig.vad.queue(VADEventType.END_OF_SPEECH)
            audio_in.push(silence())
            await settle()
            rig.session.clear_user_turn()  # the barge-in had no words: forget it
            await settle()
            if i >= warmup:
                assert rig.probe.cleared_at is not None and rig.probe.vad_start_at is not None
                samples.append(rig.probe.cleared_at - rig.probe.vad_start_at)
    finally:
        await rig.session.aclose()
    return samples


# ================================================================== 3. CPU under real-time load


TURN_PERIOD = 4.0
USER_SPEECH = 1.0
REPLY_FRAMES = 75  # 1.5 s of reply audio per turn


@dataclass
class CpuResult:
    sessions: int
    wall: float
    cpu: float
    baseline_cpu_per_min: float
    turns: int
    frames: int

    @property
    def gross_per_session_minute(self) -> float:
        return self.cpu / (self.sessions * self.wall / 60.0)

    @property
    def net_per_session_minute(self) -> float:
        return self.gross_per_session_minute - self.baseline_cpu_per_min


async def _drive_turns(rig: Rig, offset: float, until: float, counter: list[int]) -> None:
    loop = asyncio.get_running_loop()
    next_turn = loop.time() + offset
    while next_turn + TURN_PERIOD <= until:
        await asyncio.sleep(max(0.0, next_turn - loop.time()))
        rig.vad.queue(VADEventType.START_OF_SPEECH)
        await asyncio.sleep(USER_SPEECH - 0.1)
        rig.stt.final(USER_TEXT)
        await asyncio.sleep(0.1)
        rig.vad.queue(VADEventType.END_OF_SPEECH)
        counter[0] += 1
        next_turn += TURN_PERIOD


async def _baseline(sessions: int, seconds: float) -> float:
    """CPU of the harness alone: the same real-time inputs, drained without a session."""
    inputs = [RealtimeAudioInput() for _ in range(sessions)]

    async def drain(source: RealtimeAudioInput) -> None:
        async for _ in source:
            pass

    tasks = [asyncio.get_running_loop().create_task(drain(s)) for s in inputs]
    await asyncio.sleep(0.5)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    for s in inputs:
        s.closed = True
    await asyncio.gather(*tasks)
    return cpu / (sessions * wall / 60.0)


async def bench_cpu(sessions: int, seconds: float, baseline_seconds: float) -> CpuResult:
    baseline = await _baseline(sessions, baseline_seconds)
    inputs = [RealtimeAudioInput() for _ in range(sessions)]
    rigs = [make_rig(playout="realtime", tts_frames=REPLY_FRAMES, audio_in=i) for i in inputs]
    for rig in rigs:
        await start_rig(rig)
    await asyncio.sleep(0.5)  # streams open, first frames through
    loop = asyncio.get_running_loop()
    counter = [0]
    frames0 = sum(i.frames for i in inputs)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    until = loop.time() + seconds
    drivers = [
        loop.create_task(_drive_turns(rig, TURN_PERIOD * k / sessions, until, counter))
        for k, rig in enumerate(rigs)
    ]
    await asyncio.sleep(max(0.0, until - loop.time()))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    frames = sum(i.frames for i in inputs) - frames0
    await asyncio.gather(*drivers)
    for i in inputs:
        i.closed = True
    await asyncio.wait_for(asyncio.gather(*(r.session.aclose() for r in rigs)), 10.0)
    return CpuResult(sessions, wall, cpu, baseline, counter[0], frames)


# ================================================================== 4. memory per idle session


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def settled_rss() -> float:
    gc.collect()
    return rss_mb()


@dataclass
class MemResult:
    sessions: int
    before: float
    started: float
    after_audio: float
    audio_seconds: float

    @property
    def per_session_started(self) -> float:
        return (self.started - self.before) / self.sessions

    @property
    def per_session_after_audio(self) -> float:
        return (self.after_audio - self.before) / self.sessions


async def bench_memory(sessions: int, audio_seconds: float) -> MemResult:
    # one session first, so one-time costs (imports, pydantic schemas, caches) are not counted
    warm_in = PushAudioInput()
    warm = make_rig(playout="realtime", tts_frames=1, audio_in=warm_in)
    await start_rig(warm)
    await wait_streams_open(warm, warm_in)
    await warm.session.aclose()
    del warm, warm_in

    before = settled_rss()
    inputs = [PushAudioInput() for _ in range(sessions)]
    rigs = [make_rig(playout="realtime", tts_frames=1, audio_in=i) for i in inputs]
    for rig in rigs:
        await start_rig(rig)
    for audio_in in inputs:
        audio_in.push(silence())
    await asyncio.sleep(0.2)
    started = settled_rss()
    # an idle call still streams silence: push the seconds a real call would have by now
    # (in small batches: a real call never has more than a frame or two in flight)
    frames = round(audio_seconds / FRAME_SECONDS)
    deadline = time.perf_counter() + 30.0
    for batch in range(0, frames, 2):
        for audio_in in inputs:
            for _ in range(min(2, frames - batch)):
                audio_in.push(silence())
        while not all(i.drained for i in inputs):
            if time.perf_counter() > deadline:
                raise RuntimeError("the idle sessions did not keep up with their audio")
            await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    after = settled_rss()
    await asyncio.wait_for(asyncio.gather(*(r.session.aclose() for r in rigs)), 20.0)
    return MemResult(sessions, before, started, after, audio_seconds)


# ================================================================== report


def pct(values: list[float], q: float) -> float:
    """Percentile `q` in [0, 1] (inclusive method; the median is statistics.median)."""
    if q <= 0.0:
        return min(values)
    if q >= 1.0:
        return max(values)
    if q == 0.5 or len(values) < 2:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.3f}"


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def stage(name: str) -> Callable[[], None]:
    started = time.perf_counter()
    print(f"... {name}", file=sys.stderr, flush=True)

    def done() -> None:
        print(f"    done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    return done


async def main(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()

    # memory first: nothing else has been allocated and freed in this process yet
    done = stage(f"memory: {args.idle} idle sessions")
    mem = await bench_memory(args.idle, audio_seconds=8.0)
    done()
    done = stage(f"first audio: {args.turns} turns")
    first = await bench_first_audio(args.turns, warmup=20)
    done()
    done = stage(f"clear on barge-in: {args.turns} barge-ins")
    clear = await bench_clear(args.turns, warmup=20)
    done()
    done = stage(f"CPU: {args.sessions} sessions for {args.seconds:.0f} s")
    cpu = await bench_cpu(args.sessions, args.seconds, baseline_seconds=args.seconds / 4)
    done()

    quarter = max(1, len(first) // 4)
    rows: list[tuple[str, ...]] = [
        ("metric", "median", "p95", "target", "reference"),
        (
            "VAD end of speech -> first audio frame (ms)",
            ms(first, 0.5),
            ms(first, 0.95),
            "<= 1.0",
            "2.6",
        ),
        (
            "barge-in speech start -> clear_buffer (ms)",
            ms(clear, 0.5),
            ms(clear, 0.95),
            "<= 0.3",
            "0.3",
        ),
        (
            "CPU s per session-minute (net of harness)",
            f"{cpu.net_per_session_minute:.3f}",
            "",
            "<= 0.7",
            "1.48",
        ),
        (
            "CPU s per session-minute (gross)",
            f"{cpu.gross_per_session_minute:.3f}",
            "",
            "",
            "",
        ),
        (
            "RSS MB per idle session, just started",
            f"{mem.per_session_started:.3f}",
            "",
            "",
            "0.09",
        ),
        (
            f"RSS MB per idle session, after {mem.audio_seconds:.0f} s of audio",
            f"{mem.per_session_after_audio:.3f}",
            "",
            "",
            "0.09",
        ),
    ]
    print(table(rows))
    print()
    print(
        f"first audio, {len(first)} turns: min {ms(first, 0)} ms, max {ms(first, 1)} ms; "
        f"median of the first {quarter} turns {ms(first[:quarter], 0.5)} ms, "
        f"of the last {quarter} {ms(first[-quarter:], 0.5)} ms"
    )
    print(f"clear, {len(clear)} barge-ins: min {ms(clear, 0)} ms, max {ms(clear, 1)} ms")
    print(
        f"CPU: {cpu.sessions} sessions, {cpu.wall:.1f} s wall, {cpu.cpu:.2f} s CPU, "
        f"{cpu.turns} user turns, {cpu.frames} input frames "
        f"({cpu.frames / cpu.sessions / cpu.wall:.1f} frames/s/session); "
        f"harness baseline {cpu.baseline_cpu_per_min:.3f} s/session-min"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    print(
        f"memory: RSS {mem.before:.1f} MB before, {mem.started:.1f} MB with {mem.sessions} "
        f"sessions started, {mem.after_audio:.1f} MB after {mem.audio_seconds:.0f} s of "
        f"silence each; peak RSS {peak:.1f} MB"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"total {time.perf_counter() - t_start:.1f} s"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=200, help="measured turns for 1. and 2.")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions for 3.")
    parser.add_argument("--seconds", type=float, default=30.0, help="real seconds for 3.")
    parser.add_argument("--idle", type=int, default=200, help="idle sessions for 4.")
    args = parser.parse_args(argv)
    if not (1 <= args.turns <= 2000 and 1 <= args.sessions <= 100):
        parser.error("--turns must be 1-2000 and --sessions 1-100")
    if not (5.0 <= args.seconds <= 60.0 and 1 <= args.idle <= 1000):
        parser.error("--seconds must be 5-60 and --idle 1-1000")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
