"""The session's I/O slots: where audio and video come from and where audio and text go.

Outputs report playout honestly (`playback_started`, `playback_finished` with the position
actually played), because the committed assistant message is built from what was heard.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .._utils.aio import now
from ..audio import AudioFrame


@dataclass
class PlaybackStartedEvent:
    created_at: float


@dataclass
class PlaybackFinishedEvent:
    playback_position: float
    """Seconds of the segment that were actually played."""
    interrupted: bool
    synchronized_transcript: str | None = None


class _Emitter:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}

    def on(self, name: str, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        self._handlers.setdefault(name, []).append(callback)
        return callback

    def off(self, name: str, callback: Callable[[Any], None]) -> None:
        handlers = self._handlers.get(name, [])
        if callback in handlers:
            handlers.remove(callback)

    def emit(self, name: str, event: Any) -> None:
        for cb in list(self._handlers.get(name, [])):
            cb(event)


class AudioInput(ABC):
    """An async iterator of frames (e.g. a participant's microphone)."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[AudioFrame]: ...

    def on_attached(self) -> None:
        return None

    def on_detached(self) -> None:
        return None


class VideoInput(ABC):
    @abstractmethod
    def __aiter__(self) -> AsyncIterator[Any]: ...


class AudioOutput(_Emitter, ABC):
    """Plays agent audio. Segments end with `flush()`; `clear_buffer()` stops at once.

    Implementations call `on_playback_started()` when the first frame of a segment is really
    heard and `on_playback_finished(position, interrupted)` once per flushed or cleared segment.
    """

    def __init__(self, *, sample_rate: int | None = None, can_pause: bool = False) -> None:
        super().__init__()
        self._sample_rate = sample_rate
        self._can_pause = can_pause
        self._finished: asyncio.Future[PlaybackFinishedEvent] | None = None
        self._last_finished: PlaybackFinishedEvent | None = None

    @property
    def sample_rate(self) -> int | None:
        return self._sample_rate

    @property
    def can_pause(self) -> bool:
        return self._can_pause

    async def capture_frame(self, frame: AudioFrame) -> None:
        if self._finished is None or self._finished.done():
            self._finished = asyncio.get_running_loop().create_future()

    def flush(self) -> None:
        """The current segment is complete; playout continues to its end."""

    @abstractmethod
    def clear_buffer(self) -> None:
        """Stop now; report the played position through `on_playback_finished`."""

    def pause(self) -> None:
        raise RuntimeError(f"{type(self).__name__} cannot pause")

    def resume(self) -> None:
        raise RuntimeError(f"{type(self).__name__} cannot pause")

    def on_playback_started(self, *, created_at: float | None = None) -> None:
        self.emit("playback_started", PlaybackStartedEvent(created_at=created_at or now()))

    def on_playback_finished(
        self,
        *,
        playback_position: float,
        interrupted: bool,
        synchronized_transcript: str | None = None,
    ) -> None:
        ev = PlaybackFinishedEvent(playback_position, interrupted, synchronized_transcript)
        self._last_finished = ev
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(ev)
        self.emit("playback_finished", ev)

    async def wait_for_playout(self) -> PlaybackFinishedEvent:
        """Wait until the last captured segment finished playing (or was cleared)."""
        if self._finished is None:
            return self._last_finished or PlaybackFinishedEvent(0.0, False)
        return await asyncio.shield(self._finished)


class TextOutput(ABC):
    """Receives the agent's transcript text as it is released."""

    @abstractmethod
    async def capture_text(self, text: str) -> None: ...

    @abstractmethod
    def flush(self) -> None: ...


class AgentInput:
    """Input slots with enable switches (push-to-talk turns audio off between presses)."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._audio: AudioInput | None = None
        self._video: VideoInput | None = None
        self._audio_enabled = True
        self._video_enabled = True
        self._on_change = on_change
        self.video_max_size: tuple[int, int] = (1024, 1024)
        """Sampled frames are downscaled to fit this box before they reach the model."""

    @property
    def audio(self) -> AudioInput | None:
        return self._audio

    @audio.setter
    def audio(self, value: AudioInput | None) -> None:
        self._audio = value
        self._on_change()

    @property
    def video(self) -> VideoInput | None:
        return self._video

    @video.setter
    def video(self, value: VideoInput | None) -> None:
        self._video = value
        self._on_change()

    @property
    def audio_enabled(self) -> bool:
        return self._audio_enabled

    @property
    def video_enabled(self) -> bool:
        return self._video_enabled

    def set_audio_enabled(self, enabled: bool) -> None:
        self._audio_enabled = enabled

    def set_video_enabled(self, enabled: bool) -> None:
        self._video_enabled = enabled


class AgentOutput:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._audio: AudioOutput | None = None
        self._transcription: TextOutput | None = None
        self._audio_enabled = True
        self._transcription_enabled = True
        self._on_change = on_change
        self.sync_transcription = True
        """Release the agent's text at the pace its audio plays (False: as soon as it exists)."""
        self.transcription_speed_factor = 1.0

    @property
    def audio(self) -> AudioOutput | None:
        return self._audio

    @audio.setter
    def audio(self, value: AudioOutput | None) -> None:
        self._audio = value
        self._on_change()

    @property
    def transcription(self) -> TextOutput | None:
        return self._transcription

    @transcription.setter
    def transcription(self, value: TextOutput | None) -> None:
        self._transcription = value
        self._on_change()

    @property
    def audio_enabled(self) -> bool:
        return self._audio_enabled

    @property
    def transcription_enabled(self) -> bool:
        return self._transcription_enabled

    def set_audio_enabled(self, enabled: bool) -> None:
        self._audio_enabled = enabled

    def set_transcription_enabled(self, enabled: bool) -> None:
        self._transcription_enabled = enabled
