"""Helpers for the LiveKit backend tests: SDK objects built from their protobufs, and a
`BackendEvents` that records every call."""

from __future__ import annotations

from typing import Any

from livekit import rtc as lk
from livekit.rtc._proto import participant_pb2, track_pb2

from voxline.rtc._backend import ParticipantInfo, TrackInfo
from voxline.rtc._types import ConnectionState, DisconnectReason
from voxline.rtc.data_stream import StreamHeader
from voxline.rtc.rpc import RpcInvocationData


def sdk_participant(
    identity: str,
    *,
    kind: int = lk.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    attributes: dict[str, str] | None = None,
    metadata: str = "",
    name: str = "",
    disconnect_reason: int = 0,
    publications: list[track_pb2.TrackPublicationInfo] | None = None,
) -> lk.RemoteParticipant:
    """A remote participant as the SDK builds it from the server's ParticipantInfo (handle 0:
    no native object behind it)."""
    info = participant_pb2.ParticipantInfo(
        sid=f"PA_{identity}",
        identity=identity,
        name=name,
        metadata=metadata,
        kind=kind,  # type: ignore[arg-type]
        disconnect_reason=disconnect_reason,  # type: ignore[arg-type]
    )
    info.attributes.update(attributes or {})
    participant = lk.RemoteParticipant(participant_pb2.OwnedParticipant(info=info))
    for publication in publications or []:
        participant._track_publications[publication.sid] = sdk_publication(publication)
    return participant


def publication_info(
    sid: str,
    *,
    name: str = "microphone",
    kind: int = lk.TrackKind.KIND_AUDIO,
    source: int = lk.TrackSource.SOURCE_MICROPHONE,
    muted: bool = False,
) -> track_pb2.TrackPublicationInfo:
    return track_pb2.TrackPublicationInfo(
        sid=sid,
        name=name,
        kind=kind,
        source=source,
        muted=muted,
        remote=True,  # type: ignore[arg-type]
    )


def sdk_publication(info: track_pb2.TrackPublicationInfo) -> lk.RemoteTrackPublication:
    return lk.RemoteTrackPublication(track_pb2.OwnedTrackPublication(info=info))


class RecordingEvents:
    """Implements BackendEvents by appending (method, args...) tuples to `calls`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.rpc_answer: str | Exception = "ok"

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]

    def on_participant_joined(self, info: ParticipantInfo) -> None:
        self.calls.append(("joined", info))

    def on_participant_left(self, identity: str, reason: DisconnectReason) -> None:
        self.calls.append(("left", identity, reason))

    def on_participant_updated(
        self,
        identity: str,
        *,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        self.calls.append(("updated", identity, name, metadata, attributes))

    def on_track_published(self, identity: str, track: TrackInfo) -> None:
        self.calls.append(("published", identity, track))

    def on_track_unpublished(self, identity: str, sid: str) -> None:
        self.calls.append(("unpublished", identity, sid))

    def on_track_subscribed(self, identity: str, sid: str) -> None:
        self.calls.append(("subscribed", identity, sid))

    def on_track_unsubscribed(self, identity: str, sid: str) -> None:
        self.calls.append(("unsubscribed", identity, sid))

    def on_audio_frame(self, identity: str, sid: str, frame: Any) -> None:
        self.calls.append(("audio", identity, sid, frame))

    def on_video_frame(self, identity: str, sid: str, frame: Any) -> None:
        self.calls.append(("video", identity, sid, frame))

    def on_data(self, sender: str | None, payload: bytes, topic: str) -> None:
        self.calls.append(("data", sender, payload, topic))

    def on_stream_header(self, sender: str, header: StreamHeader) -> None:
        self.calls.append(("stream_header", sender, header))

    def on_stream_chunk(self, stream_id: str, chunk: bytes) -> None:
        self.calls.append(("stream_chunk", stream_id, chunk))

    def on_stream_trailer(self, stream_id: str, reason: str, attributes: dict[str, str]) -> None:
        self.calls.append(("stream_trailer", stream_id, reason, attributes))

    async def on_rpc_request(self, method: str, data: RpcInvocationData) -> str:
        self.calls.append(("rpc", method, data))
        if isinstance(self.rpc_answer, Exception):
            raise self.rpc_answer
        return self.rpc_answer

    def on_room_updated(self, *, metadata: str) -> None:
        self.calls.append(("room_updated", metadata))

    def on_connection_state(self, state: ConnectionState) -> None:
        self.calls.append(("state", state))

    def on_disconnected(self, reason: DisconnectReason) -> None:
        self.calls.append(("disconnected", reason))
