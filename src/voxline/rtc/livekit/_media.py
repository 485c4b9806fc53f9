"""Media between voxline's tracks and the LiveKit SDK's sources and streams.

Outgoing audio is already paced by voxline's `AudioSource` (20 ms frames in real time), so the
sender only bridges a synchronous call to the SDK's awaitable `capture_frame`, holding at most
a few frames. Incoming media is read from the SDK's streams at its native rate (48 kHz for
Opus) and handed over as voxline frames; voxline's streams resample for their readers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from livekit import rtc as lk

from ...audio import AudioFrame
from ...video import VideoFrame
from ._mapping import audio_frame_from_sdk, audio_frame_to_sdk, video_frame_from_sdk

logger = logging.getLogger("voxline.rtc.livekit")

RECEIVE_SAMPLE_RATE = 48000
"""Opus decodes at 48 kHz: reading at that rate costs the SDK no resampling."""
SOURCE_QUEUE_MS = 100
"""The SDK source's own buffer. Small, because voxline's `AudioSource` already queues and
paces; a large buffer here would delay every interruption by its length."""
_MAX_PENDING = 10  # frames (200 ms at 20 ms): beyond that the SDK has stalled


class AudioSender:
    """Feeds one SDK `AudioSource` from voxline frames; `send` never blocks."""

    def __init__(self, source: lk.AudioSource) -> None:
        self._source = source
        self._pending: deque[AudioFrame] = deque()
        self._ready = asyncio.Event()
        self._dropped = 0
        self._task = asyncio.get_running_loop().create_task(self._run(), name="livekit_audio_send")

    @property
    def source(self) -> lk.AudioSource:
        return self._source

    @property
    def dropped_frames(self) -> int:
        """Frames discarded because the SDK did not keep up (a stalled connection)."""
        return self._dropped

    def send(self, frame: AudioFrame) -> None:
        if (frame.sample_rate, frame.num_channels) != (
            self._source.sample_rate,
            self._source.num_channels,
        ):
            raise ValueError(
                f"frame is {frame.sample_rate} Hz / {frame.num_channels} ch but the track was "
                f"published at {self._source.sample_rate} Hz / {self._source.num_channels} ch"
            )
        if len(self._pending) >= _MAX_PENDING:
            # Late audio is worse than missing audio in a conversation: keep the newest.
            self._pending.popleft()
            self._dropped += 1
        self._pending.append(frame)
        self._ready.set()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._pending:
                await self._source.capture_frame(audio_frame_to_sdk(self._pending.popleft()))

    async def aclose(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._pending.clear()
        await self._source.aclose()


async def receive_audio(track: lk.Track, deliver: Callable[[AudioFrame], None]) -> None:
    """Deliver a remote audio track's frames until the stream ends or the task is cancelled."""
    stream = lk.AudioStream(track, sample_rate=RECEIVE_SAMPLE_RATE, num_channels=1)
    try:
        async for event in stream:
            deliver(audio_frame_from_sdk(event.frame))
    finally:
        await stream.aclose()


async def receive_video(track: lk.Track, deliver: Callable[[VideoFrame], None]) -> None:
    stream = lk.VideoStream(track, format=lk.VideoBufferType.RGB24)
    try:
        async for event in stream:
            deliver(video_frame_from_sdk(event.frame, event.timestamp_us / 1e6))
    finally:
        await stream.aclose()
