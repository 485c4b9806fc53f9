"""The frame type every other voxline audio component speaks.

Frames are created for every 10-50 ms of audio on the realtime path, so the class is slotted,
validates with a few integer comparisons and never copies the caller's buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._convert import INT16_SCALE, float_to_int16

__all__ = ["AudioFrame", "combine_frames", "frames_from_array", "split_frame"]

PcmData = bytes | bytearray | memoryview | npt.NDArray[np.int16]


class AudioFrame:
    """A block of interleaved signed 16-bit PCM.

    int16 interleaved is what telephony, WebRTC and most STT/TTS APIs exchange, so keeping it
    as the single in-memory format avoids a conversion at every pipeline boundary.

    The frame wraps ``data`` without copying: frames built from a ``bytearray`` or a writable
    int16 array see later writes to that buffer, and ``frame.data`` is writable exactly when
    the source buffer is.
    """

    __slots__ = ("_data", "_num_channels", "_sample_rate", "_samples_per_channel", "_userdata")

    def __init__(
        self,
        data: PcmData,
        sample_rate: int,
        num_channels: int,
        samples_per_channel: int,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if num_channels <= 0:
            raise ValueError(f"num_channels must be > 0, got {num_channels}")
        if samples_per_channel < 0:
            raise ValueError(f"samples_per_channel must be >= 0, got {samples_per_channel}")
        expected = samples_per_channel * num_channels * 2
        view: npt.NDArray[np.int16]
        if isinstance(data, np.ndarray):
            if data.dtype != np.int16:
                raise ValueError(
                    f"numpy data must have dtype int16, got {data.dtype}; "
                    "use AudioFrame.from_numpy() to convert float audio"
                )
            if data.nbytes != expected:
                raise _size_mismatch(data.nbytes, samples_per_channel, num_channels, expected)
            # A view for C-contiguous input. Strided arrays (e.g. one column of a 2-D array)
            # are copied once here so every consumer can rely on a contiguous buffer.
            view = np.ascontiguousarray(data).reshape(-1)
        else:
            nbytes = data.nbytes if isinstance(data, memoryview) else len(data)
            if nbytes != expected:
                raise _size_mismatch(nbytes, samples_per_channel, num_channels, expected)
            view = np.frombuffer(data, dtype=np.int16)
        self._data = view
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._samples_per_channel = samples_per_channel
        self._userdata: dict[str, object] | None = None

    @classmethod
    def create(cls, sample_rate: int, num_channels: int, samples_per_channel: int) -> AudioFrame:
        """Return a silent, writable frame, e.g. to fill gaps or as an output buffer."""
        # max() keeps numpy from failing first so __init__ reports invalid arguments.
        data = np.zeros(max(samples_per_channel * num_channels, 0), dtype=np.int16)
        return cls(data, sample_rate, num_channels, samples_per_channel)

    @classmethod
    def from_numpy(cls, array: npt.NDArray[Any], sample_rate: int) -> AudioFrame:
        """Build a frame from int16 or float audio shaped ``(n,)`` (mono) or ``(n, channels)``.

        Float input is the usual output of DSP/ML code; it is clipped to [-1, 1] and scaled by
        32768 so that ``from_numpy(frame.to_float32())`` reproduces ``frame`` exactly. int16
        input is wrapped without copying when it is C-contiguous.
        """
        if array.ndim == 1:
            num_channels = 1
        elif array.ndim == 2:
            num_channels = int(array.shape[1])
        else:
            raise ValueError(
                f"expected an array shaped (n,) or (n, channels), got shape {array.shape}"
            )
        samples_per_channel = int(array.shape[0])
        pcm: npt.NDArray[np.int16]
        if array.dtype == np.int16:
            pcm = np.ascontiguousarray(array)
        elif array.dtype.kind == "f":
            pcm = float_to_int16(array)
        else:
            raise ValueError(f"expected int16 or float audio, got dtype {array.dtype}")
        return cls(pcm, sample_rate, num_channels, samples_per_channel)

    @property
    def data(self) -> npt.NDArray[np.int16]:
        """Interleaved samples as a flat int16 view of the underlying buffer (no copy)."""
        return self._data

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
    def duration(self) -> float:
        """Length in seconds, the unit timers, VAD windows and interruption logic think in."""
        return self._samples_per_channel / self._sample_rate

    @property
    def userdata(self) -> dict[str, object]:
        """Free-form per-frame annotations (timestamps, speech flags, ...).

        Created on first access so the common case of an unannotated frame costs no dict.
        """
        if self._userdata is None:
            self._userdata = {}
        return self._userdata

    def to_bytes(self) -> bytes:
        """Return an independent copy of the PCM, for sockets, files and APIs that want bytes."""
        return self._data.tobytes()

    def to_float32(self) -> npt.NDArray[np.float32]:
        """Return a new float32 array in [-1, 1) shaped ``(samples_per_channel, num_channels)``.

        Shaped 2-D even for mono so channel-generic DSP code needs no special case.
        """
        out = self._data.astype(np.float32)
        out *= np.float32(1.0 / INT16_SCALE)
        return out.reshape(self._samples_per_channel, self._num_channels)

    def __repr__(self) -> str:
        return (
            f"AudioFrame(sample_rate={self._sample_rate}, num_channels={self._num_channels}, "
            f"samples_per_channel={self._samples_per_channel}, duration={self.duration:.3f})"
        )


def _size_mismatch(
    nbytes: int, samples_per_channel: int, num_channels: int, expected: int
) -> ValueError:
    return ValueError(
        f"data is {nbytes} bytes but samples_per_channel ({samples_per_channel}) * "
        f"num_channels ({num_channels}) * 2 bytes per int16 sample = {expected} bytes"
    )


def combine_frames(frames: Sequence[AudioFrame]) -> AudioFrame:
    """Concatenate frames into one, e.g. to hand a whole utterance to STT.

    Mixed formats are rejected rather than converted: silently resampling here would hide a
    pipeline wiring bug.
    """
    first = check_uniform(frames, "combine_frames()")
    total = sum(frame.samples_per_channel for frame in frames)
    data = np.concatenate([frame.data for frame in frames])
    return AudioFrame(data, first.sample_rate, first.num_channels, total)


def check_uniform(frames: Sequence[AudioFrame], caller: str) -> AudioFrame:
    """Raise ValueError unless ``frames`` is non-empty and shares one format; return the first."""
    if not frames:
        raise ValueError(f"{caller} needs at least one frame")
    first = frames[0]
    for index, frame in enumerate(frames):
        if frame.sample_rate != first.sample_rate:
            raise ValueError(
                f"{caller}: frame {index} has sample_rate {frame.sample_rate}, "
                f"expected {first.sample_rate} like frame 0"
            )
        if frame.num_channels != first.num_channels:
            raise ValueError(
                f"{caller}: frame {index} has num_channels {frame.num_channels}, "
                f"expected {first.num_channels} like frame 0"
            )
    return first


def split_frame(frame: AudioFrame, samples_per_channel: int) -> list[AudioFrame]:
    """Cut a long frame into chunks of ``samples_per_channel``; the last one may be shorter.

    Lets a file or a TTS result be replayed at realtime frame granularity. The chunks are views
    into ``frame``'s buffer, so splitting costs no copy.
    """
    if samples_per_channel <= 0:
        raise ValueError(f"samples_per_channel must be > 0, got {samples_per_channel}")
    channels = frame.num_channels
    data = frame.data
    total = frame.samples_per_channel
    return [
        AudioFrame(
            data[start * channels : min(start + samples_per_channel, total) * channels],
            frame.sample_rate,
            channels,
            min(samples_per_channel, total - start),
        )
        for start in range(0, total, samples_per_channel)
    ]


def frames_from_array(
    array: npt.NDArray[Any], sample_rate: int, samples_per_channel: int
) -> list[AudioFrame]:
    """Shortcut for ``split_frame(AudioFrame.from_numpy(array, sample_rate), n)``."""
    return split_frame(AudioFrame.from_numpy(array, sample_rate), samples_per_channel)
