"""Signal level measurement for meters, noise gates and silence detection."""

from __future__ import annotations

import math

import numpy as np

from ._convert import INT16_SCALE
from .frame import AudioFrame

__all__ = ["rms_dbfs", "rms_level"]


def rms_level(frame: AudioFrame) -> float:
    """Return the RMS of all samples (all channels) as a *linear* value in 0..1.

    Linear rather than dB so that thresholds and averaging stay cheap arithmetic and silence
    is a plain 0.0 instead of -inf. 1.0 is a full-scale square wave; a full-scale sine reads
    about 0.707. Use :func:`rms_dbfs` when a display wants decibels.
    """
    if frame.samples_per_channel == 0:
        return 0.0
    # float64 because squaring int16 overflows int16/int32 accumulators on long frames.
    samples = frame.data.astype(np.float64)
    mean_square = float(np.dot(samples, samples)) / samples.size
    return min(math.sqrt(mean_square) / INT16_SCALE, 1.0)


def rms_dbfs(frame: AudioFrame, floor: float = -100.0) -> float:
    """Return the RMS level in dBFS (0 dB = full-scale square wave), never below ``floor``.

    The floor keeps digital silence finite so meters and smoothing filters need no -inf case.
    """
    level = rms_level(frame)
    if level <= 0.0:
        return floor
    return max(20.0 * math.log10(level), floor)
