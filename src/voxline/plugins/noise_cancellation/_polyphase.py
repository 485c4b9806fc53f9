"""A streaming polyphase resampler with a delay of about a millisecond.

Noise suppression runs on every inbound frame before VAD, so its resampling must not add
latency. A chunked resampler (soxr's stream mode) holds back 25-110 ms of output until it has
enough for a block; this one is a plain causal FIR, so each output sample leaves as soon as
its last input sample has arrived and the only delay is the filter's half-length.
"""

from __future__ import annotations

from math import ceil, gcd, pi

import numpy as np
import numpy.typing as npt

__all__ = ["PolyphaseResampler"]

_ATTENUATION_DB = 60.0
# Transition band as a fraction of the lower of the two rates: the stopband starts at the
# lower Nyquist frequency, so nothing audible aliases.
_TRANSITION = 0.08
# Up to this many filter phases, one matrix-vector product per phase beats a gathered einsum.
_FEW_PHASES = 8


class PolyphaseResampler:
    """Rational-ratio resampler over float32 mono samples, keeping state across chunks."""

    __slots__ = (
        "_bank",
        "_down",
        "_history",
        "_history_start",
        "_input_rate",
        "_next_output",
        "_taps",
        "_up",
    )

    def __init__(self, input_rate: int, output_rate: int) -> None:
        if input_rate <= 0 or output_rate <= 0:
            raise ValueError(
                f"sample rates must be > 0, got input_rate={input_rate}, output_rate={output_rate}"
            )
        self._input_rate = input_rate
        divisor = gcd(input_rate, output_rate)
        self._up = output_rate // divisor
        self._down = input_rate // divisor
        upsampled_rate = input_rate * self._up
        lower = min(input_rate, output_rate)
        transition = _TRANSITION * lower
        # Kaiser's estimate of the FIR length for the attenuation and transition width.
        length = ceil((_ATTENUATION_DB - 8.0) / (2.285 * 2.0 * pi * transition / upsampled_rate))
        self._taps = max(2, ceil(length / self._up))
        total = self._taps * self._up
        cutoff = (lower / 2.0 - transition / 2.0) / upsampled_rate  # cycles per sample
        beta = 0.1102 * (_ATTENUATION_DB - 8.7)
        n = np.arange(total) - (total - 1) / 2.0
        prototype = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.kaiser(total, beta)
        prototype *= self._up / prototype.sum()  # unity DC gain after zero-stuffing
        # bank[phase, k] multiplies the input sample k steps before the output's position.
        bank = prototype.reshape(self._taps, self._up).T
        # Reversed so a window of inputs in time order (oldest first) meets its coefficient.
        self._bank = np.ascontiguousarray(bank[:, ::-1], dtype=np.float32)
        self._history = np.zeros(self._taps - 1, dtype=np.float32)
        self._history_start = -(self._taps - 1)  # absolute input index of history[0]
        self._next_output = 0

    @property
    def delay(self) -> float:
        """The filter's group delay in seconds, the latency this stage adds."""
        if self._up == self._down:
            return 0.0
        return (self._taps * self._up - 1) / 2.0 / (self._input_rate * self._up)

    def push(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Feed input samples; return every output sample they complete."""
        if self._up == self._down:
            return samples
        buffer = np.concatenate([self._history, samples])
        end = self._history_start + buffer.size  # one past the last input index received
        stop = (end * self._up + self._down - 1) // self._down
        first = self._next_output
        result = np.empty(max(0, stop - first), dtype=np.float32)
        if result.size:
            # Row r of windows holds the inputs ending at input index history_start+r+taps-1,
            # oldest first, so each output is one row times its phase's coefficients.
            stride = buffer.strides[0]
            windows = np.lib.stride_tricks.as_strided(
                buffer,
                shape=(buffer.size - self._taps + 1, self._taps),
                strides=(stride, stride),
                writeable=False,
            )
            offset = self._history_start + self._taps - 1
            if self._up <= _FEW_PHASES:
                # Outputs i, i+up, i+2*up ... share a phase and sit `down` rows apart, so each
                # phase is one strided view times one coefficient vector, with no copying.
                for i in range(min(self._up, result.size)):
                    position = (first + i) * self._down
                    row = position // self._up - offset
                    count = len(range(i, result.size, self._up))
                    rows = windows[row : row + (count - 1) * self._down + 1 : self._down]
                    result[i :: self._up] = rows @ self._bank[position % self._up]
            else:
                positions = np.arange(first, stop, dtype=np.int64) * self._down
                rows_index = positions // self._up - offset
                result[:] = np.einsum(
                    "ij,ij->i", windows[rows_index], self._bank[positions % self._up]
                )
        self._next_output = int(stop)
        keep_from = (self._next_output * self._down) // self._up - (self._taps - 1)
        cut = max(0, keep_from - self._history_start)
        self._history = buffer[cut:]
        self._history_start += cut
        return result
