"""Text with its place on the audio timeline, as TTS engines with word timings report it."""

from __future__ import annotations


class TimedString(str):
    """Text with its place on the segment's audio timeline, as TTS engines report it.

    A ``str`` subclass so timed text flows through every ``AsyncIterable[str]`` stage
    (``transcription_node``, text transforms that pass strings through) unchanged. Times are
    seconds from the start of the segment's playback; a piece covering several words spreads
    them between ``start_time`` and ``end_time`` by syllables.
    """

    start_time: float | None
    end_time: float | None

    def __new__(
        cls, text: str, start_time: float | None = None, end_time: float | None = None
    ) -> TimedString:
        obj = super().__new__(cls, text)
        obj.start_time = start_time
        obj.end_time = end_time
        return obj

    @property
    def text(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return (
            f"TimedString({str(self)!r}, start_time={self.start_time!r}, "
            f"end_time={self.end_time!r})"
        )
