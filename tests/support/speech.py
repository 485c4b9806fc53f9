"""Speech for tests: sentences spoken by espeak-ng, silences between them, WAV files.

Used by the plugin and example tests: `from support.speech import espeak_pcm, espeak_wav`.
"""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "espeak_pcm",
    "espeak_wav",
    "join_with_silences",
    "read_wav",
    "trim_silence",
    "write_wav",
]

ESPEAK_RATE = 22050  # what espeak-ng renders at; resampled to the rate asked for


def espeak_pcm(
    text: str, *, rate: int = 16000, voice: str = "en-us", speed: int = 160
) -> npt.NDArray[np.int16]:
    """`text` spoken by espeak-ng as mono int16 samples at `rate`."""
    if not text.strip():
        raise ValueError("espeak_pcm needs some text")
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with wave.open(_BytesReader(out), "rb") as w:
        src_rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return trim_silence(_resample(pcm, src_rate, rate))


def trim_silence(pcm: npt.NDArray[np.int16], level: int = 100) -> npt.NDArray[np.int16]:
    """Without the leading and trailing near-silence espeak-ng puts around speech, so the
    speech boundaries of a test signal are known to the sample."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    if len(loud) == 0:
        return pcm[:0]
    return pcm[loud[0] : loud[-1] + 1]


def espeak_wav(text: str, path: Path, rate: int = 16000, **kwargs: object) -> Path:
    """Write `text` spoken by espeak-ng to the WAV file `path` (mono, 16-bit, `rate` Hz)."""
    write_wav(path, espeak_pcm(text, rate=rate, **kwargs), rate)  # type: ignore[arg-type]
    return path


def join_with_silences(
    pieces: Sequence[npt.NDArray[np.int16]], silences: Sequence[float], rate: int
) -> tuple[npt.NDArray[np.int16], list[tuple[float, float]]]:
    """Concatenate `silences[0]`, pieces[0], `silences[1]`, pieces[1], ..., `silences[-1]`
    (one more silence than pieces); returns the audio and each piece's (start, end) in s."""
    if len(silences) != len(pieces) + 1:
        raise ValueError("need one silence before each piece and one after the last")
    out: list[npt.NDArray[np.int16]] = []
    spans: list[tuple[float, float]] = []
    t = 0
    for i, piece in enumerate(pieces):
        gap = round(silences[i] * rate)
        out.append(np.zeros(gap, np.int16))
        t += gap
        spans.append((t / rate, (t + len(piece)) / rate))
        out.append(piece)
        t += len(piece)
    out.append(np.zeros(round(silences[-1] * rate), np.int16))
    return np.concatenate(out), spans


def write_wav(path: Path, pcm: npt.NDArray[np.int16], rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype(np.int16).tobytes())


def read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


def _resample(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    if src == dst:
        return pcm
    import soxr

    out = soxr.resample(pcm.astype(np.float32) / 32768.0, src, dst)
    return np.clip(np.round(out * 32767.0), -32768, 32767).astype(np.int16)


class _BytesReader:
    """`wave.open` on a bytes buffer (espeak-ng's --stdout header has an unset data size)."""

    def __init__(self, data: bytes) -> None:
        import io

        self._buf = io.BytesIO(_fix_sizes(data))

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(n)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._buf.seek(pos, whence)

    def tell(self) -> int:
        return self._buf.tell()


def _fix_sizes(data: bytes) -> bytes:
    """espeak-ng writes 0x7fffffff sizes when streaming to stdout; set the real ones."""
    import struct

    if data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    size = len(data) - 44
    return (
        data[:4] + struct.pack("<I", size + 36) + data[8:40] + struct.pack("<I", size) + data[44:]
    )
