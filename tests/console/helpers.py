"""Shared by tests/console and tests/cli: recognizable audio, a tone-speaking fake TTS, and a
fake agent server with the interface `voxline.cli` expects.

Imported as `console.helpers` (tests/ is on sys.path).
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxline import Agent, AgentSession
from voxline.audio import AudioFrame, read_wav, write_wav
from voxline.console import ConsoleIO, current_console_io, use_console_io
from voxline.testing import FakeActions, FakeLLM, FakeSTT, FakeTTS, FakeVAD

USER_HZ = 300.0
AGENT_HZ = 880.0


def tone(seconds: float, *, rate: int = 16000, hz: float = USER_HZ, amp: float = 0.5) -> Any:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def silence(seconds: float, *, rate: int = 16000) -> Any:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def write_speech_wav(
    path: Path, spans: list[tuple[float, float]], total: float, *, rate: int = 16000
) -> Path:
    """A WAV of `total` seconds with a user tone during each (start, end) span."""
    audio = silence(total, rate=rate)
    for start, end in spans:
        a, b = round(start * rate), round(end * rate)
        audio[a:b] = tone(end - start, rate=rate)[: b - a]
    write_wav(path, AudioFrame.from_numpy(audio, rate))
    return path


def window_rms(samples: npt.NDArray[np.float64], rate: int, start: float, end: float) -> float:
    a, b = max(0, round(start * rate)), min(samples.size, round(end * rate))
    if b <= a:
        return 0.0
    seg = samples[a:b]
    return float(np.sqrt(np.mean(seg * seg)))


def loud_spans(
    path: Path, *, threshold: float = 0.05, hop: float = 0.01
) -> list[tuple[float, float]]:
    """(start, end) seconds of the regions of a mono WAV whose 10 ms RMS exceeds threshold."""
    frame = read_wav(path)
    x = frame.data.astype(np.float64) / 32768.0
    rate = frame.sample_rate
    n = round(hop * rate)
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for i in range(0, x.size, n):
        seg = x[i : i + n]
        loud = float(np.sqrt(np.mean(seg * seg))) > threshold if seg.size else False
        t = i / rate
        if loud and start is None:
            start = t
        elif not loud and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, x.size / rate))
    return spans


def dominant_hz(path: Path, start: float, end: float) -> float:
    frame = read_wav(path)
    x = frame.data.astype(np.float64)
    rate = frame.sample_rate
    seg = x[round(start * rate) : round(end * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    return float(np.fft.rfftfreq(seg.size, 1 / rate)[int(np.argmax(spectrum))])


class ToneTTS(FakeTTS):
    """FakeTTS whose audio is an 880 Hz tone instead of silence, so the agent can be heard
    (and found) in a recording. Phase-continuous across frames."""

    def __init__(self, actions: FakeActions, *, hz: float = AGENT_HZ, amp: float = 0.5) -> None:
        super().__init__(actions)
        self._hz = hz
        self._amp = amp
        self._n = 0

    async def render(self, text: str) -> AsyncIterator[AudioFrame]:
        async for frame in super().render(text):
            rate = frame.sample_rate
            idx = np.arange(self._n, self._n + frame.samples_per_channel)
            self._n += frame.samples_per_channel
            wave = (self._amp * np.sin(2 * np.pi * self._hz * idx / rate)).astype(np.float32)
            yield AudioFrame.from_numpy(wave, rate)


class FakeServer:
    """The server interface `voxline.cli` relies on, running an AgentSession made of the
    scripted fakes. `simulate_job` attaches the console I/O itself, standing in for what
    `AgentSession.start()` will do (attaching twice is a no-op)."""

    def __init__(
        self,
        actions: FakeActions,
        *,
        turn_handling: dict[str, Any] | None = None,
        job_error: Exception | None = None,
    ) -> None:
        self.actions = actions
        self.turn_handling = turn_handling or {
            "endpointing": {"min_delay": 0.3, "max_delay": 3.0},
            "interruption": {"min_duration": 0.3},
        }
        self.job_error = job_error
        self.entrypoint: Any = self._entrypoint
        self.run_calls: list[bool] = []
        self.jobs: list[tuple[str, ConsoleIO | None, str | None]] = []
        self.sessions: list[AgentSession[Any]] = []
        self.context_io: list[ConsoleIO | None] = []

    async def _entrypoint(self, ctx: Any) -> None:
        if self.job_error is not None:
            raise self.job_error
        session: AgentSession[Any] = AgentSession(
            vad=FakeVAD(self.actions),
            stt=FakeSTT(self.actions),
            llm=FakeLLM(self.actions),
            tts=ToneTTS(self.actions),
            turn_handling=self.turn_handling,  # type: ignore[arg-type]
            aec_warmup_duration=None,
        )
        self.sessions.append(session)
        io = current_console_io()
        self.context_io.append(io)
        if io is not None:
            io.attach(session)
        await session.start(Agent(instructions="You are a test agent."))

    async def run(self, *, devmode: bool) -> None:
        self.run_calls.append(devmode)

    async def simulate_job(
        self,
        room_name: str,
        *,
        console_io: ConsoleIO | None = None,
        participant_identity: str | None = None,
    ) -> None:
        self.jobs.append((room_name, console_io, participant_identity))
        if console_io is None:
            self.context_io.append(current_console_io())
            return  # `connect`: the fake has no rooms to join
        with use_console_io(console_io):
            await self.entrypoint(None)
            if self.sessions:
                closed = asyncio.Event()
                session = self.sessions[-1]
                if session.lifecycle != "closed":
                    session.on("close", lambda _: closed.set())
                    await closed.wait()


# ---------------------------------------------------------------- sounddevice stand-in


class FakeStream:
    """A sounddevice stream whose callback the test calls by hand."""

    instances: list[FakeStream] = []

    def __init__(self, *, callback: Any, samplerate: int, channels: int, **kwargs: Any) -> None:
        self.callback = callback
        self.samplerate = samplerate
        self.channels = channels
        self.kwargs = kwargs
        self.active = False
        self.closed = False
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int) -> Any:
        """What the speaker plays in its next `frames` samples."""
        out = np.full((frames, self.channels), 7, dtype=np.int16)
        self.callback(out, frames, None, None)
        return out

    def push(self, data: Any) -> None:
        """The microphone hands over a block."""
        self.callback(data, data.shape[0], None, None)


def fake_sounddevice(*, input_channels: int = 1, output_channels: int = 2) -> Any:
    """A `sounddevice` module with one fake microphone and speaker and `FakeStream`s."""
    mod = types.ModuleType("sounddevice")

    def query_devices(kind: str | None = None) -> Any:
        if kind is None:
            return "0 Fake Mic, 1 Fake Speaker"
        return {"max_input_channels": input_channels, "max_output_channels": output_channels}

    mod.query_devices = query_devices  # type: ignore[attr-defined]
    mod.InputStream = FakeStream  # type: ignore[attr-defined]
    mod.OutputStream = FakeStream  # type: ignore[attr-defined]
    return mod
