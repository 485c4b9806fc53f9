"""WAV files as a microphone and a speaker, in real time on the loop clock.

`voxline console --input-wav IN.wav --output-wav OUT.wav` runs a whole conversation without
a sound card: IN.wav is "spoken" at its natural pace, and OUT.wav receives what the agent
said at the moment it said it. Both run on the event loop's clock (never `time.time()`), so
the same code runs in milliseconds on voxline's virtual clock in tests, and both follow an
absolute schedule, so a long file does not drift.
"""

from __future__ import annotations

import asyncio
import logging
import os
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..audio import AudioFrame, AudioResampler, combine_frames, read_wav, remix_channels
from ..voice.io import AudioInput, AudioOutput, PlaybackFinishedEvent

__all__ = ["PlayedSegment", "WavAudioInput", "WavAudioOutput"]

logger = logging.getLogger("voxline.console")

StartListener = Callable[[float], None]


def _resample_whole(frame: AudioFrame, rate: int) -> AudioFrame:
    """Resample a whole file at once: one stream, so no clicks at frame boundaries."""
    if frame.sample_rate == rate:
        return frame
    if frame.samples_per_channel == 0:
        return AudioFrame.create(rate, frame.num_channels, 0)
    resampler = AudioResampler(frame.sample_rate, rate, num_channels=frame.num_channels)
    out = resampler.push(frame) + resampler.flush()
    return combine_frames(out) if out else AudioFrame.create(rate, frame.num_channels, 0)


class WavAudioInput(AudioInput):
    """Plays a WAV file to the session as the user's microphone, then silence, then ends.

    Frames are due at ``first frame time + samples before them / rate`` on the loop clock
    (an absolute schedule: a slow consumer catches up instead of shifting the rest of the
    file). After the file, ``trailing_silence`` seconds of silence let the VAD see the end
    of the user's last words before the input ends.

    One consumer at a time: a new ``async for`` (the session restarts its audio task when
    its input slot changes) continues where the previous one stopped, on the same schedule.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        frame_ms: float = 20,
        realtime: bool = True,
        sample_rate: int | None = None,
        trailing_silence: float = 2.0,
    ) -> None:
        if frame_ms <= 0:
            raise ValueError(f"frame_ms must be > 0, got {frame_ms}")
        if trailing_silence < 0:
            raise ValueError(f"trailing_silence must be >= 0, got {trailing_silence}")
        self._path = Path(path)
        audio = read_wav(self._path)
        if sample_rate is not None:
            audio = _resample_whole(audio, sample_rate)
        self._audio = audio
        self._rate = audio.sample_rate
        self._channels = audio.num_channels
        self._realtime = realtime
        self._frame_samples = max(1, round(self._rate * frame_ms / 1000))
        self._file_samples = audio.samples_per_channel
        self._silence_samples = round(trailing_silence * self._rate)
        self._total_samples = self._file_samples + self._silence_samples
        self._position = 0  # samples handed out so far (file, then silence)
        self._started_at: float | None = None
        self._listeners: list[StartListener] = []
        self.done = asyncio.Event()
        """Set once the whole file has been played (before the trailing silence)."""
        self.ended = asyncio.Event()
        """Set once the input has ended (after the trailing silence)."""

    @property
    def path(self) -> Path:
        return self._path

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def num_channels(self) -> int:
        return self._channels

    @property
    def duration(self) -> float:
        """Length of the file alone, in seconds."""
        return self._file_samples / self._rate

    @property
    def started_at(self) -> float | None:
        """Loop time of the first frame: second 0 of the file on the loop clock."""
        return self._started_at

    def add_start_listener(self, callback: StartListener) -> None:
        """Call `callback(loop_time)` when the first frame is handed out (at once if it was),
        e.g. `WavAudioOutput.start_timeline`, so OUT.wav shares IN.wav's timeline."""
        self._listeners.append(callback)
        if self._started_at is not None:
            callback(self._started_at)

    async def wait_done(self) -> None:
        await self.done.wait()

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    def _frame_at(self, position: int) -> AudioFrame:
        if position < self._file_samples:
            end = min(position + self._frame_samples, self._file_samples)
            data = self._audio.data[position * self._channels : end * self._channels]
            return AudioFrame(data, self._rate, self._channels, end - position)
        end = min(position + self._frame_samples, self._total_samples)
        return AudioFrame.create(self._rate, self._channels, end - position)

    async def _sleep_until(self, loop: asyncio.AbstractEventLoop, samples: int) -> None:
        if not self._realtime or self._started_at is None:
            return
        delay = self._started_at + samples / self._rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        while self._position < self._total_samples:
            if self._started_at is None:
                self._started_at = loop.time()
                for callback in list(self._listeners):
                    callback(self._started_at)
            await self._sleep_until(loop, self._position)
            if self._position >= self._file_samples:
                self.done.set()
            frame = self._frame_at(self._position)
            # advanced before yielding: a consumer that stops here has taken the frame
            self._position += frame.samples_per_channel
            yield frame
        await self._sleep_until(loop, self._total_samples)
        self.done.set()
        self.ended.set()


@dataclass(frozen=True)
class PlayedSegment:
    """One agent speech segment as it was heard, on the output timeline."""

    start: float
    """Seconds from the start of the timeline (second 0 of OUT.wav)."""
    duration: float
    """Seconds actually played (less than pushed when interrupted)."""
    interrupted: bool


class _TimelineWriter:
    """Appends mono int16 audio to a WAV file at given sample positions, filling gaps with
    silence. Positions only move forward, so the file is written as a stream."""

    def __init__(self, path: Path | None, rate: int) -> None:
        self._path = path
        self._rate = rate
        self._writer: wave.Wave_write | None = None
        self.written = 0

    def _open(self) -> wave.Wave_write | None:
        if self._writer is None and self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            writer = wave.open(str(self._path), "wb")
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(self._rate)
            self._writer = writer
        return self._writer

    def pad_to(self, index: int) -> None:
        gap = index - self.written
        if gap <= 0:
            return
        writer = self._open()
        if writer is not None:
            chunk = np.zeros(min(gap, self._rate), dtype=np.int16)
            remaining = gap
            while remaining > 0:
                n = min(remaining, chunk.size)
                writer.writeframes(chunk[:n].tobytes())
                remaining -= n
        self.written = index

    def write_at(self, index: int, samples: npt.NDArray[np.int16]) -> None:
        if index < self.written:  # never happens with a monotonic clock; stay safe anyway
            samples = samples[self.written - index :]
            index = self.written
        self.pad_to(index)
        if samples.size == 0:
            return
        writer = self._open()
        if writer is not None:
            writer.writeframes(samples.tobytes())
        self.written += int(samples.size)

    def close(self) -> None:
        writer = self._open()  # an empty session still leaves a valid (empty) WAV file
        if writer is not None:
            writer.close()
            self._writer = None
            self._path = None


class WavAudioOutput(AudioOutput):
    """An `AudioOutput` that plays in real time on the loop clock and records what was heard.

    The playout clock behaves like a sound card: a segment starts playing when its first
    frame is captured (or on `resume()` if paused), consumes its buffer at one second per
    second, and finishes when the flushed buffer is empty; if frames arrive slower than real
    time the card plays silence meanwhile (underrun), as a real one would. `clear_buffer()`
    stops at once and reports the position actually played; `pause()`/`resume()` hold the
    playhead.

    Everything played is written to `path` (mono 16-bit, `sample_rate`) at the moment it was
    played: second *t* of the file is *t* seconds after the timeline origin, gaps between
    speeches are silence, and an interrupted segment contributes only its played part. The
    origin is `start_timeline()` (`sync_to(input)` makes it the input's first frame, so OUT.wav
    lines up with IN.wav), else the first captured frame. The file is completed on `aclose()`;
    `path=None` keeps the clock without writing anything.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, sample_rate: int = 24000) -> None:
        super().__init__(sample_rate=sample_rate, can_pause=True)
        self._path = Path(path) if path is not None else None
        self._rate = sample_rate
        self._writer = _TimelineWriter(self._path, sample_rate)
        self._origin: float | None = None
        self._clock = 0  # timeline sample up to which playout has been accounted for
        self._buffer: deque[npt.NDArray[np.int16]] = deque()
        self._buffered = 0
        self._resamplers: dict[int, AudioResampler] = {}
        self._in_segment = False
        self._seg_started = False
        self._seg_start = 0
        self._seg_played = 0
        self._seg_pushed = 0.0
        self._flushed = False
        self._paused = False
        self._finish_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.segments: list[PlayedSegment] = []
        self.playback_finished_events: list[PlaybackFinishedEvent] = []

    # ------------------------------------------------------------------ timeline

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def origin(self) -> float | None:
        """Loop time of second 0 of the output file."""
        return self._origin

    @property
    def playing(self) -> bool:
        """A segment is in progress (playing, paused or waiting for frames)."""
        return self._in_segment

    @property
    def duration(self) -> float:
        """Seconds of timeline accounted for so far (the file's length after `aclose`)."""
        return max(self._clock, self._writer.written) / self._rate

    def start_timeline(self, at: float | None = None) -> None:
        """Make loop time `at` (default: now) second 0 of the output file. Ignored once the
        timeline has started."""
        if self._origin is not None:
            if at is not None and abs(at - self._origin) > 1e-9:
                logger.debug("WavAudioOutput timeline already started; ignoring start at %s", at)
            return
        loop = asyncio.get_running_loop()
        self._origin = loop.time() if at is None else at
        self._clock = max(0, self._index_now(loop))

    def sync_to(self, source: WavAudioInput) -> None:
        """Share `source`'s timeline: second t of the output is second t of the input."""
        source.add_start_listener(self.start_timeline)

    def _index_now(self, loop: asyncio.AbstractEventLoop | None = None) -> int:
        assert self._origin is not None
        t = (loop or asyncio.get_running_loop()).time()
        return round((t - self._origin) * self._rate)

    def _advance(self) -> None:
        """Account for playout from the last event until now."""
        if self._origin is None:
            return
        target = max(self._clock, self._index_now())
        elapsed = target - self._clock
        if elapsed > 0 and self._in_segment and self._seg_started and not self._paused:
            self._consume(min(elapsed, self._buffered))
        self._clock = target

    def _consume(self, n: int) -> None:
        """Play `n` buffered samples starting at the clock (which the caller then moves)."""
        if n <= 0:
            return
        parts: list[npt.NDArray[np.int16]] = []
        need = n
        while need > 0:
            head = self._buffer[0]
            if head.size <= need:
                parts.append(self._buffer.popleft())
                need -= head.size
            else:
                parts.append(head[:need])
                self._buffer[0] = head[need:]
                need = 0
        self._buffered -= n
        self._writer.write_at(max(0, self._clock), np.concatenate(parts))
        self._seg_played += n

    # ------------------------------------------------------------------ AudioOutput

    def _to_output_format(self, frame: AudioFrame) -> npt.NDArray[np.int16]:
        if frame.num_channels != 1:
            frame = remix_channels(frame, 1)
        if frame.sample_rate == self._rate:
            return np.array(frame.data, dtype=np.int16)
        resampler = self._resamplers.get(frame.sample_rate)
        if resampler is None:
            resampler = self._resamplers[frame.sample_rate] = AudioResampler(
                frame.sample_rate, self._rate
            )
        out = resampler.push(frame)
        return np.array(combine_frames(out).data, dtype=np.int16) if out else np.zeros(0, np.int16)

    def _append(self, samples: npt.NDArray[np.int16]) -> None:
        if samples.size:
            self._buffer.append(samples)
            self._buffered += int(samples.size)

    async def capture_frame(self, frame: AudioFrame) -> None:
        if self._closed:
            return  # nothing plays after aclose(); no segment is opened that could never end
        await super().capture_frame(frame)
        if self._origin is None:
            self.start_timeline()
        self._advance()
        if not self._in_segment:
            self._in_segment = True
            self._seg_started = False
            self._seg_played = 0
            self._seg_pushed = 0.0
            self._flushed = False
            if not self._paused:
                self._start_segment()
        self._seg_pushed += frame.duration
        self._append(self._to_output_format(frame))
        if self._flushed:
            self._schedule_finish()

    def _start_segment(self) -> None:
        self._seg_started = True
        self._seg_start = self._clock
        self.on_playback_started(created_at=asyncio.get_running_loop().time())

    def flush(self) -> None:
        if not self._in_segment or self._closed:
            return
        self._advance()
        for resampler in self._resamplers.values():
            for out in resampler.flush():
                self._append(np.array(out.data, dtype=np.int16))
        self._flushed = True
        self._schedule_finish()

    def _schedule_finish(self) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None
        if not (self._in_segment and self._flushed and self._seg_started) or self._paused:
            return
        assert self._origin is not None
        at = self._origin + (self._clock + self._buffered) / self._rate
        self._finish_handle = asyncio.get_running_loop().call_at(at, self._on_finish_timer)

    def _on_finish_timer(self) -> None:
        self._finish_handle = None
        self._advance()
        if self._buffered <= 1:  # float rounding of the due time may leave one sample
            self._consume(self._buffered)
            self._finish(interrupted=False)
        else:
            self._schedule_finish()

    def _finish(self, *, interrupted: bool) -> None:
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None
        played = self._seg_played / self._rate
        position = min(played, self._seg_pushed) if interrupted else self._seg_pushed
        if self._seg_started:
            self.segments.append(
                PlayedSegment(self._seg_start / self._rate, played, interrupted=interrupted)
            )
        self._in_segment = False
        self._seg_started = False
        self._flushed = False
        self._buffer.clear()
        self._buffered = 0
        for resampler in self._resamplers.values():
            resampler.flush()  # drop what the resampler held back for the old segment
        ev = PlaybackFinishedEvent(playback_position=position, interrupted=interrupted)
        self.playback_finished_events.append(ev)
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    def clear_buffer(self) -> None:
        if not self._in_segment:
            return
        self._advance()
        self._finish(interrupted=True)

    def pause(self) -> None:
        if self._paused:
            return
        self._advance()
        self._paused = True
        if self._finish_handle is not None:
            self._finish_handle.cancel()
            self._finish_handle = None

    def resume(self) -> None:
        if not self._paused:
            return
        self._advance()  # the paused time passes as silence
        self._paused = False
        if self._in_segment and not self._seg_started and not self._closed:
            self._start_segment()
        self._schedule_finish()

    async def aclose(self) -> None:
        """Stop playout (an unfinished segment counts as interrupted where it is) and
        complete the file, padded with silence up to now."""
        if self._closed:
            return
        self._advance()
        if self._in_segment:
            self._finish(interrupted=True)
        self._closed = True
        self._writer.pad_to(self._clock)
        self._writer.close()
