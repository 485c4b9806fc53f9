"""AudioSource: where a local audio track's frames come from, played out in real time.

`capture_frame` queues audio and returns at once while the queue has room; when it is full it
waits, so a producer faster than real time (a TTS) is paced by the source. A playout task
hands the queue to the track in 20 ms frames on the loop clock, so the virtual clock drives it
in tests and `queued_duration` always says how much has not been heard yet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from .._utils.aio import cancel_and_wait
from ..audio import AudioFrame, split_frame

CHUNK_MS = 20
"""Playout granularity: Opus's frame size, and the bound on how late a `clear_queue` is heard."""
_MAX_LATENESS = 0.2
"""Behind schedule by more than this (a stalled loop), playout restarts from now instead of
sending a burst to catch up."""


class AudioSource:
    def __init__(
        self,
        sample_rate: int,
        num_channels: int,
        queue_size_ms: int = 1000,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if sample_rate <= 0 or num_channels <= 0:
            raise ValueError(
                f"AudioSource needs sample_rate > 0 and num_channels > 0, got {sample_rate} Hz "
                f"/ {num_channels} ch"
            )
        if queue_size_ms < CHUNK_MS:
            raise ValueError(f"queue_size_ms must be >= {CHUNK_MS}, got {queue_size_ms}")
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._chunk_samples = sample_rate * CHUNK_MS // 1000
        self._capacity = sample_rate * queue_size_ms // 1000
        self._queue: deque[AudioFrame] = deque()
        self._queued_samples = 0
        self._sinks: list[Callable[[AudioFrame], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._has_data: asyncio.Event | None = None
        self._space: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._closed = False

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def queued_duration(self) -> float:
        """Seconds captured but not yet played out."""
        return self._queued_samples / self._sample_rate

    def _add_sink(self, sink: Callable[[AudioFrame], None]) -> None:
        self._sinks.append(sink)

    def _remove_sink(self, sink: Callable[[AudioFrame], None]) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def _ensure_running(self) -> None:
        if self._task is None:
            self._has_data = asyncio.Event()
            self._space = asyncio.Event()
            self._idle = asyncio.Event()
            self._idle.set()
            self._task = asyncio.get_running_loop().create_task(
                self._playout(), name="audio_source_playout"
            )

    async def capture_frame(self, frame: AudioFrame) -> None:
        """Queue `frame` for playout; waits while the queue is full."""
        if self._closed:
            raise RuntimeError("AudioSource is closed")
        if frame.sample_rate != self._sample_rate or frame.num_channels != self._num_channels:
            raise ValueError(
                f"frame is {frame.sample_rate} Hz / {frame.num_channels} ch but the source "
                f"plays {self._sample_rate} Hz / {self._num_channels} ch (resample first)"
            )
        if frame.samples_per_channel == 0:
            return
        self._ensure_running()
        assert self._has_data is not None and self._space is not None and self._idle is not None
        for chunk in split_frame(frame, self._chunk_samples):
            n = chunk.samples_per_channel
            while self._queued_samples > 0 and self._queued_samples + n > self._capacity:
                self._space.clear()
                await self._space.wait()
                if self._closed:
                    return
            self._queue.append(chunk)
            self._queued_samples += n
            self._idle.clear()
            self._has_data.set()

    def clear_queue(self) -> None:
        """Drop everything not yet played (an interruption); at most one 20 ms frame that is
        already on its way still plays."""
        self._queue.clear()
        self._queued_samples = 0
        if self._space is not None:
            self._space.set()

    async def wait_for_playout(self) -> None:
        """Return once everything captured so far has played out."""
        if self._idle is not None:
            await self._idle.wait()

    async def _playout(self) -> None:
        assert self._has_data is not None and self._space is not None and self._idle is not None
        loop = asyncio.get_running_loop()
        next_due = loop.time()
        while True:
            if not self._queue:
                self._idle.set()
                self._has_data.clear()
                await self._has_data.wait()
                next_due = max(next_due, loop.time())
                continue
            chunk = self._queue.popleft()
            self._queued_samples -= chunk.samples_per_channel
            self._space.set()
            for sink in list(self._sinks):
                sink(chunk)
            next_due += chunk.duration
            delay = next_due - loop.time()
            if delay < -_MAX_LATENESS:
                next_due = loop.time()
            elif delay > 0:
                await asyncio.sleep(delay)

    async def aclose(self) -> None:
        self._closed = True
        self.clear_queue()
        await cancel_and_wait(self._task)
        if self._idle is not None:
            self._idle.set()
