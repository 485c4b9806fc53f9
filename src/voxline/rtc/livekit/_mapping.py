"""Pure conversions between the LiveKit SDK's objects and voxline's room model.

Enum numbers happen to match LiveKit's protocol today, but the tables are spelled out so a
value one side does not know maps to an explicit fallback instead of raising mid-event.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import numpy as np
from livekit import rtc as lk

from ...audio import AudioFrame
from ...video import VideoFrame
from .._backend import ParticipantInfo, TrackInfo
from .._types import ConnectionState, DisconnectReason, ParticipantKind, TrackKind, TrackSource
from ..data_stream import StreamHeader, StreamKind
from ..rpc import RpcError, RpcInvocationData

__all__ = [
    "api_url",
    "audio_frame_from_sdk",
    "audio_frame_to_sdk",
    "connection_state_from_sdk",
    "kind_from_sdk",
    "kind_to_sdk",
    "participant_info",
    "reason_from_sdk",
    "reason_to_sdk",
    "rpc_data_from_sdk",
    "rpc_error_from_sdk",
    "rpc_error_to_sdk",
    "source_from_sdk",
    "source_to_sdk",
    "stream_header",
    "track_info",
    "track_kind_from_sdk",
    "video_frame_from_sdk",
    "video_frame_to_sdk",
]

_KINDS: dict[int, ParticipantKind] = {
    lk.ParticipantKind.PARTICIPANT_KIND_STANDARD: ParticipantKind.STANDARD,
    lk.ParticipantKind.PARTICIPANT_KIND_INGRESS: ParticipantKind.INGRESS,
    lk.ParticipantKind.PARTICIPANT_KIND_EGRESS: ParticipantKind.EGRESS,
    lk.ParticipantKind.PARTICIPANT_KIND_SIP: ParticipantKind.SIP,
    lk.ParticipantKind.PARTICIPANT_KIND_AGENT: ParticipantKind.AGENT,
    lk.ParticipantKind.PARTICIPANT_KIND_CONNECTOR: ParticipantKind.CONNECTOR,
    lk.ParticipantKind.PARTICIPANT_KIND_BRIDGE: ParticipantKind.BRIDGE,
}
_KINDS_TO_SDK = {ours: theirs for theirs, ours in _KINDS.items()}

_REASONS: dict[int, DisconnectReason] = {
    getattr(lk.DisconnectReason, reason.name): reason for reason in DisconnectReason
}
_REASONS_TO_SDK = {ours: theirs for theirs, ours in _REASONS.items()}

_TRACK_KINDS: dict[int, TrackKind] = {
    lk.TrackKind.KIND_UNKNOWN: TrackKind.KIND_UNKNOWN,
    lk.TrackKind.KIND_AUDIO: TrackKind.KIND_AUDIO,
    lk.TrackKind.KIND_VIDEO: TrackKind.KIND_VIDEO,
}

_SOURCES: dict[int, TrackSource] = {
    lk.TrackSource.SOURCE_UNKNOWN: TrackSource.SOURCE_UNKNOWN,
    lk.TrackSource.SOURCE_CAMERA: TrackSource.SOURCE_CAMERA,
    lk.TrackSource.SOURCE_MICROPHONE: TrackSource.SOURCE_MICROPHONE,
    lk.TrackSource.SOURCE_SCREENSHARE: TrackSource.SOURCE_SCREENSHARE,
    lk.TrackSource.SOURCE_SCREENSHARE_AUDIO: TrackSource.SOURCE_SCREENSHARE_AUDIO,
}
_SOURCES_TO_SDK = {ours: theirs for theirs, ours in _SOURCES.items()}

_STATES: dict[int, ConnectionState] = {
    lk.ConnectionState.CONN_DISCONNECTED: ConnectionState.CONN_DISCONNECTED,
    lk.ConnectionState.CONN_CONNECTED: ConnectionState.CONN_CONNECTED,
    lk.ConnectionState.CONN_RECONNECTING: ConnectionState.CONN_RECONNECTING,
}


def kind_from_sdk(value: int) -> ParticipantKind:
    """A kind this version does not know is treated as a STANDARD participant (a person)."""
    return _KINDS.get(int(value), ParticipantKind.STANDARD)


def kind_to_sdk(kind: ParticipantKind) -> int:
    return int(_KINDS_TO_SDK[ParticipantKind(kind)])


def reason_from_sdk(value: int) -> DisconnectReason:
    return _REASONS.get(int(value), DisconnectReason.UNKNOWN_REASON)


def reason_to_sdk(reason: DisconnectReason) -> int:
    return int(_REASONS_TO_SDK[DisconnectReason(reason)])


def track_kind_from_sdk(value: int) -> TrackKind:
    return _TRACK_KINDS.get(int(value), TrackKind.KIND_UNKNOWN)


def source_from_sdk(value: int) -> TrackSource:
    return _SOURCES.get(int(value), TrackSource.SOURCE_UNKNOWN)


def source_to_sdk(source: TrackSource) -> int:
    return int(_SOURCES_TO_SDK[TrackSource(source)])


def connection_state_from_sdk(value: int) -> ConnectionState:
    return _STATES.get(int(value), ConnectionState.CONN_DISCONNECTED)


def track_info(publication: lk.TrackPublication) -> TrackInfo:
    subscribed = bool(getattr(publication, "subscribed", False)) and publication.track is not None
    return TrackInfo(
        sid=publication.sid,
        name=publication.name,
        kind=track_kind_from_sdk(publication.kind),
        source=source_from_sdk(publication.source),
        muted=publication.muted,
        subscribed=subscribed,
    )


def participant_info(participant: lk.Participant, *, with_tracks: bool = True) -> ParticipantInfo:
    tracks = [track_info(p) for p in participant.track_publications.values()] if with_tracks else []
    return ParticipantInfo(
        identity=participant.identity,
        name=participant.name,
        kind=kind_from_sdk(participant.kind),
        sid=participant.sid,
        metadata=participant.metadata,
        attributes=dict(participant.attributes),
        tracks=tracks,
    )


def stream_header(
    info: lk.TextStreamInfo | lk.ByteStreamInfo, kind: StreamKind, sender_identity: str
) -> StreamHeader:
    """The SDK gives no separate sender field: the reader's participant is the sender."""
    return StreamHeader(
        stream_id=info.stream_id,
        kind=kind,
        topic=info.topic,
        timestamp=int(info.timestamp),
        mime_type=info.mime_type,
        attributes=dict(info.attributes or {}),
        total_size=info.size or None,
        name=info.name if isinstance(info, lk.ByteStreamInfo) else "",
        sender_identity=sender_identity,
    )


def rpc_error_from_sdk(error: lk.RpcError) -> RpcError:
    return RpcError(int(error.code), error.message, error.data)


def rpc_error_to_sdk(error: RpcError) -> lk.RpcError:
    return lk.RpcError(error.code, error.message, error.data)


def rpc_data_from_sdk(data: lk.RpcInvocationData) -> RpcInvocationData:
    return RpcInvocationData(
        request_id=data.request_id,
        caller_identity=data.caller_identity,
        payload=data.payload,
        response_timeout=float(data.response_timeout),
        method=getattr(data, "method", "") or "",
    )


def audio_frame_to_sdk(frame: AudioFrame) -> lk.AudioFrame:
    return lk.AudioFrame(
        frame.to_bytes(), frame.sample_rate, frame.num_channels, frame.samples_per_channel
    )


def audio_frame_from_sdk(frame: lk.AudioFrame) -> AudioFrame:
    """Copies: the SDK may reuse the buffer behind ``frame.data`` for the next frame."""
    pcm = np.frombuffer(frame.data, dtype=np.int16).copy()
    return AudioFrame(pcm, frame.sample_rate, frame.num_channels, frame.samples_per_channel)


def video_frame_to_sdk(frame: VideoFrame) -> lk.VideoFrame:
    """RGBA, the layout every WebRTC encoder path of the SDK accepts."""
    rgba = np.empty((frame.height, frame.width, 4), dtype=np.uint8)
    rgba[:, :, :3] = frame.data
    rgba[:, :, 3] = 255
    return lk.VideoFrame(frame.width, frame.height, lk.VideoBufferType.RGBA, rgba.tobytes())


def video_frame_from_sdk(frame: lk.VideoFrame, timestamp: float = 0.0) -> VideoFrame:
    """Packed RGB(A) layouts are sliced here (the SDK only converts from YUV); YUV frames,
    what decoders produce, are converted by the SDK."""
    height, width = frame.height, frame.width
    if frame.type in (lk.VideoBufferType.RGBA, lk.VideoBufferType.BGRA):
        pixels = np.frombuffer(frame.data, dtype=np.uint8)[: height * width * 4]
        rgba = pixels.reshape(height, width, 4)
        rgb = rgba[:, :, :3] if frame.type == lk.VideoBufferType.RGBA else rgba[:, :, 2::-1]
        return VideoFrame(np.ascontiguousarray(rgb), timestamp)
    if frame.type != lk.VideoBufferType.RGB24:
        frame = frame.convert(lk.VideoBufferType.RGB24)
    pixels = np.frombuffer(frame.data, dtype=np.uint8)[: height * width * 3]
    return VideoFrame(pixels.reshape(height, width, 3).copy(), timestamp)


def api_url(url: str) -> str:
    """The server API's base URL for a room URL: ws:// -> http://, wss:// -> https://."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("http", "https"):
        raise ValueError(
            f"a LiveKit URL starts with ws://, wss://, http:// or https://, got {url!r}"
        )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
