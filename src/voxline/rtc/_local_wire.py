"""The wire format of the embedded room server's WebSocket transport (`/rtc/ws`), shared by
the server (`voxline.server`) and the `local` backend (`voxline.rtc.local`).

Text frames are JSON signalling messages (`{"type": ..., ...}`, see
`voxline/server/PROTOCOL.md`); binary frames are media: a small header, then the payload.

    audio: u8 kind=1 | u8 len(track_sid) | track_sid (ASCII) | u32 sample_rate | u8 channels
           | int16 little-endian PCM, interleaved
    video: u8 kind=2 | u8 len(track_sid) | track_sid (ASCII) | u16 width | u16 height
           | RGB24 bytes, row-major

The track sid says whose media it is: on the way in, one of the sender's published tracks;
on the way out, the publisher's track (so one socket carries every subscribed track).
This module has no dependencies beyond numpy, so scripts and telephony bridges can import it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

URL_SCHEME = "voxline+ws"
URL_SCHEME_TLS = "voxline+wss"
WS_PATH = "/rtc/ws"

KIND_AUDIO = 1
KIND_VIDEO = 2
MAX_AUDIO_RATE = 192_000
MAX_CHANNELS = 8
MAX_VIDEO_SIDE = 4096

_AUDIO_TAIL = struct.Struct("<IB")
_VIDEO_TAIL = struct.Struct("<HH")


class WireError(ValueError):
    """A binary media frame that does not follow the format above."""


@dataclass(frozen=True, slots=True)
class AudioPacket:
    track_sid: str
    sample_rate: int
    num_channels: int
    pcm: bytes
    """int16 little-endian, interleaved."""

    @property
    def samples_per_channel(self) -> int:
        return len(self.pcm) // (2 * self.num_channels)


@dataclass(frozen=True, slots=True)
class VideoPacket:
    track_sid: str
    width: int
    height: int
    rgb: bytes

    def array(self) -> npt.NDArray[np.uint8]:
        return np.frombuffer(self.rgb, dtype=np.uint8).reshape(self.height, self.width, 3)


def _sid_bytes(track_sid: str) -> bytes:
    sid = track_sid.encode("ascii")
    if not 0 < len(sid) < 256:
        raise WireError(f"track sid must be 1-255 ASCII characters, got {track_sid!r}")
    return sid


def encode_audio(track_sid: str, sample_rate: int, num_channels: int, pcm: bytes) -> bytes:
    if not 0 < sample_rate <= MAX_AUDIO_RATE:
        raise WireError(f"sample rate {sample_rate} is out of range (1..{MAX_AUDIO_RATE})")
    if not 0 < num_channels <= MAX_CHANNELS:
        raise WireError(f"channel count {num_channels} is out of range (1..{MAX_CHANNELS})")
    if len(pcm) % (2 * num_channels):
        raise WireError(f"{len(pcm)} PCM bytes are not whole int16 samples x {num_channels}")
    sid = _sid_bytes(track_sid)
    return b"".join(
        (bytes((KIND_AUDIO, len(sid))), sid, _AUDIO_TAIL.pack(sample_rate, num_channels), pcm)
    )


def encode_video(track_sid: str, rgb: npt.NDArray[np.uint8]) -> bytes:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise WireError(f"video must be a uint8 (height, width, 3) array, got {rgb.shape}")
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    if not (0 < width <= MAX_VIDEO_SIDE and 0 < height <= MAX_VIDEO_SIDE):
        raise WireError(f"video size {width}x{height} is out of range")
    sid = _sid_bytes(track_sid)
    head = bytes((KIND_VIDEO, len(sid))) + sid + _VIDEO_TAIL.pack(width, height)
    return head + np.ascontiguousarray(rgb).tobytes()


def decode_media(data: bytes) -> AudioPacket | VideoPacket:
    """Parse one binary frame; raises `WireError` naming what is wrong."""
    if len(data) < 2:
        raise WireError("binary frame shorter than its header")
    kind, sid_len = data[0], data[1]
    start = 2 + sid_len
    if sid_len == 0 or len(data) < start:
        raise WireError("binary frame with a missing or truncated track sid")
    try:
        track_sid = data[2:start].decode("ascii")
    except UnicodeDecodeError as e:
        raise WireError("track sid is not ASCII") from e
    if kind == KIND_AUDIO:
        if len(data) < start + _AUDIO_TAIL.size:
            raise WireError("audio frame header is truncated")
        rate, channels = _AUDIO_TAIL.unpack_from(data, start)
        pcm = data[start + _AUDIO_TAIL.size :]
        if not 0 < rate <= MAX_AUDIO_RATE:
            raise WireError(f"audio sample rate {rate} is out of range (1..{MAX_AUDIO_RATE})")
        if not 0 < channels <= MAX_CHANNELS:
            raise WireError(f"audio channel count {channels} is out of range")
        if len(pcm) % (2 * channels):
            raise WireError(f"{len(pcm)} PCM bytes are not whole int16 samples x {channels}")
        return AudioPacket(track_sid, rate, channels, bytes(pcm))
    if kind == KIND_VIDEO:
        if len(data) < start + _VIDEO_TAIL.size:
            raise WireError("video frame header is truncated")
        width, height = _VIDEO_TAIL.unpack_from(data, start)
        rgb = data[start + _VIDEO_TAIL.size :]
        if width == 0 or height == 0 or len(rgb) != width * height * 3:
            raise WireError(f"video frame of {len(rgb)} bytes does not match {width}x{height} RGB")
        return VideoPacket(track_sid, width, height, bytes(rgb))
    raise WireError(f"unknown media kind {kind}")


def websocket_url(url: str) -> str:
    """`voxline+ws://host:port[/prefix]` -> `ws://host:port[/prefix]/rtc/ws` (plain `ws://`
    and `http://` URLs of the server are accepted too)."""
    parts = urlsplit(url)
    schemes = {URL_SCHEME: "ws", URL_SCHEME_TLS: "wss", "ws": "ws", "wss": "wss"}
    schemes |= {"http": "ws", "https": "wss"}
    scheme = schemes.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(
            f"not a voxline room server URL: {url!r} (expected {URL_SCHEME}://host:port)"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(WS_PATH):
        path += WS_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))
