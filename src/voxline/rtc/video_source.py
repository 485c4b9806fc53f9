"""VideoSource: frames captured by the application, passed on as they come (video is not
paced: a camera already produces frames at its own rate)."""

from __future__ import annotations

from collections.abc import Callable

from ..video import VideoFrame


class VideoSource:
    def __init__(self, width: int = 0, height: int = 0) -> None:
        self._width = width
        self._height = height
        self._sinks: list[Callable[[VideoFrame], None]] = []

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    def _add_sink(self, sink: Callable[[VideoFrame], None]) -> None:
        self._sinks.append(sink)

    def capture_frame(self, frame: VideoFrame) -> None:
        if not isinstance(frame, VideoFrame):
            raise TypeError(f"VideoSource.capture_frame takes a VideoFrame, got {type(frame)}")
        for sink in list(self._sinks):
            sink(frame)

    async def aclose(self) -> None:
        self._sinks.clear()
