"""Turns the frames of one utterance into the 16 kHz mono float32 array Whisper expects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ...audio import AudioFrame, AudioResampler, remix_channels

WHISPER_SAMPLE_RATE = 16000


def whisper_input(frames: Sequence[AudioFrame]) -> npt.NDArray[np.float32]:
    """Any rate, any channel count, even a rate change mid-buffer (a transport that
    renegotiated): each run of equal-rate frames gets its own resampler, flushed at its end
    so no tail is lost."""
    pieces: list[AudioFrame] = []
    resampler: AudioResampler | None = None
    for frame in frames:
        if frame.samples_per_channel == 0:
            continue
        mono = remix_channels(frame, 1)
        if resampler is None or resampler.input_rate != mono.sample_rate:
            if resampler is not None:
                pieces.extend(resampler.flush())
            resampler = AudioResampler(mono.sample_rate, WHISPER_SAMPLE_RATE)
        pieces.extend(resampler.push(mono))
    if resampler is not None:
        pieces.extend(resampler.flush())
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([piece.to_float32().reshape(-1) for piece in pieces])
