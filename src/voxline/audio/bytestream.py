"""Re-chunking of arbitrarily sized PCM into fixed-size frames.

Network sockets, TTS engines and file readers deliver audio in whatever sizes they like, while
VAD, echo cancellation and WebRTC publishing need a constant frame size.
"""

from __future__ import annotations

import logging

import numpy as np

from .frame import AudioFrame

__all__ = ["AudioByteStream"]

_logger = logging.getLogger(__name__)


class AudioByteStream:
    """Accumulates int16 interleaved PCM and emits frames of exactly ``samples_per_channel``.

    Pushes may split a sample or a channel group anywhere; the leftover bytes wait in the
    buffer for the next push.
    """

    __slots__ = ("_buffer", "_frame_bytes", "_num_channels", "_sample_rate", "_samples_per_channel")

    def __init__(
        self,
        sample_rate: int,
        num_channels: int,
        samples_per_channel: int | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if num_channels <= 0:
            raise ValueError(f"num_channels must be > 0, got {num_channels}")
        if samples_per_channel is None:
            # 10 ms is the WebRTC frame size and what most VAD/AEC components expect.
            samples_per_channel = max(sample_rate // 100, 1)
        if samples_per_channel <= 0:
            raise ValueError(f"samples_per_channel must be > 0, got {samples_per_channel}")
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._samples_per_channel = samples_per_channel
        self._frame_bytes = samples_per_channel * num_channels * 2
        self._buffer = bytearray()

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def samples_per_channel(self) -> int:
        return self._samples_per_channel

    @property
    def buffered_bytes(self) -> int:
        """Bytes waiting for a complete frame, useful for latency accounting."""
        return len(self._buffer)

    def push(self, data: bytes | bytearray | memoryview | AudioFrame) -> list[AudioFrame]:
        """Append PCM and return every complete frame now available (possibly none)."""
        if isinstance(data, AudioFrame):
            if data.sample_rate != self._sample_rate or data.num_channels != self._num_channels:
                raise ValueError(
                    f"frame is {data.sample_rate} Hz / {data.num_channels} ch but the stream "
                    f"expects {self._sample_rate} Hz / {self._num_channels} ch"
                )
            self._buffer += data.data.data  # ndarray.data: the array's buffer as a memoryview
        else:
            self._buffer += data
        count = len(self._buffer) // self._frame_bytes
        if count == 0:
            return []
        size = count * self._frame_bytes
        # One copy out of the buffer; the emitted frames are views into it. Deleting from the
        # front of a bytearray is amortised O(1) in CPython.
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        samples = np.frombuffer(chunk, dtype=np.int16)
        step = self._samples_per_channel * self._num_channels
        return [
            AudioFrame(
                samples[i * step : (i + 1) * step],
                self._sample_rate,
                self._num_channels,
                self._samples_per_channel,
            )
            for i in range(count)
        ]

    def flush(self) -> list[AudioFrame]:
        """Return the buffered remainder as one shorter frame at end of stream, then reset.

        Bytes that do not form a whole sample for every channel cannot be played and are
        dropped with a warning; they indicate a truncated upstream stream.
        """
        group = self._num_channels * 2
        usable = len(self._buffer) - len(self._buffer) % group
        if usable != len(self._buffer):
            _logger.warning(
                "AudioByteStream.flush: dropping %d trailing bytes that do not form a complete "
                "%d-channel sample",
                len(self._buffer) - usable,
                self._num_channels,
            )
        remainder = bytes(self._buffer[:usable])
        self._buffer.clear()
        if not remainder:
            return []
        return [AudioFrame(remainder, self._sample_rate, self._num_channels, usable // group)]

    def clear(self) -> None:
        """Discard buffered audio, e.g. when the user interrupts playback."""
        self._buffer.clear()
