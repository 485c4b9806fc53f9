"""Text-to-speech: the protocol, and an adapter that streams sentence by sentence."""

from .._utils.aio import SegmentEnd
from .stream_adapter import StreamAdapter
from .tts import (
    TTS,
    ChunkedStream,
    SynthesizedAudio,
    SynthesizeStream,
    TTSCapabilities,
    TTSError,
)

__all__ = [
    "TTS",
    "ChunkedStream",
    "SegmentEnd",
    "StreamAdapter",
    "SynthesizeStream",
    "SynthesizedAudio",
    "TTSCapabilities",
    "TTSError",
]
