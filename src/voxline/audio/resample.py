"""Sample-rate and channel-count conversion between pipeline stages.

STT engines typically want 16 kHz mono while WebRTC and TTS run at 24-48 kHz, so every agent
converts in both directions on each frame.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

# soxr ships no type information; the ignore stays harmless if a later release adds it.
import soxr  # type: ignore[import-untyped, unused-ignore]

from ._convert import float_to_int16
from .frame import AudioFrame

__all__ = ["AudioResampler", "ResampleQuality", "remix_channels"]

ResampleQuality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
_QUALITIES: tuple[str, ...] = get_args(ResampleQuality)


class AudioResampler:
    """Streaming resampler for a continuous sequence of frames.

    A stream resampler (rather than resampling each frame on its own) carries filter state
    across frame boundaries; per-frame resampling produces audible clicks every 10-20 ms.
    The price is latency: soxr holds back a few milliseconds of output until more input or
    :meth:`flush` arrives, so ``push`` may return fewer samples than expected, or none.

    soxr runs in float32 rather than its int16 mode because the latter adds dither, which turns
    digital silence into +-1 LSB noise (confusing silence detection) and makes identical
    channels differ.
    """

    __slots__ = ("_input_rate", "_num_channels", "_output_rate", "_quality", "_stream")

    def __init__(
        self,
        input_rate: int,
        output_rate: int,
        num_channels: int = 1,
        quality: ResampleQuality = "HQ",
    ) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(
                f"sample rates must be > 0, got input_rate={input_rate}, output_rate={output_rate}"
            )
        if num_channels <= 0:
            raise ValueError(f"num_channels must be > 0, got {num_channels}")
        if quality not in _QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(_QUALITIES)}, got {quality!r}")
        self._input_rate = input_rate
        self._output_rate = output_rate
        self._num_channels = num_channels
        self._quality = quality
        # Created lazily and dropped on flush: a soxr stream cannot take input after its last
        # chunk, and this keeps the equal-rate case free of soxr entirely.
        self._stream: Any = None

    @property
    def input_rate(self) -> int:
        return self._input_rate

    @property
    def output_rate(self) -> int:
        return self._output_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        """Feed one input frame; return whatever resampled audio is ready (possibly nothing).

        Frames in another format raise instead of being converted, because a rate mismatch
        mid-stream means the caller wired the pipeline wrongly and would otherwise just hear
        pitch-shifted audio.
        """
        if frame.sample_rate != self._input_rate:
            raise ValueError(
                f"frame sample_rate {frame.sample_rate} does not match the resampler's "
                f"input_rate {self._input_rate}"
            )
        if frame.num_channels != self._num_channels:
            raise ValueError(
                f"frame num_channels {frame.num_channels} does not match the resampler's "
                f"num_channels {self._num_channels}"
            )
        if self._input_rate == self._output_rate:
            return [frame]
        if frame.samples_per_channel == 0:
            return []
        if self._stream is None:
            self._stream = soxr.ResampleStream(
                self._input_rate,
                self._output_rate,
                self._num_channels,
                dtype="float32",
                quality=self._quality,
            )
        samples = frame.to_float32()
        if self._num_channels == 1:
            samples = samples.reshape(-1)
        return self._wrap(self._stream.resample_chunk(samples))

    def flush(self) -> list[AudioFrame]:
        """Return the audio still held in the filter, e.g. at the end of a TTS utterance.

        Without this the last few milliseconds of every utterance would be cut off. The
        resampler can be reused afterwards for a new, unrelated stream.
        """
        stream, self._stream = self._stream, None
        if stream is None:
            return []
        shape = (0, self._num_channels) if self._num_channels > 1 else (0,)
        return self._wrap(stream.resample_chunk(np.zeros(shape, dtype=np.float32), last=True))

    def _wrap(self, output: npt.NDArray[np.float32]) -> list[AudioFrame]:
        samples_per_channel = int(output.shape[0])
        if samples_per_channel == 0:
            return []
        # Filter overshoot can exceed full scale; float_to_int16 clips instead of wrapping.
        pcm = float_to_int16(output.reshape(-1))
        return [AudioFrame(pcm, self._output_rate, self._num_channels, samples_per_channel)]

    def __repr__(self) -> str:
        return (
            f"AudioResampler(input_rate={self._input_rate}, output_rate={self._output_rate}, "
            f"num_channels={self._num_channels}, quality={self._quality!r})"
        )


def remix_channels(frame: AudioFrame, num_channels: int) -> AudioFrame:
    """Convert between mono and N channels: average down to mono, duplicate up from mono.

    Covers the common mismatch (stereo transport vs. mono STT/TTS). Other layouts, e.g.
    stereo to 5.1, raise ValueError because there is no single right mapping.
    The frame itself is returned when no conversion is needed.
    """
    if num_channels <= 0:
        raise ValueError(f"num_channels must be > 0, got {num_channels}")
    source = frame.num_channels
    if source == num_channels:
        return frame
    if num_channels == 1:
        interleaved = frame.data.reshape(-1, source)
        # Sum in int32 so that e.g. two full-scale channels do not overflow before dividing.
        summed = interleaved.sum(axis=1, dtype=np.int32)
        mono = np.rint(summed / source).astype(np.int16)
        return AudioFrame(mono, frame.sample_rate, 1, frame.samples_per_channel)
    if source == 1:
        spread = np.repeat(frame.data, num_channels)
        return AudioFrame(spread, frame.sample_rate, num_channels, frame.samples_per_channel)
    raise ValueError(f"can only remix to or from mono, got {source} -> {num_channels} channels")
