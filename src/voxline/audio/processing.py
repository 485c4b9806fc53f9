"""The contract for per-frame audio processors (noise suppression, gain, filters).

RoomIO runs a processor on every inbound frame before VAD and STT see it, so the contract is a
synchronous call per frame: the caller keeps its own pacing and framing.
"""

from __future__ import annotations

from typing import Protocol

from .frame import AudioFrame

__all__ = ["AudioProcessor"]


class AudioProcessor(Protocol):
    """Turns one frame into one frame of the same format and length.

    Processors keep state across calls (filters, models), so one instance serves one stream;
    ``close()`` releases native resources when the stream ends.
    """

    def process(self, frame: AudioFrame) -> AudioFrame: ...

    def close(self) -> None: ...
