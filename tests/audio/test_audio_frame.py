from __future__ import annotations

import numpy as np
import pytest

from voxline.audio import AudioFrame, combine_frames, frames_from_array, split_frame


def test_rejects_data_length_mismatch_and_names_both_sizes() -> None:
    with pytest.raises(ValueError, match=r"data is 10 bytes.*= 8 bytes"):
        AudioFrame(b"\x00" * 10, 16000, 2, 2)


def test_rejects_odd_byte_count() -> None:
    with pytest.raises(ValueError, match="3 bytes"):
        AudioFrame(b"\x00" * 3, 16000, 1, 1)


@pytest.mark.parametrize(
    ("rate", "channels", "spc", "message"),
    [
        (0, 1, 0, "sample_rate"),
        (-8000, 1, 0, "sample_rate"),
        (16000, 0, 0, "num_channels"),
        (16000, 1, -1, "samples_per_channel"),
    ],
)
def test_rejects_invalid_format(rate: int, channels: int, spc: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AudioFrame(b"", rate, channels, spc)


def test_rejects_non_int16_array() -> None:
    with pytest.raises(ValueError, match="int16"):
        AudioFrame(np.zeros(4, dtype=np.float32), 16000, 1, 8)


def test_data_is_a_view_of_a_bytearray() -> None:
    buffer = bytearray(8)
    frame = AudioFrame(buffer, 16000, 2, 2)
    assert np.shares_memory(frame.data, np.frombuffer(buffer, dtype=np.int16))
    buffer[0:2] = (1234).to_bytes(2, "little", signed=True)
    assert frame.data[0] == 1234
    assert frame.data.shape == (4,)
    assert frame.data.dtype == np.int16


def test_data_is_a_view_of_a_numpy_array() -> None:
    array = np.arange(6, dtype=np.int16)
    frame = AudioFrame(array, 8000, 3, 2)
    assert np.shares_memory(frame.data, array)
    array[5] = -7
    assert frame.data[5] == -7


def test_memoryview_input() -> None:
    source = np.array([1, -2, 3], dtype=np.int16)
    frame = AudioFrame(source.data, 8000, 1, 3)  # ndarray.data is a memoryview
    assert frame.data.tolist() == [1, -2, 3]


def test_non_contiguous_array_is_accepted() -> None:
    stereo = np.arange(8, dtype=np.int16).reshape(4, 2)
    frame = AudioFrame(stereo[:, 0], 8000, 1, 4)
    assert frame.data.tolist() == [0, 2, 4, 6]
    assert frame.data.flags.c_contiguous


def test_properties_and_repr() -> None:
    frame = AudioFrame.create(48000, 2, 480)
    assert frame.sample_rate == 48000
    assert frame.num_channels == 2
    assert frame.samples_per_channel == 480
    assert frame.duration == pytest.approx(0.01)
    assert not frame.data.any()
    assert frame.to_bytes() == bytes(480 * 2 * 2)
    assert repr(frame) == (
        "AudioFrame(sample_rate=48000, num_channels=2, samples_per_channel=480, duration=0.010)"
    )


def test_create_validates() -> None:
    with pytest.raises(ValueError, match="num_channels"):
        AudioFrame.create(16000, 0, 10)
    with pytest.raises(ValueError, match="samples_per_channel"):
        AudioFrame.create(16000, 1, -10)


def test_userdata_is_per_frame() -> None:
    first = AudioFrame.create(16000, 1, 1)
    second = AudioFrame.create(16000, 1, 1)
    first.userdata["speech"] = True
    assert first.userdata == {"speech": True}
    assert second.userdata == {}


def test_slots_prevent_stray_attributes() -> None:
    frame = AudioFrame.create(16000, 1, 1)
    with pytest.raises(AttributeError):
        frame.typo = 1  # type: ignore[attr-defined]


def test_int16_float_roundtrip_is_exact() -> None:
    samples = np.array([[-32768, 32767], [0, 1], [-1, 12345]], dtype=np.int16)
    frame = AudioFrame.from_numpy(samples, 16000)
    as_float = frame.to_float32()
    assert as_float.dtype == np.float32
    assert as_float.shape == (3, 2)
    assert as_float.min() >= -1.0
    assert as_float.max() < 1.0
    back = AudioFrame.from_numpy(as_float, 16000)
    np.testing.assert_array_equal(back.data, samples.reshape(-1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_numpy_float_is_clipped_and_scaled(dtype: type[np.floating]) -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, np.nan], dtype=dtype)
    frame = AudioFrame.from_numpy(samples, 24000)
    assert frame.num_channels == 1
    assert frame.samples_per_channel == 8
    assert frame.data.tolist() == [0, 16384, -16384, 32767, -32768, 32767, -32768, 0]


def test_from_numpy_int16_mono_and_stereo_layout() -> None:
    stereo = np.array([[1, 2], [3, 4]], dtype=np.int16)
    frame = AudioFrame.from_numpy(stereo, 8000)
    assert (frame.num_channels, frame.samples_per_channel) == (2, 2)
    assert frame.data.tolist() == [1, 2, 3, 4]  # interleaved
    assert np.shares_memory(frame.data, stereo)


@pytest.mark.parametrize(
    "array",
    [np.zeros((2, 2, 2), dtype=np.int16), np.zeros(3, dtype=np.int32), np.zeros(3, dtype=bool)],
)
def test_from_numpy_rejects_bad_input(array: np.ndarray) -> None:
    with pytest.raises(ValueError):
        AudioFrame.from_numpy(array, 8000)


def test_combine_frames_concatenates() -> None:
    a = AudioFrame(np.array([1, 2, 3, 4], dtype=np.int16), 8000, 2, 2)
    b = AudioFrame(np.array([5, 6], dtype=np.int16), 8000, 2, 1)
    combined = combine_frames([a, b])
    assert combined.samples_per_channel == 3
    assert combined.num_channels == 2
    assert combined.data.tolist() == [1, 2, 3, 4, 5, 6]


def test_combine_frames_rejects_mismatch_and_empty() -> None:
    mono = AudioFrame.create(8000, 1, 1)
    with pytest.raises(ValueError, match="sample_rate"):
        combine_frames([mono, AudioFrame.create(16000, 1, 1)])
    with pytest.raises(ValueError, match="num_channels"):
        combine_frames([mono, AudioFrame.create(8000, 2, 1)])
    with pytest.raises(ValueError, match="at least one"):
        combine_frames([])


def test_split_frame_chunks_are_views_with_short_tail() -> None:
    frame = AudioFrame(np.arange(14, dtype=np.int16), 8000, 2, 7)
    chunks = split_frame(frame, 3)
    assert [c.samples_per_channel for c in chunks] == [3, 3, 1]
    assert all(c.num_channels == 2 and c.sample_rate == 8000 for c in chunks)
    assert all(np.shares_memory(c.data, frame.data) for c in chunks)
    np.testing.assert_array_equal(combine_frames(chunks).data, frame.data)
    with pytest.raises(ValueError):
        split_frame(frame, 0)


def test_frames_from_array() -> None:
    frames = frames_from_array(np.zeros(1000, dtype=np.float32), 16000, 160)
    assert [f.samples_per_channel for f in frames] == [160] * 6 + [40]
