"""The noise chain's low-delay resampler: exact lengths, accuracy, no aliasing, chunk-free."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from voxline.plugins.noise_cancellation._polyphase import PolyphaseResampler

RATIOS = [
    (48000, 16000),
    (24000, 16000),
    (44100, 16000),
    (16000, 8000),
    (16000, 48000),
    (16000, 24000),
    (16000, 44100),
    (8000, 16000),
]


def _tone(rate: int, freq: float, seconds: float, delay: float = 0.0) -> npt.NDArray[np.float32]:
    t = np.arange(int(rate * seconds)) / rate - delay
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _push_in_chunks(
    resampler: PolyphaseResampler, signal: npt.NDArray[np.float32], size: int
) -> npt.NDArray[np.float32]:
    parts = [resampler.push(signal[i : i + size]) for i in range(0, signal.size, size)]
    return np.concatenate(parts)


@pytest.mark.parametrize(("source", "target"), RATIOS)
def test_a_tone_comes_out_exact_after_the_filter_delay(source: int, target: int) -> None:
    resampler = PolyphaseResampler(source, target)
    out = _push_in_chunks(resampler, _tone(source, 1000, 1.0), source // 100)
    assert out.size == target  # one second in, one second out, nothing held back
    expected = _tone(target, 1000, 1.0, delay=resampler.delay)
    settled = target // 20
    assert np.max(np.abs(out[settled:] - expected[settled:])) < 1e-3
    assert resampler.delay < 0.003


@pytest.mark.parametrize(("source", "target"), [r for r in RATIOS if r[0] > r[1]])
def test_content_above_the_new_nyquist_is_removed(source: int, target: int) -> None:
    out = _push_in_chunks(
        PolyphaseResampler(source, target), _tone(source, target * 0.53, 1.0), 480
    )
    level = np.sqrt(np.mean(out[target // 20 :] ** 2)) / (0.5 / np.sqrt(2))
    assert 20 * np.log10(level) < -55


def test_output_does_not_depend_on_chunking() -> None:
    signal = np.random.default_rng(3).normal(0, 0.2, 48000).astype(np.float32)
    whole = PolyphaseResampler(48000, 16000).push(signal)
    ragged = _push_in_chunks(PolyphaseResampler(48000, 16000), signal, 37)
    assert np.allclose(whole, ragged, atol=1e-6)


def test_equal_rates_pass_through() -> None:
    resampler = PolyphaseResampler(16000, 16000)
    signal = _tone(16000, 440, 0.1)
    assert resampler.push(signal) is signal
    assert resampler.delay == 0.0


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="sample rates must be > 0"):
        PolyphaseResampler(0, 16000)
