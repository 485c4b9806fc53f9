"""Noise cancellation: espeak-ng speech in white noise comes out cleaner, at any frame format."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from support.speech import espeak_pcm
from voxline.audio import AudioFrame
from voxline.audio.processing import AudioProcessor
from voxline.plugins import noise_cancellation
from voxline.plugins.noise_cancellation import NC, NoiseSuppressor, Telephony

SENTENCE = "Hello, I would like to book a table for two people tomorrow evening at seven."
LEAD_SILENCE = 1.0  # noise only, long enough for the suppressor to learn the noise floor


def _noisy_speech(
    rate: int, snr_db: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(clean, noisy) float signals: 1 s of noise, the sentence, 1 s of noise; the white noise
    is scaled so the speech-to-noise power ratio over the sentence is `snr_db`."""
    speech = espeak_pcm(SENTENCE, rate=rate).astype(np.float64)
    pad = np.zeros(int(LEAD_SILENCE * rate))
    clean = np.concatenate([pad, speech, pad])
    noise = np.random.default_rng(7).normal(0.0, 1.0, clean.size)
    noise *= np.sqrt(np.mean(speech**2) / 10 ** (snr_db / 10) / np.mean(noise**2))
    return clean, clean + noise


def _speech_band(signal: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """Keep 100-3800 Hz: the band every rate shares and STT listens to."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    spectrum[(freqs < 100) | (freqs > 3800)] = 0
    return np.fft.irfft(spectrum, signal.size)


def _band_snr_and_speech_rms(signal: npt.NDArray[np.float64], rate: int) -> tuple[float, float]:
    """SNR from a noise-only stretch (0.3-0.95 s) against the sentence span, both in the
    speech band; and the RMS over the sentence span."""
    band = _speech_band(signal, rate)
    noise_power = float(np.mean(band[int(0.3 * rate) : int(0.95 * rate)] ** 2))
    span = band[int(LEAD_SILENCE * rate) : -int(LEAD_SILENCE * rate)]
    speech_power = float(np.mean(span**2))
    snr = 10 * np.log10(max(speech_power - noise_power, 1e-9) / max(noise_power, 1e-9))
    return snr, float(np.sqrt(speech_power))


def _run(
    processor: AudioProcessor, signal: npt.NDArray[np.float64], rate: int, frame_samples: int
) -> npt.NDArray[np.float64]:
    pcm = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
    out = []
    for start in range(0, pcm.size, frame_samples):
        chunk = pcm[start : start + frame_samples].copy()
        frame = processor.process(AudioFrame(chunk, rate, 1, chunk.size))
        assert (frame.sample_rate, frame.num_channels) == (rate, 1)
        assert frame.samples_per_channel == chunk.size
        out.append(frame.data)
    return np.concatenate(out).astype(np.float64)


def _envelope_lag_ms(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], rate: int) -> int:
    """Delay of `b` behind `a`, from the best match of their 1 ms RMS envelopes."""
    step = rate // 1000
    usable = min(a.size, b.size) // step * step

    def env(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.sqrt(np.mean(x[:usable].reshape(-1, step) ** 2, axis=1))

    ea, eb = env(a), env(b)
    scores = [np.corrcoef(ea[: ea.size - lag], eb[lag:])[0, 1] for lag in range(60)]
    return int(np.argmax(scores))


@pytest.mark.parametrize(
    ("make", "rate", "frame_ms", "snr_in", "min_gain_db", "rms_bounds"),
    [
        (NC, 24000, 50, 5.0, 8.0, (0.6, 1.1)),  # RoomIO's default input format
        (NC, 48000, 20, 10.0, 8.0, (0.7, 1.1)),  # WebRTC's rate
        (NC, 16000, 10, 5.0, 8.0, (0.6, 1.1)),
        (Telephony, 8000, 20, 5.0, 8.0, (0.8, 2.0)),  # a SIP call; gain control raises speech
        (Telephony, 48000, 20, 5.0, 8.0, (0.8, 2.0)),  # a call the transport upsampled
    ],
)
def test_speech_in_white_noise_comes_out_cleaner(
    make: Callable[[], NoiseSuppressor],
    rate: int,
    frame_ms: int,
    snr_in: float,
    min_gain_db: float,
    rms_bounds: tuple[float, float],
) -> None:
    clean, noisy = _noisy_speech(rate, snr_in)
    processor = make()
    out = _run(processor, noisy, rate, rate * frame_ms // 1000)
    processor.close()

    measured_in, _ = _band_snr_and_speech_rms(noisy, rate)
    measured_out, speech_rms_out = _band_snr_and_speech_rms(out, rate)
    _, speech_rms_clean = _band_snr_and_speech_rms(clean, rate)
    assert measured_out >= measured_in + min_gain_db, (measured_in, measured_out)
    low, high = rms_bounds
    assert low <= speech_rms_out / speech_rms_clean <= high
    # The chain adds a few milliseconds, not a block of buffering.
    assert _envelope_lag_ms(clean, out, rate) <= 15


def test_unprocessed_noise_is_what_the_measure_reports() -> None:
    """The SNR measure itself: the noisy input reads close to the SNR it was made with."""
    _, noisy = _noisy_speech(16000, 5.0)
    snr, _ = _band_snr_and_speech_rms(noisy, 16000)
    assert 4.0 <= snr <= 11.0  # white noise loses some of its power to the band limit


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000])
@pytest.mark.parametrize("num_channels", [1, 2])
def test_frames_of_any_size_and_rate_keep_their_format(rate: int, num_channels: int) -> None:
    speech = espeak_pcm("one two three four", rate=rate)
    interleaved = np.repeat(speech, num_channels)
    processor = NC()
    sizes = [1, 7, 80, 160, 441, 960, 2400]
    out, position, index = [], 0, 0
    while position < speech.size:
        size = min(sizes[index % len(sizes)], speech.size - position)
        chunk = interleaved[position * num_channels : (position + size) * num_channels].copy()
        frame = processor.process(AudioFrame(chunk, rate, num_channels, size))
        assert frame.sample_rate == rate
        assert frame.num_channels == num_channels
        assert frame.samples_per_channel == size
        out.append(frame.data)
        position += size
        index += 1
    result = np.concatenate(out).reshape(-1, num_channels).astype(np.float64)
    # Speech passes through (clean speech is not noise), and channels are treated alike.
    assert np.sqrt(np.mean(result**2)) >= 0.5 * np.sqrt(np.mean(speech.astype(np.float64) ** 2))
    if num_channels == 2:
        assert np.array_equal(result[:, 0], result[:, 1])
    processor.close()


def test_an_empty_frame_comes_back_unchanged() -> None:
    processor = NC()
    empty = AudioFrame.create(24000, 1, 0)
    assert processor.process(empty) is empty


def test_a_new_format_starts_a_fresh_chain() -> None:
    processor = Telephony()
    first = processor.process(AudioFrame.create(24000, 1, 480))
    second = processor.process(AudioFrame.create(8000, 2, 160))
    assert (first.sample_rate, first.num_channels, first.samples_per_channel) == (24000, 1, 480)
    assert (second.sample_rate, second.num_channels, second.samples_per_channel) == (8000, 2, 160)


def test_closed_processor_refuses_frames_and_close_is_idempotent() -> None:
    processor = NC()
    processor.close()
    processor.close()
    with pytest.raises(RuntimeError, match="closed"):
        processor.process(AudioFrame.create(16000, 1, 160))


@pytest.mark.parametrize("level", [0, 5, -1])
def test_suppression_level_out_of_range_is_refused(level: int) -> None:
    with pytest.raises(ValueError, match="suppression_level must be 1 to 4"):
        NC(suppression_level=level)


@pytest.mark.parametrize("gain", [-1, 32])
def test_auto_gain_out_of_range_is_refused(gain: int) -> None:
    with pytest.raises(ValueError, match="auto_gain_dbfs must be 0"):
        Telephony(auto_gain_dbfs=gain)


def test_presets_and_seed_names() -> None:
    nc, tel = NC(), Telephony()
    assert (nc.telephony, nc.suppression_level, nc.auto_gain_dbfs) == (False, 3, 0)
    assert (tel.telephony, tel.suppression_level, tel.auto_gain_dbfs) == (True, 4, 3)
    assert isinstance(noise_cancellation.BVC(), NC)
    assert isinstance(noise_cancellation.BVCTelephony(), Telephony)
    assert repr(tel) == "Telephony(suppression_level=4, auto_gain_dbfs=3, telephony=True)"


def test_speech_flag_follows_the_input() -> None:
    processor = NC()
    rate = 16000
    speech = espeak_pcm("hello there, how are you", rate=rate)
    processor.process(AudioFrame(np.zeros(rate, np.int16), rate, 1, rate))
    assert not processor.speech_detected
    flags = []
    for start in range(0, speech.size - 160, 160):
        chunk = speech[start : start + 160].copy()
        processor.process(AudioFrame(chunk, rate, 1, 160))
        flags.append(processor.speech_detected)
    assert any(flags)
