"""The backend seam: how a transport plugs into voxline's room model.

A guide for backend authors
===========================

`Room`, `LocalParticipant`, `RemoteParticipant`, tracks, streams and RPC handlers are voxline
objects; they keep all room state and emit every event. A backend only moves things between
this process and the other participants. It implements `Backend` (calls from the room) and
calls `BackendEvents` (implemented by the room) for what arrives. Nothing else is shared.

Choosing a backend
    `Room.connect(url, token)` picks the backend by URL scheme in `SCHEMES` below, importing
    its module lazily; the module exposes `create_backend(url) -> Backend`. A backend object
    can also be given directly: `Room(backend=...)`, which is how a `MemoryHub` is used.

Lifecycle
    1. `connect(url, token, options, events)` joins and returns a `JoinResult`: the room's
       name and metadata, the local participant as the server sees it (identity, kind and
       attributes come from the token), and the remote participants already there with their
       published tracks. Raise `ConnectError` with the cause (refused token, wrong room,
       server unreachable). Do not call `events` before `connect` returns; queue or drop.
    2. While connected, call `events.on_*` from the event loop thread, in arrival order.
    3. `disconnect()` leaves (others see CLIENT_INITIATED) and must not call
       `events.on_disconnected`: the room handles its own leave. When the server ends the
       connection (room deleted, removed, duplicate identity, network loss) call
       `events.on_disconnected(reason)` once; the room then forgets everyone.

Participants and attributes
    `on_participant_joined(info)` for every remote participant that joins (never for the
    local one); `on_participant_left(identity, reason)` with the DisconnectReason the server
    gave. `on_participant_updated(identity, ...)` carries the *full* new attribute dict (the
    room computes which keys changed) and works for the local identity too, so a server that
    rewrites attributes is reflected locally. `set_attributes(changed)` receives only the keys
    to change; an empty value deletes the key, as on LiveKit.

Tracks and media
    The room assigns no sids: `publish_track(info)` returns the TrackInfo as published (with
    the sid the server assigned, or `info.sid` when the backend accepts the room's own sid).
    Remote tracks arrive with `on_track_published`; when the backend starts delivering their
    media (at once when `options.auto_subscribe`, else after `set_subscribed(..., True)`) it
    calls `on_track_subscribed`. Media flows as voxline frames: `send_audio_frame(sid, frame)`
    is called at real-time pace by the track's `AudioSource` in 20 ms frames (already paced:
    do not buffer more than the transport needs) and must not block; `on_audio_frame` and
    `on_video_frame` deliver remote media in whatever frame size the transport has (streams
    re-chunk and resample for their readers).

Text and byte streams
    The room chunks (at most 15 KB, text split on character boundaries) and calls
    `open_stream(header, destinations)` once per stream, then `sink.write(chunk)` and finally
    `sink.close(reason, attributes)` (the trailer; its attributes are merged into the
    reader's info). Incoming streams are reported with `on_stream_header`, `on_stream_chunk`
    and `on_stream_trailer`. Backends that need to know which topics to accept (LiveKit's SDK
    wants a handler per topic) get `watch_stream_topic(topic, kind)` for each topic a handler
    is registered for; the others ignore it. A LiveKit backend maps these to the SDK's native
    streams so LiveKit clients interoperate; packet backends (memory, local) use
    `_packets.PacketEndpoint`, which implements streams, data packets and RPC on top of a
    single "send this packet to these identities" function.

RPC
    `perform_rpc(destination, method, payload, response_timeout)` returns the response or
    raises `RpcError` with LiveKit's codes (RECIPIENT_NOT_FOUND, CONNECTION_TIMEOUT,
    RESPONSE_TIMEOUT, UNSUPPORTED_METHOD, APPLICATION_ERROR, ...). An incoming request is
    answered by awaiting `events.on_rpc_request(method, data)`, which returns the response
    or raises `RpcError` (UNSUPPORTED_METHOD when no handler is registered). Backends that
    need per-method registration get `watch_rpc_method(method, registered)`.

Everything else
    `publish_data(payload, topic, reliable, destinations)` and `on_data(...)` carry raw
    data packets (`data_received`). `delete_room()` ends the room for everyone (others leave
    with ROOM_DELETED); a backend without that right raises NotImplementedError and callers
    (RoomIO's `delete_room_on_close`) fall back to the server API.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from ._types import (
    ConnectError,
    ConnectionState,
    DisconnectReason,
    ParticipantKind,
    TrackKind,
    TrackSource,
)

if TYPE_CHECKING:
    from ..audio import AudioFrame
    from ..video import VideoFrame
    from .data_stream import StreamHeader, StreamKind
    from .rpc import RpcInvocationData

__all__ = [
    "SCHEMES",
    "Backend",
    "BackendEvents",
    "ConnectOptions",
    "JoinResult",
    "ParticipantInfo",
    "StreamSink",
    "TrackInfo",
    "create_backend",
]


@dataclass
class TrackInfo:
    sid: str
    name: str
    kind: TrackKind
    source: TrackSource = TrackSource.SOURCE_UNKNOWN
    muted: bool = False
    sample_rate: int = 0
    """Audio tracks: the rate the publisher's source captures at (0 when unknown)."""
    num_channels: int = 0
    subscribed: bool = False
    """Media already flows to this connection (auto-subscribe): the room emits
    `track_subscribed` right after `track_published` (or after connecting)."""


@dataclass
class ParticipantInfo:
    identity: str
    name: str = ""
    kind: ParticipantKind = ParticipantKind.STANDARD
    sid: str = ""
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    tracks: list[TrackInfo] = field(default_factory=list)


@dataclass
class JoinResult:
    room_name: str
    local: ParticipantInfo
    remotes: list[ParticipantInfo] = field(default_factory=list)
    room_sid: str = ""
    room_metadata: str = ""


@dataclass
class ConnectOptions:
    auto_subscribe: bool = True
    connect_timeout: float = 10.0


class StreamSink(Protocol):
    """The sending half of one open stream."""

    async def write(self, chunk: bytes) -> None: ...

    async def close(self, reason: str, attributes: dict[str, str]) -> None: ...


class BackendEvents(Protocol):
    """What a backend reports; implemented by `Room`. All calls on the event loop thread."""

    def on_participant_joined(self, info: ParticipantInfo) -> None: ...

    def on_participant_left(self, identity: str, reason: DisconnectReason) -> None: ...

    def on_participant_updated(
        self,
        identity: str,
        *,
        name: str | None = None,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None: ...

    def on_track_published(self, identity: str, track: TrackInfo) -> None: ...

    def on_track_unpublished(self, identity: str, sid: str) -> None: ...

    def on_track_subscribed(self, identity: str, sid: str) -> None: ...

    def on_track_unsubscribed(self, identity: str, sid: str) -> None: ...

    def on_audio_frame(self, identity: str, sid: str, frame: AudioFrame) -> None: ...

    def on_video_frame(self, identity: str, sid: str, frame: VideoFrame) -> None: ...

    def on_data(self, sender: str | None, payload: bytes, topic: str) -> None: ...

    def on_stream_header(self, sender: str, header: StreamHeader) -> None: ...

    def on_stream_chunk(self, stream_id: str, chunk: bytes) -> None: ...

    def on_stream_trailer(
        self, stream_id: str, reason: str, attributes: dict[str, str]
    ) -> None: ...

    async def on_rpc_request(self, method: str, data: RpcInvocationData) -> str: ...

    def on_room_updated(self, *, metadata: str) -> None: ...

    def on_connection_state(self, state: ConnectionState) -> None: ...

    def on_disconnected(self, reason: DisconnectReason) -> None: ...


class Backend(Protocol):
    """A transport for one Room connection (one object per connection)."""

    async def connect(
        self, url: str, token: str | None, options: ConnectOptions, events: BackendEvents
    ) -> JoinResult: ...

    async def disconnect(self) -> None: ...

    async def set_attributes(self, attributes: dict[str, str]) -> None: ...

    async def set_metadata(self, metadata: str) -> None: ...

    async def set_name(self, name: str) -> None: ...

    async def publish_track(self, track: TrackInfo) -> TrackInfo: ...

    async def unpublish_track(self, sid: str) -> None: ...

    async def set_subscribed(self, identity: str, sid: str, subscribed: bool) -> None: ...

    def send_audio_frame(self, sid: str, frame: AudioFrame) -> None: ...

    def send_video_frame(self, sid: str, frame: VideoFrame) -> None: ...

    async def publish_data(
        self, payload: bytes, *, topic: str, reliable: bool, destinations: list[str] | None
    ) -> None: ...

    async def open_stream(
        self, header: StreamHeader, destinations: list[str] | None
    ) -> StreamSink: ...

    def watch_stream_topic(self, topic: str, kind: StreamKind) -> None: ...

    async def perform_rpc(
        self, destination: str, method: str, payload: str, response_timeout: float
    ) -> str: ...

    def watch_rpc_method(self, method: str, registered: bool) -> None: ...

    async def delete_room(self) -> None: ...


BackendFactory = Callable[[str], Backend]

SCHEMES: dict[str, str] = {
    "memory": "voxline.rtc.memory",
    "voxline+ws": "voxline.rtc.local",
    "voxline+wss": "voxline.rtc.local",
    "ws": "voxline.rtc.livekit",
    "wss": "voxline.rtc.livekit",
    "http": "voxline.rtc.livekit",
    "https": "voxline.rtc.livekit",
}
"""URL scheme -> module with `create_backend(url) -> Backend`, imported on first use."""

_EXTRAS = {"voxline.rtc.livekit": "livekit"}


def scheme_of(url: str) -> str:
    if not isinstance(url, str) or "://" not in url:
        raise ConnectError(f"a room URL looks like scheme://..., got {url!r}")
    return urlsplit(url).scheme.lower()


def create_backend(url: str) -> Backend:
    """The backend for `url`'s scheme, importing its module on first use."""
    scheme = scheme_of(url)
    module_name = SCHEMES.get(scheme)
    if module_name is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConnectError(f"no room backend for {scheme}:// (known: {known})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        extra = _EXTRAS.get(module_name)
        hint = f"; install it with pip install 'voxline[{extra}]'" if extra else ""
        raise ConnectError(
            f"the {scheme}:// backend ({module_name}) cannot be imported: {e}{hint}"
        ) from e
    factory: Callable[[str], Backend] | None = getattr(module, "create_backend", None)
    if factory is None:
        raise ConnectError(f"{module_name} has no create_backend(url)")
    return factory(url)


RpcHandler = Callable[["RpcInvocationData"], "str | Awaitable[str]"]
