"""The contract of an audio processor (noise cancellation, gain control) on an input path.

RoomIO runs every frame of a participant's microphone through one processor when
`AudioInputOptions.noise_cancellation` selects one; a plugin implements this protocol.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .frame import AudioFrame

__all__ = ["AudioProcessor"]


@runtime_checkable
class AudioProcessor(Protocol):
    """Turns one frame into one frame of the same format.

    A processor that needs fixed-size blocks (RNNoise: 10 ms at 48 kHz) buffers internally
    and may return a frame shorter or longer than the input, or an empty one, while the
    total duration stays the same over time. `close()` releases native state; RoomIO calls it
    when the participant's stream ends."""

    def process(self, frame: AudioFrame) -> AudioFrame: ...

    def close(self) -> None: ...
