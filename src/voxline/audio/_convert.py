"""Sample-format conversions shared by frame construction and WAV decoding."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# Scaling by 2**15 (rather than 32767) makes int16 -> float -> int16 exact, so audio that only
# passes through a float stage (e.g. a VAD or a meter) comes back bit-identical. The price is
# that +1.0 maps to 32768 and has to be clipped to 32767, which is inaudible.
INT16_SCALE = 32768.0


def float_to_int16(samples: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Convert float PCM in [-1, 1] to int16.

    Out-of-range values are clipped rather than wrapped because wrapping turns a slightly hot
    signal into full-scale clicks; NaN becomes silence so one bad upstream sample cannot poison
    the integer cast.
    """
    scaled: npt.NDArray[np.floating[Any]] = np.multiply(samples, INT16_SCALE)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -INT16_SCALE, INT16_SCALE - 1.0, out=scaled)
    return scaled.astype(np.int16)
