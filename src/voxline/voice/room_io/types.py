"""RoomIO's options and the wire conventions LiveKit clients expect from an agent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ...audio.processing import AudioProcessor
from ...rtc import (
    DisconnectReason,
    ParticipantKind,
    RemoteParticipant,
    Track,
    TrackPublishOptions,
    TrackSource,
)

if TYPE_CHECKING:
    from ...rtc import TextStreamInfo
    from ..session import AgentSession

# ---------------------------------------------------------------------- wire conventions

TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_CHAT = "lk.chat"
TOPIC_PRE_CONNECT_AUDIO = "lk.agent.pre-connect-audio-buffer"
ATTRIBUTE_AGENT_STATE = "lk.agent.state"
ATTRIBUTE_SEGMENT_ID = "lk.segment_id"
ATTRIBUTE_TRANSCRIPTION_FINAL = "lk.transcription_final"
ATTRIBUTE_TRANSCRIBED_TRACK_ID = "lk.transcribed_track_id"
ATTRIBUTE_PUBLISH_ON_BEHALF = "lk.publish_on_behalf"

DEFAULT_PARTICIPANT_KINDS: tuple[ParticipantKind, ...] = (
    ParticipantKind.STANDARD,
    ParticipantKind.SIP,
    ParticipantKind.CONNECTOR,
)
DEFAULT_CLOSE_ON_DISCONNECT_REASONS: frozenset[DisconnectReason] = frozenset(
    {
        DisconnectReason.CLIENT_INITIATED,
        DisconnectReason.ROOM_DELETED,
        DisconnectReason.USER_REJECTED,
    }
)
"""A person hanging up, the room being deleted, a call rejected: the conversation is over.
Other reasons (network loss, a duplicate identity) leave the session waiting for someone to
link to again."""


# ---------------------------------------------------------------------- input


@dataclass
class NoiseCancellationParams:
    """What a noise-cancellation selector decides on (e.g. telephony tuning for SIP)."""

    participant: RemoteParticipant
    track: Track[Any]


NoiseCancellationSelector = Callable[[NoiseCancellationParams], Union[AudioProcessor, None]]


@dataclass
class AudioInputOptions:
    sample_rate: int = 24000
    num_channels: int = 1
    frame_size_ms: int = 50
    noise_cancellation: AudioProcessor | NoiseCancellationSelector | None = None
    """A processor for every linked participant, or `fn(NoiseCancellationParams)` returning
    one (or None) per participant and track."""
    pre_connect_audio: bool = True
    """Play first what the participant's client recorded before the agent joined (sent on
    `lk.agent.pre-connect-audio-buffer`)."""
    pre_connect_audio_timeout: float = 3.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.num_channels <= 0 or self.frame_size_ms <= 0:
            raise ValueError(
                "AudioInputOptions needs sample_rate, num_channels and frame_size_ms > 0, got "
                f"{self.sample_rate}, {self.num_channels}, {self.frame_size_ms}"
            )
        if self.pre_connect_audio_timeout < 0:
            raise ValueError(
                f"pre_connect_audio_timeout must be >= 0, got {self.pre_connect_audio_timeout}"
            )
        nc = self.noise_cancellation
        if nc is not None and not isinstance(nc, AudioProcessor) and not callable(nc):
            raise TypeError(
                "noise_cancellation must be an AudioProcessor (process/close) or a selector "
                f"function of NoiseCancellationParams, got {type(nc).__name__}"
            )


@dataclass
class TextInputEvent:
    text: str
    info: TextStreamInfo
    participant: RemoteParticipant


TextInputCallback = Callable[["AgentSession[Any]", TextInputEvent], Union[Awaitable[None], None]]


@dataclass
class TextInputOptions:
    text_input_cb: TextInputCallback | None = None
    """Handles each chat message from the linked participant. Default: interrupt the agent
    and answer the text as the user's turn."""


@dataclass
class VideoInputOptions:
    pass


# ---------------------------------------------------------------------- output


def _default_publish_options() -> TrackPublishOptions:
    return TrackPublishOptions(source=TrackSource.SOURCE_MICROPHONE)


@dataclass
class AudioOutputOptions:
    sample_rate: int = 24000
    num_channels: int = 1
    track_publish_options: TrackPublishOptions = field(default_factory=_default_publish_options)
    track_name: str = "roomio_audio"

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.num_channels <= 0:
            raise ValueError(
                "AudioOutputOptions needs sample_rate and num_channels > 0, got "
                f"{self.sample_rate}, {self.num_channels}"
            )


@dataclass
class TextOutputOptions:
    sync_transcription: bool | None = None
    """Release the agent's transcript at the pace of its audio (default: when audio output
    is on)."""
    transcription_speed_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.transcription_speed_factor <= 0:
            raise ValueError(
                f"transcription_speed_factor must be > 0, got {self.transcription_speed_factor}"
            )


# ---------------------------------------------------------------------- room


@dataclass
class RoomOptions:
    text_input: bool | TextInputOptions = True
    audio_input: bool | AudioInputOptions = True
    video_input: bool | VideoInputOptions = False
    audio_output: bool | AudioOutputOptions = True
    text_output: bool | TextOutputOptions = True
    participant_kinds: list[ParticipantKind] | None = None
    """Kinds the session may link to (default STANDARD, SIP, CONNECTOR)."""
    participant_identity: str | None = None
    """Link to this participant only (default: the first of an allowed kind)."""
    close_on_disconnect: bool = True
    """Close the session when the linked participant leaves for CLIENT_INITIATED,
    ROOM_DELETED or USER_REJECTED."""
    delete_room_on_close: bool = False

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, type]] = [
            ("text_input", self.text_input, TextInputOptions),
            ("audio_input", self.audio_input, AudioInputOptions),
            ("video_input", self.video_input, VideoInputOptions),
            ("audio_output", self.audio_output, AudioOutputOptions),
            ("text_output", self.text_output, TextOutputOptions),
        ]
        for name, value, options_type in checks:
            if not isinstance(value, (bool, options_type)):
                raise TypeError(
                    f"RoomOptions.{name} must be a bool or {options_type.__name__}, "
                    f"got {type(value).__name__}"
                )
        if self.participant_kinds is not None:
            self.participant_kinds = [ParticipantKind.parse(k) for k in self.participant_kinds]

    # the options object for an enabled slot, or None when it is off
    def get_text_input(self) -> TextInputOptions | None:
        return _resolve(self.text_input, TextInputOptions)

    def get_audio_input(self) -> AudioInputOptions | None:
        return _resolve(self.audio_input, AudioInputOptions)

    def get_video_input(self) -> VideoInputOptions | None:
        return _resolve(self.video_input, VideoInputOptions)

    def get_audio_output(self) -> AudioOutputOptions | None:
        return _resolve(self.audio_output, AudioOutputOptions)

    def get_text_output(self) -> TextOutputOptions | None:
        return _resolve(self.text_output, TextOutputOptions)

    def kinds(self) -> tuple[ParticipantKind, ...]:
        if self.participant_kinds is None:
            return DEFAULT_PARTICIPANT_KINDS
        return tuple(self.participant_kinds)


OptionsT = TypeVar("OptionsT")


def _resolve(value: bool | OptionsT, options_type: type[OptionsT]) -> OptionsT | None:
    if value is False:
        return None
    if value is True:
        return options_type()
    assert isinstance(value, options_type)
    return value
