"""The room model: rooms, participants, tracks, text/byte streams and RPC.

Names follow `livekit.rtc`, so code written for it ports by changing the import. The
transport behind a `Room` is a backend picked by URL scheme: `memory://` (in-process, a
`MemoryHub`), `voxline+ws://` (the embedded server) and `ws(s)://` (a LiveKit server through
the official SDK, `pip install 'voxline[livekit]'`). `_backend` documents the seam.
"""

from ..audio import AudioFrame
from ..video import VideoFrame
from . import memory
from ._backend import SCHEMES, Backend, BackendEvents, JoinResult, ParticipantInfo, TrackInfo
from ._types import (
    ConnectError,
    ConnectionState,
    DataPacketKind,
    DisconnectReason,
    ParticipantKind,
    TrackKind,
    TrackPublishOptions,
    TrackSource,
)
from .audio_source import AudioSource
from .data_stream import (
    ByteStreamInfo,
    ByteStreamReader,
    ByteStreamWriter,
    StreamError,
    TextStreamInfo,
    TextStreamReader,
    TextStreamWriter,
)
from .media_stream import AudioFrameEvent, AudioStream, VideoFrameEvent, VideoStream
from .memory import MemoryHub
from .participant import LocalParticipant, Participant, RemoteParticipant
from .room import DataPacket, Room, RoomOptions
from .rpc import RpcError, RpcInvocationData
from .track import (
    LocalAudioTrack,
    LocalTrackPublication,
    LocalVideoTrack,
    RemoteAudioTrack,
    RemoteTrackPublication,
    RemoteVideoTrack,
    Track,
    TrackPublication,
)
from .video_source import VideoSource

__all__ = [
    "SCHEMES",
    "AudioFrame",
    "AudioFrameEvent",
    "AudioSource",
    "AudioStream",
    "Backend",
    "BackendEvents",
    "ByteStreamInfo",
    "ByteStreamReader",
    "ByteStreamWriter",
    "ConnectError",
    "ConnectionState",
    "DataPacket",
    "DataPacketKind",
    "DisconnectReason",
    "JoinResult",
    "LocalAudioTrack",
    "LocalParticipant",
    "LocalTrackPublication",
    "LocalVideoTrack",
    "MemoryHub",
    "Participant",
    "ParticipantInfo",
    "ParticipantKind",
    "RemoteAudioTrack",
    "RemoteParticipant",
    "RemoteTrackPublication",
    "RemoteVideoTrack",
    "Room",
    "RoomOptions",
    "RpcError",
    "RpcInvocationData",
    "StreamError",
    "TextStreamInfo",
    "TextStreamReader",
    "TextStreamWriter",
    "Track",
    "TrackInfo",
    "TrackKind",
    "TrackPublication",
    "TrackPublishOptions",
    "TrackSource",
    "VideoFrame",
    "VideoFrameEvent",
    "VideoSource",
    "VideoStream",
    "memory",
]
