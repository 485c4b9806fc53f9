"""RoomIO and its options: an AgentSession in a room (see `room_io.py`)."""

from ...audio.processing import AudioProcessor
from .room_io import RoomIO
from .types import (
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    DEFAULT_CLOSE_ON_DISCONNECT_REASONS,
    DEFAULT_PARTICIPANT_KINDS,
    TOPIC_CHAT,
    TOPIC_PRE_CONNECT_AUDIO,
    TOPIC_TRANSCRIPTION,
    AudioInputOptions,
    AudioOutputOptions,
    NoiseCancellationParams,
    RoomOptions,
    TextInputEvent,
    TextInputOptions,
    TextOutputOptions,
    VideoInputOptions,
)

__all__ = [
    "ATTRIBUTE_AGENT_STATE",
    "ATTRIBUTE_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIBED_TRACK_ID",
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "DEFAULT_CLOSE_ON_DISCONNECT_REASONS",
    "DEFAULT_PARTICIPANT_KINDS",
    "TOPIC_CHAT",
    "TOPIC_PRE_CONNECT_AUDIO",
    "TOPIC_TRANSCRIPTION",
    "AudioInputOptions",
    "AudioOutputOptions",
    "AudioProcessor",
    "NoiseCancellationParams",
    "RoomIO",
    "RoomOptions",
    "TextInputEvent",
    "TextInputOptions",
    "TextOutputOptions",
    "VideoInputOptions",
]
