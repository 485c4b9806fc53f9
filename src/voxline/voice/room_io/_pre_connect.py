"""Pre-connect audio: what a participant's client recorded before the agent was there.

The client records from the moment the user presses "connect", and once the agent has joined
sends the recording as one byte stream on `lk.agent.pre-connect-audio-buffer` (raw 16-bit
PCM, `audio/pcm`, with `sampleRate` and `channels` attributes; a WAV file also works). When
RoomIO links to that participant it plays this buffer into the session first, then the live
microphone, so the user's first words are not lost. A buffer that is still arriving is
waited for up to `timeout`; a buffer older than `timeout` when the link happens is stale and
dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from ..._utils.aio import now
from ...audio import AudioFrame, read_wav
from ...rtc import ByteStreamReader, Room
from .types import TOPIC_PRE_CONNECT_AUDIO

logger = logging.getLogger("voxline.room_io")


@dataclass
class _Buffer:
    started_at: float
    done: asyncio.Event = field(default_factory=asyncio.Event)
    frame: AudioFrame | None = None


class PreConnectAudio:
    def __init__(self, room: Room, *, timeout: float) -> None:
        self._room = room
        self._timeout = timeout
        self._buffers: dict[str, _Buffer] = {}
        room.register_byte_stream_handler(TOPIC_PRE_CONNECT_AUDIO, self._on_stream)

    def close(self) -> None:
        self._room.unregister_byte_stream_handler(TOPIC_PRE_CONNECT_AUDIO)
        for buffer in self._buffers.values():
            buffer.done.set()
        self._buffers.clear()

    async def _on_stream(self, reader: ByteStreamReader, identity: str) -> None:
        buffer = _Buffer(started_at=now())
        self._buffers[identity] = buffer
        try:
            data = await reader.read_all()
            buffer.frame = _decode(data, reader.info.mime_type, reader.info.attributes)
            logger.debug("pre-connect audio from %s: %.2f s", identity, buffer.frame.duration)
        except Exception as e:
            logger.warning("dropping the pre-connect audio of %s: %s", identity, e)
        finally:
            buffer.done.set()

    async def take(self, identity: str) -> AudioFrame | None:
        """The participant's buffer, waiting while it is still arriving (up to the timeout
        counted from its first byte); None when there is none or it is stale."""
        buffer = self._buffers.get(identity)
        if buffer is None:
            return None
        remaining = buffer.started_at + self._timeout - now()
        if not buffer.done.is_set():
            try:
                await asyncio.wait_for(buffer.done.wait(), max(remaining, 0.0))
            except asyncio.TimeoutError:
                logger.warning("pre-connect audio of %s did not arrive in time", identity)
                return None
        elif remaining < 0:
            self._buffers.pop(identity, None)
            return None
        self._buffers.pop(identity, None)
        return buffer.frame


def _decode(data: bytes, mime_type: str, attributes: dict[str, str]) -> AudioFrame:
    if mime_type in ("audio/wav", "audio/x-wav", "audio/wave") or data[:4] == b"RIFF":
        return read_wav(data)
    try:
        rate = int(attributes.get("sampleRate", "0"))
        channels = int(attributes.get("channels", "1"))
    except ValueError as e:
        raise ValueError(f"bad sampleRate/channels attributes {attributes}") from e
    if rate <= 0 or channels <= 0:
        raise ValueError(f"raw PCM needs sampleRate and channels attributes, got {attributes}")
    usable = len(data) - len(data) % (2 * channels)
    samples = np.frombuffer(data[:usable], dtype=np.int16)
    return AudioFrame(samples, rate, channels, usable // (2 * channels))
