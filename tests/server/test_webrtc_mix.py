"""The mix a WebRTC participant hears: per-source queues, resampling and the delay bound."""

from __future__ import annotations

import numpy as np

from voxline.audio import AudioFrame
from voxline.server.webrtc import SAMPLES, TRIM_EVERY, _MixSource


def frame(value: int, n: int = SAMPLES, rate: int = 48000) -> AudioFrame:
    return AudioFrame(np.full(n, value, np.int16), rate, 1, n)


def test_a_paced_source_passes_through_unchanged() -> None:
    source = _MixSource()
    out = []
    for i in range(3 * TRIM_EVERY):
        source.push(frame(i % 1000))
        chunk = source.pull(SAMPLES)
        assert chunk is not None
        out.append(int(chunk[0]))
    assert out == [i % 1000 for i in range(3 * TRIM_EVERY)]
    assert source.trimmed == 0


def test_a_late_packet_does_not_add_delay_for_good() -> None:
    source = _MixSource()
    source.push(frame(1))
    assert source.pull(SAMPLES) is not None
    assert source.pull(SAMPLES) is None  # the next packet is late: underrun
    for _ in range(2):  # it arrives with the one after it: one packet more stays queued
        source.push(frame(2))
    delays = []
    for _ in range(3 * TRIM_EVERY):
        source.pull(SAMPLES)
        delays.append(len(source.buffer))
        source.push(frame(3))
    assert delays[0] >= SAMPLES  # a whole packet of standing delay...
    assert max(delays[-TRIM_EVERY // 2 :]) < SAMPLES // 2  # ...trimmed within 2 s
    assert source.trimmed > 0


def test_other_rates_and_channels_are_converted() -> None:
    source = _MixSource()
    stereo16k = AudioFrame(np.tile(np.array([1000, 3000], np.int16), 320), 16000, 2, 320)
    for _ in range(10):
        source.push(stereo16k)
    chunk = source.pull(SAMPLES)
    assert chunk is not None and len(chunk) == SAMPLES
    assert abs(int(np.median(chunk)) - 2000) < 50  # mono mix of the two channels
