"""AudioStream and VideoStream: read a track's frames as an async iterator.

An AudioStream converts what arrives (any rate, channel count and frame size) to the format
its reader asked for, so a backend delivers whatever its transport decodes and each reader
gets e.g. 24 kHz mono in 50 ms frames. The stream ends when its track ends (unsubscribed,
unpublished, or the room disconnected) or on `aclose()`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..audio import AudioByteStream, AudioFrame, AudioResampler, remix_channels
from ..video import VideoFrame
from .track import Track

E = TypeVar("E")


@dataclass
class AudioFrameEvent:
    frame: AudioFrame


@dataclass
class VideoFrameEvent:
    frame: VideoFrame
    timestamp_us: int = 0


class _Stream(Generic[E]):
    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0 (0: unbounded), got {capacity}")
        self._capacity = capacity
        self._events: deque[E] = deque()
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0
        """Events dropped because the reader fell more than `capacity` events behind."""

    def _put(self, event: E) -> None:
        if self._ended:
            return
        self._events.append(event)
        if self._capacity and len(self._events) > self._capacity:
            self._events.popleft()  # a slow reader loses the oldest audio, not the newest
            self.dropped += 1
        self._wake()

    def _on_track_ended(self) -> None:
        self._finish()
        self._wake()

    def _finish(self) -> None:
        self._ended = True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[E]:
        return self

    async def __anext__(self) -> E:
        while not self._events:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._events.popleft()


class AudioStream(_Stream[AudioFrameEvent]):
    def __init__(
        self,
        track: Track[AudioFrame],
        *,
        sample_rate: int = 48000,
        num_channels: int = 1,
        frame_size_ms: int | None = None,
        capacity: int = 0,
    ) -> None:
        super().__init__(capacity)
        if sample_rate <= 0 or num_channels <= 0:
            raise ValueError(
                f"AudioStream needs sample_rate > 0 and num_channels > 0, got {sample_rate} Hz "
                f"/ {num_channels} ch"
            )
        if frame_size_ms is not None and frame_size_ms <= 0:
            raise ValueError(f"frame_size_ms must be > 0, got {frame_size_ms}")
        self._track = track
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._resampler: AudioResampler | None = None
        self._chunker = (
            AudioByteStream(sample_rate, num_channels, sample_rate * frame_size_ms // 1000)
            if frame_size_ms
            else None
        )
        track._listen(self)

    @classmethod
    def from_track(
        cls,
        *,
        track: Track[AudioFrame],
        sample_rate: int = 48000,
        num_channels: int = 1,
        frame_size_ms: int | None = None,
        capacity: int = 0,
    ) -> AudioStream:
        return cls(
            track,
            sample_rate=sample_rate,
            num_channels=num_channels,
            frame_size_ms=frame_size_ms,
            capacity=capacity,
        )

    @property
    def track(self) -> Track[AudioFrame]:
        return self._track

    def _on_frame(self, frame: AudioFrame) -> None:
        if self._ended:
            return
        if frame.num_channels != self._num_channels and (
            frame.num_channels == 1 or self._num_channels == 1
        ):
            frame = remix_channels(frame, self._num_channels)
        frames = [frame]
        if frame.sample_rate != self._sample_rate:
            if self._resampler is None or self._resampler.input_rate != frame.sample_rate:
                self._resampler = AudioResampler(
                    frame.sample_rate, self._sample_rate, frame.num_channels
                )
            frames = self._resampler.push(frame)
        for out in frames:
            if self._chunker is not None:
                for chunk in self._chunker.push(out):
                    self._put(AudioFrameEvent(chunk))
            else:
                self._put(AudioFrameEvent(out))

    def _finish(self) -> None:
        if not self._ended and self._chunker is not None:
            tail: list[AudioFrame] = []
            if self._resampler is not None:
                for out in self._resampler.flush():
                    tail.extend(self._chunker.push(out))
            tail.extend(self._chunker.flush())
            for chunk in tail:
                self._put(AudioFrameEvent(chunk))
        super()._finish()

    async def aclose(self) -> None:
        self._track._unlisten(self)
        self._ended = True
        self._events.clear()
        self._wake()


class VideoStream(_Stream[VideoFrameEvent]):
    def __init__(self, track: Track[VideoFrame], *, capacity: int = 0) -> None:
        super().__init__(capacity)
        self._track = track
        track._listen(self)

    @classmethod
    def from_track(cls, *, track: Track[VideoFrame], capacity: int = 0) -> VideoStream:
        return cls(track, capacity=capacity)

    @property
    def track(self) -> Track[VideoFrame]:
        return self._track

    def _on_frame(self, frame: VideoFrame) -> None:
        self._put(VideoFrameEvent(frame, int(frame.timestamp * 1_000_000)))

    async def aclose(self) -> None:
        self._track._unlisten(self)
        self._ended = True
        self._events.clear()
        self._wake()
