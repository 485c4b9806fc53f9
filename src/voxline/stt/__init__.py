"""Speech-to-text: the protocol, and an adapter that makes any STT streaming with a VAD."""

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
    "SpeechData",
    "SpeechEvent",
    "SpeechEventType",
    "StreamAdapter",
]
