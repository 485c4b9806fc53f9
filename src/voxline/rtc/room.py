"""Room: one connection to a room, its participants, and every event about them.

The room keeps all state; its backend (picked by URL scheme, see `_backend`) only moves
things. So every backend produces the same events in the same order, and the state a handler
reads (`remote_participants`, attributes, publications) is already updated when it runs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._utils.aio import TaskSet
from .._utils.emitter import EventEmitter
from ._backend import (
    Backend,
    ConnectOptions,
    ParticipantInfo,
    TrackInfo,
    create_backend,
    scheme_of,
)
from ._types import (
    ConnectError,
    ConnectionState,
    DataPacketKind,
    DisconnectReason,
    TrackKind,
)
from .data_stream import (
    ByteStreamHandler,
    ByteStreamReader,
    StreamHeader,
    TextStreamHandler,
    TextStreamReader,
)
from .participant import LocalParticipant, RemoteParticipant
from .track import RemoteAudioTrack, RemoteTrackPublication, RemoteVideoTrack

if TYPE_CHECKING:
    from ..audio import AudioFrame
    from ..video import VideoFrame
    from .rpc import RpcInvocationData

logger = logging.getLogger("voxline.rtc")

RoomEvent = Literal[
    "connected",
    "disconnected",
    "connection_state_changed",
    "reconnecting",
    "reconnected",
    "participant_connected",
    "participant_disconnected",
    "participant_attributes_changed",
    "participant_metadata_changed",
    "participant_name_changed",
    "track_published",
    "track_unpublished",
    "track_subscribed",
    "track_unsubscribed",
    "local_track_published",
    "local_track_unpublished",
    "data_received",
    "room_metadata_changed",
]


@dataclass
class RoomOptions:
    auto_subscribe: bool = True
    """Receive every remote track's media as soon as it is published."""
    connect_timeout: float = 10.0


@dataclass
class DataPacket:
    data: bytes
    kind: DataPacketKind
    participant: RemoteParticipant | None
    topic: str = ""


class Room(EventEmitter[RoomEvent]):
    """`await room.connect(url, token)`; then `room.local_participant` publishes and sends,
    `room.remote_participants` are the others, and `room.on(event)` reports changes.

    `backend` overrides the choice by URL scheme, e.g. `Room(backend=hub.backend())` for an
    in-process `MemoryHub`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *, backend: Backend | None = None
    ) -> None:
        super().__init__()
        self._backend: Backend | None = backend
        self._state = ConnectionState.CONN_DISCONNECTED
        self._name = ""
        self._sid = ""
        self._metadata = ""
        self._local: LocalParticipant | None = None
        self._remotes: dict[str, RemoteParticipant] = {}
        self._remote_tracks: dict[str, RemoteAudioTrack | RemoteVideoTrack] = {}
        self._text_handlers: dict[str, TextStreamHandler] = {}
        self._byte_handlers: dict[str, ByteStreamHandler] = {}
        self._readers: dict[str, tuple[str, TextStreamReader | ByteStreamReader]] = {}
        self._ignored_streams: set[str] = set()
        self._tasks = TaskSet()
        self._options = ConnectOptions()
        self._disconnect_reason: DisconnectReason | None = None

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        return self._name

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def metadata(self) -> str:
        return self._metadata

    @property
    def connection_state(self) -> ConnectionState:
        return self._state

    @property
    def disconnect_reason(self) -> DisconnectReason | None:
        """Why the connection ended (None while connected or never connected)."""
        return self._disconnect_reason

    @property
    def local_participant(self) -> LocalParticipant:
        if self._local is None:
            raise RuntimeError("the room is not connected: await room.connect(url, token) first")
        return self._local

    @property
    def remote_participants(self) -> dict[str, RemoteParticipant]:
        return dict(self._remotes)

    @property
    def backend(self) -> Backend | None:
        return self._backend

    def isconnected(self) -> bool:
        return self._state != ConnectionState.CONN_DISCONNECTED

    def _require_connected(self) -> None:
        if not self.isconnected():
            raise RuntimeError("the room is not connected")

    # ------------------------------------------------------------------ connect / leave

    async def connect(
        self, url: str, token: str | None = None, options: RoomOptions | None = None
    ) -> None:
        if self.isconnected():
            raise RuntimeError(f"the room is already connected (to {self._name!r})")
        options = options or RoomOptions()
        if options.connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be > 0, got {options.connect_timeout}")
        scheme = scheme_of(url)
        backend = self._backend
        if backend is None:
            if scheme == "memory":
                raise ConnectError(
                    "memory:// rooms live in a MemoryHub object: create the room with "
                    "hub.room() or Room(backend=hub.backend())"
                )
            backend = create_backend(url)
        self._options = ConnectOptions(
            auto_subscribe=options.auto_subscribe, connect_timeout=options.connect_timeout
        )
        try:
            join = await asyncio.wait_for(
                backend.connect(url, token, self._options, self),
                timeout=options.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectError(
                f"could not connect to {url} within {options.connect_timeout} s"
            ) from None
        self._backend = backend
        self._name = join.room_name
        self._sid = join.room_sid
        self._metadata = join.room_metadata
        self._disconnect_reason = None
        info = join.local
        self._local = LocalParticipant(
            self,
            backend,
            info.identity,
            name=info.name,
            kind=info.kind,
            sid=info.sid,
            metadata=info.metadata,
            attributes=info.attributes,
        )
        for method in self._local._rpc_handlers:
            backend.watch_rpc_method(method, True)
        for topic in self._text_handlers:
            backend.watch_stream_topic(topic, "text")
        for topic in self._byte_handlers:
            backend.watch_stream_topic(topic, "byte")
        subscribed: list[tuple[str, str]] = []
        for remote in join.remotes:
            participant = self._add_remote(remote)
            for track in remote.tracks:
                self._add_publication(participant, track)
                if track.subscribed:
                    subscribed.append((remote.identity, track.sid))
        self._set_state(ConnectionState.CONN_CONNECTED)
        self.emit("connected")
        for identity, sid in subscribed:
            self.on_track_subscribed(identity, sid)

    async def disconnect(self) -> None:
        """Leave the room (others see CLIENT_INITIATED). Idempotent."""
        if not self.isconnected():
            return
        backend = self._backend
        assert backend is not None
        try:
            await backend.disconnect()
        finally:
            self._teardown(DisconnectReason.CLIENT_INITIATED)

    async def delete_room(self) -> None:
        """End the room for everyone (they leave with ROOM_DELETED). Raises
        NotImplementedError when this backend cannot; use the server API then."""
        self._require_connected()
        assert self._backend is not None
        await self._backend.delete_room()

    def _teardown(self, reason: DisconnectReason) -> None:
        if not self.isconnected():
            return
        self._disconnect_reason = reason
        for track in list(self._remote_tracks.values()):
            track._end()
        self._remote_tracks.clear()
        for _, reader in self._readers.values():
            reader._close("the room disconnected")
        self._readers.clear()
        self._set_state(ConnectionState.CONN_DISCONNECTED)
        self.emit("disconnected", reason)
        # stream handlers may be running; they end with the connection
        for task in self._tasks.tasks:
            task.cancel()

    async def aclose(self) -> None:
        await self.disconnect()
        await self._tasks.aclose()

    def _set_state(self, state: ConnectionState) -> None:
        if state != self._state:
            self._state = state
            self.emit("connection_state_changed", state)

    # ------------------------------------------------------------------ stream handlers

    def register_text_stream_handler(self, topic: str, handler: TextStreamHandler) -> None:
        """`handler(reader, participant_identity)` for each text stream on `topic`; a
        coroutine handler runs as a task the room owns."""
        if topic in self._text_handlers:
            raise ValueError(f"a text stream handler for topic {topic!r} is already registered")
        self._text_handlers[topic] = handler
        if self.isconnected() and self._backend is not None:
            self._backend.watch_stream_topic(topic, "text")

    def unregister_text_stream_handler(self, topic: str) -> None:
        self._text_handlers.pop(topic, None)

    def register_byte_stream_handler(self, topic: str, handler: ByteStreamHandler) -> None:
        if topic in self._byte_handlers:
            raise ValueError(f"a byte stream handler for topic {topic!r} is already registered")
        self._byte_handlers[topic] = handler
        if self.isconnected() and self._backend is not None:
            self._backend.watch_stream_topic(topic, "byte")

    def unregister_byte_stream_handler(self, topic: str) -> None:
        self._byte_handlers.pop(topic, None)

    # ================================================================== BackendEvents

    def _add_remote(self, info: ParticipantInfo) -> RemoteParticipant:
        participant = RemoteParticipant(
            info.identity,
            name=info.name,
            kind=info.kind,
            sid=info.sid,
            metadata=info.metadata,
            attributes=info.attributes,
        )
        self._remotes[info.identity] = participant
        return participant

    def _add_publication(
        self, participant: RemoteParticipant, info: TrackInfo
    ) -> RemoteTrackPublication:
        pub = RemoteTrackPublication(
            info.sid,
            info.name,
            info.kind,
            info.source,
            muted=info.muted,
            sample_rate=info.sample_rate,
            num_channels=info.num_channels,
        )
        identity, sid = participant.identity, info.sid

        def set_subscribed(subscribed: bool) -> None:
            if self._backend is not None and self.isconnected():
                self._tasks.create(self._backend.set_subscribed(identity, sid, subscribed))

        pub._set_subscribed_cb = set_subscribed
        participant._track_publications[info.sid] = pub
        return pub

    def on_participant_joined(self, info: ParticipantInfo) -> None:
        if info.identity in self._remotes:
            logger.warning("participant %r joined twice; replacing it", info.identity)
            self.on_participant_left(info.identity, DisconnectReason.DUPLICATE_IDENTITY)
        participant = self._add_remote(info)
        self.emit("participant_connected", participant)
        for track in info.tracks:
            self.on_track_published(info.identity, track)

    def on_participant_left(self, identity: str, reason: DisconnectReason) -> None:
        participant = self._remotes.get(identity)
        if participant is None:
            return
        for sid in list(participant._track_publications):
            self.on_track_unpublished(identity, sid)
        for stream_id, (sender, reader) in list(self._readers.items()):
            if sender == identity:
                reader._close(f"{identity} left the room")
                del self._readers[stream_id]
        participant._disconnect_reason = reason
        del self._remotes[identity]
        self.emit("participant_disconnected", participant)

    def on_participant_updated(
        self,
        identity: str,
        *,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        participant: LocalParticipant | RemoteParticipant | None
        if self._local is not None and identity == self._local.identity:
            participant = self._local
        else:
            participant = self._remotes.get(identity)
        if participant is None:
            return
        if name is not None and name != participant._name:
            old, participant._name = participant._name, name
            self.emit("participant_name_changed", participant, old, name)
        if metadata is not None and metadata != participant._metadata:
            old, participant._metadata = participant._metadata, metadata
            self.emit("participant_metadata_changed", participant, old, metadata)
        if attributes is not None:
            self._apply_attributes(participant, attributes)

    def _apply_attributes(
        self, participant: LocalParticipant | RemoteParticipant, attributes: dict[str, str]
    ) -> None:
        old = participant._attributes
        changed = {k: v for k, v in attributes.items() if old.get(k) != v}
        changed.update({k: "" for k in old if k not in attributes})
        participant._attributes = dict(attributes)
        if changed:
            self.emit("participant_attributes_changed", changed, participant)

    def on_track_published(self, identity: str, track: TrackInfo) -> None:
        participant = self._remotes.get(identity)
        if participant is None:
            return
        pub = self._add_publication(participant, track)
        self.emit("track_published", pub, participant)
        if track.subscribed:
            self.on_track_subscribed(identity, track.sid)

    def on_track_unpublished(self, identity: str, sid: str) -> None:
        participant = self._remotes.get(identity)
        if participant is None:
            return
        pub = participant._track_publications.get(sid)
        if pub is None:
            return
        if pub.subscribed:
            self.on_track_unsubscribed(identity, sid)
        del participant._track_publications[sid]
        self.emit("track_unpublished", pub, participant)

    def on_track_subscribed(self, identity: str, sid: str) -> None:
        participant = self._remotes.get(identity)
        pub = participant._track_publications.get(sid) if participant else None
        if participant is None or pub is None or pub.subscribed:
            return
        track: RemoteAudioTrack | RemoteVideoTrack = (
            RemoteAudioTrack(sid, pub.name)
            if pub.kind == TrackKind.KIND_AUDIO
            else RemoteVideoTrack(sid, pub.name)
        )
        pub._track = track
        pub._subscribed = True
        self._remote_tracks[sid] = track
        self.emit("track_subscribed", track, pub, participant)

    def on_track_unsubscribed(self, identity: str, sid: str) -> None:
        participant = self._remotes.get(identity)
        pub = participant._track_publications.get(sid) if participant else None
        if participant is None or pub is None or not pub.subscribed:
            return
        track = pub.track
        pub._subscribed = False
        pub._track = None
        self._remote_tracks.pop(sid, None)
        if track is not None:
            track._end()
            self.emit("track_unsubscribed", track, pub, participant)

    def on_audio_frame(self, identity: str, sid: str, frame: AudioFrame) -> None:
        track = self._remote_tracks.get(sid)
        if isinstance(track, RemoteAudioTrack):
            track._deliver(frame)

    def on_video_frame(self, identity: str, sid: str, frame: VideoFrame) -> None:
        track = self._remote_tracks.get(sid)
        if isinstance(track, RemoteVideoTrack):
            track._deliver(frame)

    def on_data(self, sender: str | None, payload: bytes, topic: str) -> None:
        participant = self._remotes.get(sender) if sender else None
        self.emit(
            "data_received", DataPacket(payload, DataPacketKind.KIND_RELIABLE, participant, topic)
        )

    def on_stream_header(self, sender: str, header: StreamHeader) -> None:
        identity = header.sender_identity or sender
        reader: TextStreamReader | ByteStreamReader
        handler: Any
        if header.kind == "text":
            handler = self._text_handlers.get(header.topic)
            reader = TextStreamReader(header, identity)
        else:
            handler = self._byte_handlers.get(header.topic)
            reader = ByteStreamReader(header, identity)
        if handler is None:
            logger.debug("no %s stream handler for topic %r; ignored", header.kind, header.topic)
            self._ignored_streams.add(header.stream_id)
            return
        self._readers[header.stream_id] = (sender, reader)
        try:
            result = handler(reader, identity)
        except Exception:
            logger.exception("error in %s stream handler for %r", header.kind, header.topic)
            return
        if inspect.isawaitable(result):
            self._tasks.create(_run_handler(result, header.topic), name=f"stream:{header.topic}")

    def on_stream_chunk(self, stream_id: str, chunk: bytes) -> None:
        entry = self._readers.get(stream_id)
        if entry is not None:
            entry[1]._push(chunk)

    def on_stream_trailer(self, stream_id: str, reason: str, attributes: dict[str, str]) -> None:
        self._ignored_streams.discard(stream_id)
        entry = self._readers.pop(stream_id, None)
        if entry is not None:
            entry[1]._close(reason, attributes)

    async def on_rpc_request(self, method: str, data: RpcInvocationData) -> str:
        return await self.local_participant._handle_rpc(method, data)

    def on_room_updated(self, *, metadata: str) -> None:
        if metadata != self._metadata:
            old, self._metadata = self._metadata, metadata
            self.emit("room_metadata_changed", old, metadata)

    def on_connection_state(self, state: ConnectionState) -> None:
        if state == ConnectionState.CONN_DISCONNECTED:
            self.on_disconnected(DisconnectReason.UNKNOWN_REASON)
            return
        previous = self._state
        self._set_state(state)
        if state == ConnectionState.CONN_RECONNECTING:
            self.emit("reconnecting")
        elif previous == ConnectionState.CONN_RECONNECTING:
            self.emit("reconnected")

    def on_disconnected(self, reason: DisconnectReason) -> None:
        for identity in list(self._remotes):
            participant = self._remotes[identity]
            for sid in list(participant._track_publications):
                self.on_track_unpublished(identity, sid)
        self._teardown(reason)

    def __repr__(self) -> str:
        return f"Room(name={self._name!r}, state={self._state.name})"


async def _run_handler(result: Any, topic: str) -> None:
    try:
        await result
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("error in stream handler for topic %r", topic)
