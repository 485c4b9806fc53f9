"""Which video frames reach the model. Sending every frame would cost tokens and latency for
nothing: while the user speaks, about one frame a second shows what they point at; while
they are silent, one every few seconds keeps the picture fresh."""

from __future__ import annotations

from typing import Any, Protocol

from .frame import VideoFrame


class VideoSampler(Protocol):
    def __call__(self, frame: VideoFrame, session: Any) -> bool: ...


class VoiceActivityVideoSampler:
    def __init__(self, *, speaking_fps: float = 1.0, silent_fps: float = 0.3) -> None:
        if speaking_fps <= 0 or silent_fps <= 0:
            raise ValueError("speaking_fps and silent_fps must be > 0")
        self.speaking_fps = speaking_fps
        self.silent_fps = silent_fps
        self._last_sampled: float | None = None

    def __call__(self, frame: VideoFrame, session: Any) -> bool:
        speaking = getattr(session, "user_state", "listening") == "speaking"
        interval = 1.0 / (self.speaking_fps if speaking else self.silent_fps)
        if self._last_sampled is None or frame.timestamp - self._last_sampled >= interval - 1e-9:
            self._last_sampled = frame.timestamp
            return True
        return False
