"""Text-to-speech: the protocol, and an adapter that streams sentence by sentence."""

from .._utils.aio import SegmentEnd
from .stream_adapter import StreamAdapter
from .timed import TimedString
from .tts import (
    TIMED_TRANSCRIPT_KEY,
    TTS,
    ChunkedStream,
    SynthesizedAudio,
    SynthesizeStream,
    TTSCapabilities,
    TTSError,
)

__all__ = [
    "TIMED_TRANSCRIPT_KEY",
    "TTS",
    "ChunkedStream",
    "SegmentEnd",
    "StreamAdapter",
    "SynthesizeStream",
    "SynthesizedAudio",
    "TTSCapabilities",
    "TTSError",
    "TimedString",
]
