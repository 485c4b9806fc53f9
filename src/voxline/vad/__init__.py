"""Voice activity detection: the protocol every VAD implements."""

from .vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

__all__ = ["VAD", "VADCapabilities", "VADEvent", "VADEventType", "VADStream"]
