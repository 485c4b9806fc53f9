"""Speech-to-text: the protocol, and an adapter that makes any STT streaming with a VAD."""

from .._utils.aio import SegmentEnd
from .stream_adapter import StreamAdapter
from .stt import (
    STT,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)

__all__ = [
    "STT",
    "RecognizeStream",
    "STTCapabilities",
    "STTError",
    "SegmentEnd",
    "SpeechData",
    "SpeechEvent",
    "SpeechEventType",
    "StreamAdapter",
]
