"""A VAD turns a stream of audio frames into start/end-of-speech events with durations.

The turn engine only needs START_OF_SPEECH and END_OF_SPEECH with their durations, so those
are what every implementation must emit; INFERENCE_DONE is optional progress.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from .._utils.aio import PushStream
from ..audio import AudioFrame


class VADEventType(str, enum.Enum):
    START_OF_SPEECH = "start_of_speech"
    INFERENCE_DONE = "inference_done"
    END_OF_SPEECH = "end_of_speech"


@dataclass
class VADEvent:
    type: VADEventType
    samples_index: int
    timestamp: float
    """Loop time at which the event was produced."""
    speech_duration: float
    """Seconds of speech in the current segment (at START: speech already heard)."""
    silence_duration: float
    """Seconds of silence since speech stopped (at END: the silence needed to decide)."""
    frames: list[AudioFrame] = field(default_factory=list)
    probability: float = 0.0
    inference_duration: float = 0.0
    speaking: bool = False


@dataclass(frozen=True)
class VADCapabilities:
    update_interval: float


class VAD(ABC):
    def __init__(self, *, capabilities: VADCapabilities) -> None:
        self._capabilities = capabilities

    @property
    def capabilities(self) -> VADCapabilities:
        return self._capabilities

    @property
    def label(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}"

    @abstractmethod
    def stream(self) -> VADStream: ...

    async def aclose(self) -> None:
        return None


class VADStream(PushStream[AudioFrame, VADEvent]):
    """Push frames in, iterate events out. Subclasses implement `_run(frames)`."""

    def __init__(self, vad: VAD) -> None:
        super().__init__()
        self._vad = vad

    def push_frame(self, frame: AudioFrame) -> None:
        self._push(frame)

    def flush(self) -> None:
        """Segment boundary hint; most VADs ignore it."""
