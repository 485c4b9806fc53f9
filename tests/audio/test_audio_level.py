from __future__ import annotations

import numpy as np
import pytest

from voxline.audio import AudioFrame, rms_dbfs, rms_level


def test_silence() -> None:
    frame = AudioFrame.create(16000, 1, 160)
    assert rms_level(frame) == 0.0
    assert rms_dbfs(frame) == -100.0
    assert rms_dbfs(frame, floor=-60.0) == -60.0
    assert rms_level(AudioFrame.create(16000, 1, 0)) == 0.0


def test_full_scale_sine_reads_minus_3_dbfs() -> None:
    t = np.arange(16000) / 16000
    frame = AudioFrame.from_numpy(np.sin(2 * np.pi * 1000 * t), 16000)
    assert rms_level(frame) == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert rms_dbfs(frame) == pytest.approx(-3.01, abs=0.02)


def test_full_scale_square_does_not_overflow() -> None:
    samples = np.tile(np.array([-32768, 32767], dtype=np.int16), 100_000)
    assert rms_level(AudioFrame(samples, 48000, 2, 100_000)) == pytest.approx(1.0, abs=1e-4)
