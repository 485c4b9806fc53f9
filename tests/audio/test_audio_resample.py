from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from voxline.audio import AudioFrame, AudioResampler, combine_frames, remix_channels, split_frame


def _sine(freq: float, rate: int, seconds: float, channels: int = 1) -> AudioFrame:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    if channels > 1:
        wave = np.repeat(wave[:, None], channels, axis=1)
    return AudioFrame.from_numpy(wave, rate)


def _peak_hz(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def _run(resampler: AudioResampler, frames: list[AudioFrame]) -> AudioFrame:
    out: list[AudioFrame] = []
    for frame in frames:
        out.extend(resampler.push(frame))
    out.extend(resampler.flush())
    return combine_frames(out)


def test_sine_roundtrip_48k_16k_48k_keeps_frequency_and_length() -> None:
    source = _sine(1000, 48000, 1.0)
    down = _run(AudioResampler(48000, 16000), split_frame(source, 480))
    assert down.sample_rate == 16000
    assert abs(down.samples_per_channel - 16000) <= 4
    assert _peak_hz(down.to_float32()[:, 0], 16000) == pytest.approx(1000, abs=2)

    up = _run(AudioResampler(16000, 48000), split_frame(down, 160))
    assert up.sample_rate == 48000
    assert abs(up.samples_per_channel - 48000) <= 4
    assert _peak_hz(up.to_float32()[:, 0], 48000) == pytest.approx(1000, abs=2)


def test_stereo_resampling_keeps_channels() -> None:
    source = _sine(440, 24000, 0.5, channels=2)
    out = _run(AudioResampler(24000, 16000, num_channels=2), split_frame(source, 240))
    assert out.num_channels == 2
    assert abs(out.samples_per_channel - 8000) <= 4
    as_float = out.to_float32()
    np.testing.assert_array_equal(as_float[:, 0], as_float[:, 1])
    assert _peak_hz(as_float[:, 0], 16000) == pytest.approx(440, abs=3)


def test_silence_stays_silent() -> None:
    out = _run(AudioResampler(48000, 16000), split_frame(AudioFrame.create(48000, 1, 4800), 480))
    assert out.samples_per_channel > 0
    assert not out.data.any()


def test_full_scale_input_clips_instead_of_wrapping() -> None:
    square = np.where(np.arange(4800) % 96 < 48, 1.0, -1.0)
    out = _run(AudioResampler(48000, 16000), [AudioFrame.from_numpy(square, 48000)])
    # Ringing overshoots full scale; wrapped samples would show up as sign flips at the peaks.
    as_float = out.to_float32()[:, 0]
    assert as_float.max() > 0.99
    assert as_float.min() < -0.99
    expected_sign = np.sign(np.sin(2 * np.pi * 500 * np.arange(out.samples_per_channel) / 16000))
    peaks = np.abs(as_float) > 0.9
    assert np.all(np.sign(as_float[peaks]) == expected_sign[peaks])


def test_resampler_is_reusable_after_flush() -> None:
    resampler = AudioResampler(48000, 16000, quality="LQ")
    first = _run(resampler, split_frame(_sine(1000, 48000, 0.1), 480))
    second = _run(resampler, split_frame(_sine(1000, 48000, 0.1), 480))
    np.testing.assert_array_equal(first.data, second.data)


def test_wrong_input_rate_raises() -> None:
    resampler = AudioResampler(48000, 16000)
    with pytest.raises(ValueError, match=r"sample_rate 44100 .* input_rate 48000"):
        resampler.push(AudioFrame.create(44100, 1, 441))


def test_wrong_channel_count_raises() -> None:
    resampler = AudioResampler(48000, 16000, num_channels=1)
    with pytest.raises(ValueError, match="num_channels 2"):
        resampler.push(AudioFrame.create(48000, 2, 480))


def test_equal_rates_pass_frames_through() -> None:
    resampler = AudioResampler(16000, 16000)
    frame = AudioFrame.create(16000, 1, 160)
    assert resampler.push(frame) == [frame]
    assert resampler.flush() == []


def test_invalid_construction() -> None:
    with pytest.raises(ValueError):
        AudioResampler(0, 16000)
    with pytest.raises(ValueError):
        AudioResampler(16000, 8000, num_channels=0)
    with pytest.raises(ValueError, match="quality"):
        AudioResampler(16000, 8000, quality="best")  # type: ignore[arg-type]


def test_empty_push_and_flush_without_input() -> None:
    resampler = AudioResampler(48000, 16000)
    assert resampler.push(AudioFrame.create(48000, 1, 0)) == []
    assert resampler.flush() == []


def test_remix_stereo_to_mono_averages() -> None:
    stereo = AudioFrame(np.array([100, 300, -32768, -32768, 32767, 32767], np.int16), 8000, 2, 3)
    mono = remix_channels(stereo, 1)
    assert mono.num_channels == 1
    assert mono.samples_per_channel == 3
    assert mono.data.tolist() == [200, -32768, 32767]


def test_remix_mono_to_stereo_duplicates() -> None:
    mono = AudioFrame(np.array([1, -2, 3], np.int16), 8000, 1, 3)
    stereo = remix_channels(mono, 2)
    assert stereo.num_channels == 2
    assert stereo.data.tolist() == [1, 1, -2, -2, 3, 3]


def test_remix_identity_and_unsupported() -> None:
    frame = AudioFrame.create(8000, 2, 4)
    assert remix_channels(frame, 2) is frame
    with pytest.raises(ValueError, match="mono"):
        remix_channels(frame, 6)
    with pytest.raises(ValueError):
        remix_channels(frame, 0)
