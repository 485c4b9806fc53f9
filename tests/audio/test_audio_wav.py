from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voxline.audio import AudioFrame, read_wav, split_frame, wav_bytes, write_wav


def _wav(
    payload: bytes, *, tag: int, channels: int, rate: int, bits: int, extensible: bool = False
) -> bytes:
    """Build a WAV file by hand, the way external tools write it."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block,
                      block, bits)  # fmt: skip
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + guid_tail
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd-sized chunk, padded
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _ramp(n: int, channels: int) -> npt.NDArray[np.int16]:
    return np.linspace(-32768, 32767, n * channels).astype(np.int16).reshape(n, channels)


@pytest.mark.parametrize("channels", [1, 2])
def test_write_then_read_roundtrip(tmp_path: Path, channels: int) -> None:
    frame = AudioFrame.from_numpy(_ramp(1000, channels), 22050)
    path = tmp_path / "out.wav"
    write_wav(path, frame)
    loaded = read_wav(path)
    assert loaded.sample_rate == 22050
    assert loaded.num_channels == channels
    assert loaded.samples_per_channel == 1000
    np.testing.assert_array_equal(loaded.data, frame.data)
    assert read_wav(str(path)).to_bytes() == frame.to_bytes()


def test_write_sequence_and_bytes_roundtrip() -> None:
    frame = AudioFrame.from_numpy(_ramp(500, 1), 16000)
    encoded = wav_bytes(split_frame(frame, 160))
    assert encoded[:4] == b"RIFF"
    assert read_wav(encoded).to_bytes() == frame.to_bytes()
    assert read_wav(bytearray(encoded)).to_bytes() == frame.to_bytes()


def test_write_rejects_mixed_or_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        wav_bytes([AudioFrame.create(16000, 1, 1), AudioFrame.create(8000, 1, 1)])
    with pytest.raises(ValueError, match="at least one"):
        write_wav(tmp_path / "x.wav", [])


@pytest.mark.parametrize("extensible", [False, True])
def test_read_24bit(extensible: bool) -> None:
    expected = _ramp(300, 2).reshape(-1)
    # Put the int16 value in the top 16 bits and noise in the low byte, which must be dropped.
    low = np.arange(expected.size, dtype=np.uint8)
    wide = (expected.astype(np.int32) << 8) | low
    payload = b"".join(int(v).to_bytes(3, "little", signed=True) for v in wide)
    frame = read_wav(_wav(payload, tag=1, channels=2, rate=44100, bits=24, extensible=extensible))
    assert (frame.sample_rate, frame.num_channels, frame.samples_per_channel) == (44100, 2, 300)
    np.testing.assert_array_equal(frame.data, expected)


@pytest.mark.parametrize("extensible", [False, True])
def test_read_float32(extensible: bool) -> None:
    samples = np.array([0.0, 0.25, -0.25, 1.0, -1.0, 1.5, -0.999], dtype=np.float32)
    blob = _wav(samples.astype("<f4").tobytes(), tag=3, channels=1, rate=48000, bits=32,
                extensible=extensible)  # fmt: skip
    frame = read_wav(blob)
    assert frame.sample_rate == 48000
    assert frame.data.tolist() == [0, 8192, -8192, 32767, -32768, 32767, -32735]


def test_read_float64() -> None:
    samples = np.array([0.5, -0.5], dtype="<f8")
    frame = read_wav(_wav(samples.tobytes(), tag=3, channels=1, rate=8000, bits=64))
    assert frame.data.tolist() == [16384, -16384]


def test_read_8bit_and_32bit_int() -> None:
    u8 = np.array([0, 128, 255], dtype=np.uint8).tobytes()
    assert read_wav(_wav(u8, tag=1, channels=1, rate=8000, bits=8)).data.tolist() == [
        -32768,
        0,
        32512,
    ]
    i32 = np.array([-(2**31), 0, 2**31 - 1, 1 << 16], dtype="<i4").tobytes()
    assert read_wav(_wav(i32, tag=1, channels=1, rate=8000, bits=32)).data.tolist() == [
        -32768,
        0,
        32767,
        1,
    ]


def test_truncated_data_drops_partial_sample() -> None:
    blob = _wav(b"\x01\x00\x02\x00\x03\x00\x04", tag=1, channels=2, rate=8000, bits=16)
    assert read_wav(blob).data.tolist() == [1, 2]


def test_unsupported_and_invalid_files() -> None:
    with pytest.raises(ValueError, match="unsupported WAV encoding"):
        read_wav(_wav(b"\x00" * 4, tag=6, channels=1, rate=8000, bits=8))  # A-law
    with pytest.raises(ValueError, match="unsupported WAV encoding"):
        read_wav(_wav(b"\x00" * 4, tag=3, channels=1, rate=8000, bits=16))
    with pytest.raises(ValueError, match="unsupported WAV header"):
        read_wav(_wav(b"\x00" * 4, tag=1, channels=1, rate=8000, bits=12))
    with pytest.raises(ValueError, match="RIFF"):
        read_wav(b"not a wav file")
    no_data = _wav(b"", tag=1, channels=1, rate=8000, bits=16).replace(b"data", b"junk")
    with pytest.raises(ValueError, match="no 'data' chunk"):
        read_wav(no_data)
