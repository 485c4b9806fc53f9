from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxline.audio import AudioByteStream, AudioFrame


def test_default_frame_is_10ms() -> None:
    assert AudioByteStream(48000, 1).samples_per_channel == 480
    assert AudioByteStream(16000, 2).samples_per_channel == 160


def test_emits_exact_frames_and_keeps_remainder() -> None:
    stream = AudioByteStream(8000, 1, samples_per_channel=4)
    assert stream.push(b"\x01\x00" * 3) == []
    frames = stream.push(b"\x02\x00" * 6)
    assert [f.samples_per_channel for f in frames] == [4, 4]
    assert [f.data.tolist() for f in frames] == [[1, 1, 1, 2], [2, 2, 2, 2]]
    assert stream.buffered_bytes == 2
    tail = stream.flush()
    assert len(tail) == 1
    assert tail[0].samples_per_channel == 1
    assert tail[0].data.tolist() == [2]
    assert stream.flush() == []


def test_accepts_frames_and_validates_their_format() -> None:
    stream = AudioByteStream(16000, 2, samples_per_channel=2)
    frames = stream.push(AudioFrame(np.arange(6, dtype=np.int16), 16000, 2, 3))
    assert [f.data.tolist() for f in frames] == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="expects 16000 Hz / 2 ch"):
        stream.push(AudioFrame.create(16000, 1, 2))
    with pytest.raises(ValueError, match="expects 16000 Hz / 2 ch"):
        stream.push(AudioFrame.create(8000, 2, 2))


def test_flush_drops_incomplete_sample(caplog: pytest.LogCaptureFixture) -> None:
    stream = AudioByteStream(8000, 2, samples_per_channel=10)
    stream.push(b"\x01\x00\x02\x00\x03")
    with caplog.at_level(logging.WARNING):
        frames = stream.flush()
    assert [f.data.tolist() for f in frames] == [[1, 2]]
    assert "dropping 1 trailing bytes" in caplog.text


def test_clear_discards_buffer() -> None:
    stream = AudioByteStream(8000, 1, samples_per_channel=10)
    stream.push(b"\x00" * 6)
    stream.clear()
    assert stream.buffered_bytes == 0
    assert stream.flush() == []


def test_invalid_construction() -> None:
    with pytest.raises(ValueError):
        AudioByteStream(0, 1)
    with pytest.raises(ValueError):
        AudioByteStream(8000, 0)
    with pytest.raises(ValueError):
        AudioByteStream(8000, 1, samples_per_channel=0)


@given(
    channels=st.integers(min_value=1, max_value=3),
    samples_per_channel=st.integers(min_value=1, max_value=50),
    total_samples=st.integers(min_value=0, max_value=600),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_arbitrary_push_sizes_preserve_the_byte_stream(
    channels: int, samples_per_channel: int, total_samples: int, cuts: list[int], seed: int
) -> None:
    payload = np.random.default_rng(seed).bytes(total_samples * channels * 2)
    boundaries = sorted({c % (len(payload) + 1) for c in cuts} | {0, len(payload)})
    stream = AudioByteStream(16000, channels, samples_per_channel)

    frames: list[AudioFrame] = []
    for start, end in itertools.pairwise(boundaries):
        frames.extend(stream.push(payload[start:end]))
    assert all(f.samples_per_channel == samples_per_channel for f in frames)
    tail = stream.flush()
    assert len(tail) <= 1
    assert all(0 < f.samples_per_channel < samples_per_channel for f in tail)

    frames.extend(tail)
    assert all(f.num_channels == channels and f.sample_rate == 16000 for f in frames)
    assert sum(f.samples_per_channel for f in frames) == total_samples
    assert b"".join(f.to_bytes() for f in frames) == payload
