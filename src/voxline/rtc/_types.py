"""Enumerations and small value types of the room model.

Values match LiveKit's protocol numbers so a backend over LiveKit's SDK converts with
`Enum(value)`, and both the short names (`ParticipantKind.SIP`) and LiveKit's long names
(`ParticipantKind.PARTICIPANT_KIND_SIP`) work, so code written against `livekit.rtc` ports by
changing the import.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ParticipantKind(enum.IntEnum):
    STANDARD = 0
    INGRESS = 1
    EGRESS = 2
    SIP = 3
    AGENT = 4
    CONNECTOR = 5
    BRIDGE = 6
    PARTICIPANT_KIND_STANDARD = 0
    PARTICIPANT_KIND_INGRESS = 1
    PARTICIPANT_KIND_EGRESS = 2
    PARTICIPANT_KIND_SIP = 3
    PARTICIPANT_KIND_AGENT = 4
    PARTICIPANT_KIND_CONNECTOR = 5
    PARTICIPANT_KIND_BRIDGE = 6

    @classmethod
    def parse(cls, value: ParticipantKind | int | str) -> ParticipantKind:
        """From an enum, its number, or a name as tokens carry it (`"sip"`, `"agent"`)."""
        if isinstance(value, str):
            name = value.strip().upper().removeprefix("PARTICIPANT_KIND_")
            try:
                return cls[name]
            except KeyError:
                known = ", ".join(k.name.lower() for k in cls)
                raise ValueError(f"unknown participant kind {value!r} (known: {known})") from None
        return cls(value)


class DisconnectReason(enum.IntEnum):
    """Why a participant left (or why our own connection ended)."""

    UNKNOWN_REASON = 0
    CLIENT_INITIATED = 1
    DUPLICATE_IDENTITY = 2
    SERVER_SHUTDOWN = 3
    PARTICIPANT_REMOVED = 4
    ROOM_DELETED = 5
    STATE_MISMATCH = 6
    JOIN_FAILURE = 7
    MIGRATION = 8
    SIGNAL_CLOSE = 9
    ROOM_CLOSED = 10
    USER_UNAVAILABLE = 11
    USER_REJECTED = 12
    SIP_TRUNK_FAILURE = 13
    CONNECTION_TIMEOUT = 14
    MEDIA_FAILURE = 15
    AGENT_ERROR = 16


class TrackKind(enum.IntEnum):
    KIND_UNKNOWN = 0
    KIND_AUDIO = 1
    KIND_VIDEO = 2
    UNKNOWN = 0
    AUDIO = 1
    VIDEO = 2


class TrackSource(enum.IntEnum):
    SOURCE_UNKNOWN = 0
    SOURCE_CAMERA = 1
    SOURCE_MICROPHONE = 2
    SOURCE_SCREENSHARE = 3
    SOURCE_SCREENSHARE_AUDIO = 4
    UNKNOWN = 0
    CAMERA = 1
    MICROPHONE = 2
    SCREENSHARE = 3
    SCREENSHARE_AUDIO = 4


class ConnectionState(enum.IntEnum):
    CONN_DISCONNECTED = 0
    CONN_CONNECTED = 1
    CONN_RECONNECTING = 2


class DataPacketKind(enum.IntEnum):
    KIND_LOSSY = 0
    KIND_RELIABLE = 1


@dataclass
class TrackPublishOptions:
    """How a local track is published. Backends without simulcast or codec choice ignore
    the fields they cannot honour; `source` is always carried to other participants."""

    source: TrackSource = TrackSource.SOURCE_UNKNOWN
    dtx: bool = True
    red: bool = True
    simulcast: bool = True
    audio_encoding_max_bitrate: int | None = None
    stream: str = ""


class ConnectError(Exception):
    """`Room.connect()` failed: unknown URL scheme, refused token, wrong room, no server."""
