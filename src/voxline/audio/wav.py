"""WAV file input/output for fixtures, recordings and offline pipelines.

Reading walks the RIFF chunks itself instead of using :mod:`wave`: on Python 3.10/3.11 ``wave``
rejects IEEE-float files and ``WAVE_FORMAT_EXTENSIBLE`` headers, which is what most tools write
for 24-bit, 32-bit and multichannel audio, and one small parser keeps a single code path for
every encoding. Writing always produces plain 16-bit PCM, which ``wave`` handles.
"""

from __future__ import annotations

import io
import os
import struct
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from ._convert import float_to_int16
from .frame import AudioFrame, check_uniform

__all__ = ["read_wav", "wav_bytes", "write_wav"]

_FORMAT_PCM = 0x0001
_FORMAT_IEEE_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_SUPPORTED = "PCM 8/16/24/32-bit integer or 32/64-bit IEEE float"


def read_wav(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> AudioFrame:
    """Load a whole WAV file as one int16 frame.

    ``source`` is a filesystem path, or the file's contents when given as a bytes-like object
    (so bytes are never interpreted as a path). Wider or float samples are reduced to int16
    because that is what the rest of voxline consumes; 24/32-bit integers are truncated to
    their top 16 bits and floats are clipped to [-1, 1]. A trailing partial sample, as left by
    an interrupted recorder, is ignored.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        blob = memoryview(source).cast("B")
    else:
        blob = memoryview(Path(source).read_bytes())
    tag, channels, sample_rate, bits, payload = _parse_riff(blob)

    width = bits // 8
    block = width * channels
    raw = payload[: len(payload) - len(payload) % block]
    pcm: npt.NDArray[np.int16]
    if tag == _FORMAT_PCM and bits == 16:
        pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16, copy=False)
    elif tag == _FORMAT_PCM and bits == 8:
        # 8-bit WAV is unsigned with a 128 midpoint, unlike every other width.
        pcm = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    elif tag == _FORMAT_PCM and bits == 24:
        # Little-endian: bytes 1-2 of each 3-byte sample are its top 16 bits.
        top = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)[:, 1:]
        pcm = np.ascontiguousarray(top).view("<i2").reshape(-1).astype(np.int16, copy=False)
    elif tag == _FORMAT_PCM and bits == 32:
        pcm = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    elif tag == _FORMAT_IEEE_FLOAT and bits in (32, 64):
        pcm = float_to_int16(np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8"))
    else:
        raise ValueError(
            f"unsupported WAV encoding (format tag 0x{tag:04x}, {bits} bits per sample); "
            f"supported: {_SUPPORTED}"
        )
    return AudioFrame(pcm, sample_rate, channels, pcm.size // channels)


def _parse_riff(blob: memoryview) -> tuple[int, int, int, int, memoryview]:
    """Return (format tag, channels, sample rate, bits per sample, data chunk) of a WAV file."""
    if len(blob) < 12 or bytes(blob[0:4]) != b"RIFF" or bytes(blob[8:12]) != b"WAVE":
        raise ValueError("not a WAV file: missing RIFF/WAVE header")
    fmt: tuple[int, int, int, int] | None = None
    data: memoryview | None = None
    offset = 12
    while offset + 8 <= len(blob) and (fmt is None or data is None):
        chunk_id = bytes(blob[offset : offset + 4])
        (size,) = struct.unpack_from("<I", blob, offset + 4)
        # Slicing clamps, so a streaming writer's oversized placeholder length still works.
        body = blob[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body)
        elif chunk_id == b"data":
            data = body
        offset += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise ValueError("invalid WAV file: no 'fmt ' chunk")
    if data is None:
        raise ValueError("invalid WAV file: no 'data' chunk")
    return (*fmt, data)


def _parse_fmt(body: memoryview) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise ValueError(f"invalid WAV file: 'fmt ' chunk is {len(body)} bytes, expected >= 16")
    tag, channels, sample_rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise ValueError("invalid WAV file: truncated WAVE_FORMAT_EXTENSIBLE header")
        # The sub-format GUID starts with the plain format tag it stands for.
        (tag,) = struct.unpack_from("<H", body, 24)
    if channels == 0 or sample_rate == 0 or bits == 0 or bits % 8:
        raise ValueError(
            f"unsupported WAV header: {channels} channels, {sample_rate} Hz, {bits} bits; "
            f"supported: {_SUPPORTED}"
        )
    return tag, channels, sample_rate, bits


def write_wav(path: str | os.PathLike[str], frames: AudioFrame | Sequence[AudioFrame]) -> None:
    """Write frames as one 16-bit PCM WAV file.

    Takes a sequence so a recorded stream can be saved without first concatenating it in
    memory; all frames must share sample rate and channel count.
    """
    with open(path, "wb") as file:
        _write(file, frames)


def wav_bytes(frames: AudioFrame | Sequence[AudioFrame]) -> bytes:
    """Encode frames as an in-memory 16-bit PCM WAV file, for HTTP APIs that expect files."""
    buffer = io.BytesIO()
    _write(buffer, frames)
    return buffer.getvalue()


def _write(file: BinaryIO, frames: AudioFrame | Sequence[AudioFrame]) -> None:
    sequence = [frames] if isinstance(frames, AudioFrame) else frames
    first = check_uniform(sequence, "write_wav()")
    with wave.open(file, "wb") as writer:
        writer.setnchannels(first.num_channels)
        writer.setsampwidth(2)
        writer.setframerate(first.sample_rate)
        for frame in sequence:
            writer.writeframes(frame.data.data)
