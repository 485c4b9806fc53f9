"""Whisper's log-mel front end in numpy: what the Smart Turn encoder was trained on.

8 s of 16 kHz audio -> 80 mel bands x 800 frames (25 ms Hann window, 10 ms hop). The waveform
is first scaled to zero mean and unit variance; the log spectrum is clamped 8 decades below
its peak and mapped to about [-1, 1], as Whisper does.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
SECONDS = 8
N_SAMPLES = SAMPLE_RATE * SECONDS
N_FRAMES = N_SAMPLES // HOP  # 800


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    linear = hz * 3.0 / 200.0
    log_step = np.log(6.4) / 27.0
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / log_step
    return np.where(hz < 1000.0, linear, logarithmic)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = mel * 200.0 / 3.0
    log_step = np.log(6.4) / 27.0
    logarithmic = 1000.0 * np.exp(log_step * (mel - 15.0))
    return np.where(mel < 15.0, linear, logarithmic)


@functools.cache
def mel_filters() -> npt.NDArray[np.float64]:
    """(N_MELS, N_FFT // 2 + 1) triangles, equal area per band (Slaney normalisation)."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(np.array(SAMPLE_RATE / 2))), N_MELS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    triangles = np.clip(np.minimum(rising, falling), 0.0, None)
    return triangles * (2.0 / (upper - lower))


@functools.cache
def _hann() -> npt.NDArray[np.float64]:
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)  # periodic


def last_seconds(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The last 8 s of `audio`, zeros in front when it is shorter."""
    if len(audio) >= N_SAMPLES:
        tail: npt.NDArray[np.float32] = audio[-N_SAMPLES:]
        return tail
    return np.concatenate([np.zeros(N_SAMPLES - len(audio), np.float32), audio])


def log_mel(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """(80, 800) features of exactly 8 s of 16 kHz mono float audio."""
    if audio.ndim != 1 or len(audio) != N_SAMPLES:
        raise ValueError(f"expected {N_SAMPLES} mono samples, got shape {audio.shape}")
    x = audio.astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + np.float32(1e-7))
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=-1)) ** 2  # (801, 201)
    mel: npt.NDArray[np.float64] = np.log10(np.maximum(power @ mel_filters().T, 1e-10))
    mel = mel.T[:, :N_FRAMES]  # the centred STFT has one frame more than 8 s / 10 ms
    mel = np.maximum(mel, mel.max() - 8.0)
    out: npt.NDArray[np.float32] = ((mel + 4.0) / 4.0).astype(np.float32)
    return out
