"""The in-process backend: rooms that live in a `MemoryHub` object, for tests and demos.

    hub = MemoryHub()
    agent_room, user_room = hub.room(), hub.room()
    await agent_room.connect("memory://demo", hub.token("demo", "agent", kind="agent"))
    await user_room.connect("memory://demo?identity=alice")   # token None: identity from the URL

Everything a real transport does happens here too, one loop iteration later (deliveries go
through `loop.call_soon`, in order): joins and leaves with their reasons, attributes, track
publications and subscriptions, media frames (paced by the sender's AudioSource, so on the
virtual clock a minute of audio takes milliseconds), and text/byte streams, data packets and
RPC encoded with the same packet framing the local backend sends over its WebSocket. Tokens
are LiveKit JWTs checked against the hub's key and secret, room grant included.

There is no global hub: two Rooms meet only when their backends come from the same hub.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._utils.aio import short_id
from ..audio import AudioFrame
from ..video import VideoFrame
from ._backend import BackendEvents, ConnectOptions, JoinResult, ParticipantInfo, TrackInfo
from ._grants import JoinGrant, verify_join
from ._packets import PacketEndpoint
from ._types import ConnectError, DisconnectReason, ParticipantKind
from .data_stream import StreamHeader, StreamKind
from .room import Room

__all__ = ["MemoryBackend", "MemoryHub", "create_backend"]


class _HubRoom:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sid = short_id("RM")
        self.metadata = ""
        self.members: dict[str, MemoryBackend] = {}


class MemoryHub:
    """A set of in-process rooms. `api_secret` defaults to a random one: tokens for this hub
    come from `hub.token(...)` (or livekit-api with the same key and secret)."""

    def __init__(self, *, api_key: str = "memory", api_secret: str | None = None) -> None:
        self._api_key = api_key
        self._api_secret = api_secret or secrets.token_hex(16)
        self._rooms: dict[str, _HubRoom] = {}

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def api_secret(self) -> str:
        return self._api_secret

    def backend(self) -> MemoryBackend:
        return MemoryBackend(self)

    def room(self) -> Room:
        """A Room whose `connect("memory://NAME", ...)` joins this hub."""
        return Room(backend=self.backend())

    def token(
        self,
        room: str,
        identity: str,
        *,
        kind: ParticipantKind | str = "standard",
        name: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
        can_publish: bool = True,
        can_subscribe: bool = True,
        can_publish_data: bool = True,
        ttl: float = 3600.0,
    ) -> str:
        """A LiveKit access token for `room`, signed with this hub's key and secret."""
        import datetime

        from livekit import api

        kind_name = ParticipantKind.parse(kind).name.lower()
        grants = api.VideoGrants(
            room_join=True,
            room=room,
            can_publish=can_publish,
            can_subscribe=can_subscribe,
            can_publish_data=can_publish_data,
            agent=kind_name == "agent",
        )
        token = (
            api.AccessToken(self._api_key, self._api_secret)
            .with_identity(identity)
            .with_grants(grants)
            .with_ttl(datetime.timedelta(seconds=ttl))
        )
        token.claims.kind = kind_name  # connector/bridge are not in with_kind()'s list
        if name:
            token = token.with_name(name)
        if metadata:
            token = token.with_metadata(metadata)
        if attributes:
            token = token.with_attributes(dict(attributes))
        return token.to_jwt()

    @property
    def rooms(self) -> list[str]:
        return list(self._rooms)

    def participants(self, room: str) -> list[str]:
        hub_room = self._rooms.get(room)
        return list(hub_room.members) if hub_room else []

    async def remove_participant(
        self,
        room: str,
        identity: str,
        reason: DisconnectReason = DisconnectReason.PARTICIPANT_REMOVED,
    ) -> None:
        """Disconnect `identity` from `room` with `reason` (how tests play a caller hanging
        up with USER_REJECTED, a network loss, a removal by an admin ...)."""
        hub_room = self._rooms.get(room)
        member = hub_room.members.get(identity) if hub_room else None
        if member is None:
            raise KeyError(f"no participant {identity!r} in room {room!r}")
        member._kicked(reason)

    async def delete_room(self, room: str) -> None:
        """Everyone leaves with ROOM_DELETED and the room is gone."""
        hub_room = self._rooms.get(room)
        if hub_room is None:
            raise KeyError(f"no room {room!r}")
        for member in list(hub_room.members.values()):
            member._kicked(DisconnectReason.ROOM_DELETED)
        self._rooms.pop(room, None)

    def set_room_metadata(self, room: str, metadata: str) -> None:
        hub_room = self._rooms[room]
        hub_room.metadata = metadata
        for member in hub_room.members.values():
            member._later(member._events_or_raise().on_room_updated, metadata=metadata)

    # ------------------------------------------------------------------ membership

    def _join(self, room: str, member: MemoryBackend) -> _HubRoom:
        existing = self._rooms.get(room)
        previous = existing.members.get(member.identity) if existing else None
        if previous is not None:
            previous._kicked(DisconnectReason.DUPLICATE_IDENTITY)
        hub_room = self._rooms.get(room)  # the kick may have emptied and removed it
        if hub_room is None:
            hub_room = self._rooms[room] = _HubRoom(room)
        hub_room.members[member.identity] = member
        return hub_room

    def _leave(self, hub_room: _HubRoom, member: MemoryBackend) -> None:
        if hub_room.members.get(member.identity) is member:
            del hub_room.members[member.identity]
        if not hub_room.members and self._rooms.get(hub_room.name) is hub_room:
            del self._rooms[hub_room.name]


class MemoryBackend:
    """One Room's connection to a `MemoryHub` (see the module docstring)."""

    def __init__(self, hub: MemoryHub) -> None:
        self._hub = hub
        self._room: _HubRoom | None = None
        self._events: BackendEvents | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grant: JoinGrant | None = None
        self._options = ConnectOptions()
        self._tracks: dict[str, TrackInfo] = {}
        self._subscriptions: set[tuple[str, str]] = set()
        self._endpoint: PacketEndpoint | None = None
        self.identity = ""
        self._name = ""
        self._metadata = ""
        self._attributes: dict[str, str] = {}
        self._kind = ParticipantKind.STANDARD
        self._sid = short_id("PA")

    # ------------------------------------------------------------------ helpers

    def _events_or_raise(self) -> BackendEvents:
        if self._events is None:
            raise RuntimeError("the memory backend is not connected")
        return self._events

    def _later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Deliver on the next loop iteration, in order, like a network would."""
        loop = self._loop
        if loop is not None and self._room is not None:
            loop.call_soon(self._deliver, fn, args, kwargs)

    def _deliver(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        if self._room is not None:  # nothing reaches a connection that has ended meanwhile
            fn(*args, **kwargs)

    def _others(self) -> list[MemoryBackend]:
        if self._room is None:
            return []
        return [m for m in self._room.members.values() if m is not self]

    def _info(self, *, for_member: MemoryBackend | None = None) -> ParticipantInfo:
        auto = for_member is not None and for_member._receives_media()
        return ParticipantInfo(
            identity=self.identity,
            name=self._name,
            kind=self._kind,
            sid=self._sid,
            metadata=self._metadata,
            attributes=dict(self._attributes),
            tracks=[replace(t, subscribed=auto) for t in self._tracks.values()],
        )

    def _receives_media(self) -> bool:
        grant = self._grant
        return self._options.auto_subscribe and (grant is None or grant.can_subscribe)

    # ------------------------------------------------------------------ Backend

    async def connect(
        self, url: str, token: str | None, options: ConnectOptions, events: BackendEvents
    ) -> JoinResult:
        if self._room is not None:
            raise ConnectError("this memory backend is already connected")
        parts = urlsplit(url)
        if parts.scheme != "memory":
            raise ConnectError(f"the memory backend serves memory:// URLs, got {url!r}")
        room_name = parts.netloc or parts.path.strip("/")
        if not room_name:
            raise ConnectError(f"no room name in {url!r} (memory://ROOM)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if token is not None:
            self._grant = verify_join(
                token, room=room_name, api_key=self._hub.api_key, api_secret=self._hub.api_secret
            )
            self.identity = self._grant.identity
            self._name = self._grant.name
            self._kind = self._grant.kind
            self._metadata = self._grant.metadata
            self._attributes = dict(self._grant.attributes)
        else:
            self.identity = query.get("identity") or short_id("user")
            self._name = query.get("name", "")
            try:
                self._kind = ParticipantKind.parse(query.get("kind", "standard"))
            except ValueError as e:
                raise ConnectError(str(e)) from None
        self._options = options
        self._events = events
        self._loop = asyncio.get_running_loop()
        self._endpoint = PacketEndpoint(self._send_packet, events, is_present=self._is_present)
        hub_room = self._hub._join(room_name, self)
        self._room = hub_room
        others = self._others()
        for other in others:
            if other._receives_media():
                for sid in list(self._tracks):
                    other._subscriptions.add((self.identity, sid))
            if self._receives_media():
                for sid in other._tracks:
                    self._subscriptions.add((other.identity, sid))
            other._later(
                other._events_or_raise().on_participant_joined, self._info(for_member=other)
            )
        return JoinResult(
            room_name=room_name,
            room_sid=hub_room.sid,
            room_metadata=hub_room.metadata,
            local=self._info(),
            remotes=[o._info(for_member=self) for o in others],
        )

    def _is_present(self, identity: str) -> bool:
        return self._room is not None and identity in self._room.members

    async def disconnect(self) -> None:
        self._leave(DisconnectReason.CLIENT_INITIATED)
        if self._endpoint is not None:
            await self._endpoint.aclose()

    def _leave(self, reason: DisconnectReason) -> None:
        hub_room = self._room
        if hub_room is None:
            return
        for other in self._others():
            other._subscriptions = {s for s in other._subscriptions if s[0] != self.identity}
            other._later(other._events_or_raise().on_participant_left, self.identity, reason)
            if other._endpoint is not None:
                other._later(other._endpoint.participant_left, self.identity)
        self._hub._leave(hub_room, self)
        self._room = None
        self._subscriptions.clear()
        if self._endpoint is not None:
            self._endpoint.close()

    def _kicked(self, reason: DisconnectReason) -> None:
        events = self._events
        loop = self._loop
        self._leave(reason)
        if events is not None and loop is not None:
            loop.call_soon(events.on_disconnected, reason)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        for key, value in attributes.items():
            if value:
                self._attributes[key] = value
            else:
                self._attributes.pop(key, None)
        for other in self._others():
            other._later(
                other._events_or_raise().on_participant_updated,
                self.identity,
                attributes=dict(self._attributes),
            )

    async def set_metadata(self, metadata: str) -> None:
        self._metadata = metadata
        for other in self._others():
            other._later(
                other._events_or_raise().on_participant_updated, self.identity, metadata=metadata
            )

    async def set_name(self, name: str) -> None:
        self._name = name
        for other in self._others():
            other._later(other._events_or_raise().on_participant_updated, self.identity, name=name)

    async def publish_track(self, track: TrackInfo) -> TrackInfo:
        if self._grant is not None and not self._grant.can_publish:
            raise PermissionError(f"{self.identity!r} may not publish: its token has no canPublish")
        published = replace(track, subscribed=False)
        self._tracks[published.sid] = published
        for other in self._others():
            auto = other._receives_media()
            if auto:
                other._subscriptions.add((self.identity, published.sid))
            other._later(
                other._events_or_raise().on_track_published,
                self.identity,
                replace(published, subscribed=auto),
            )
        return published

    async def unpublish_track(self, sid: str) -> None:
        if self._tracks.pop(sid, None) is None:
            return
        for other in self._others():
            other._subscriptions.discard((self.identity, sid))
            other._later(other._events_or_raise().on_track_unpublished, self.identity, sid)

    async def set_subscribed(self, identity: str, sid: str, subscribed: bool) -> None:
        if self._room is None:
            return
        publisher = self._room.members.get(identity)
        if publisher is None or sid not in publisher._tracks:
            return
        if subscribed:
            if self._grant is not None and not self._grant.can_subscribe:
                raise PermissionError(f"{self.identity!r} may not subscribe (no canSubscribe)")
            self._subscriptions.add((identity, sid))
            self._later(self._events_or_raise().on_track_subscribed, identity, sid)
        else:
            self._subscriptions.discard((identity, sid))
            self._later(self._events_or_raise().on_track_unsubscribed, identity, sid)

    def send_audio_frame(self, sid: str, frame: AudioFrame) -> None:
        key = (self.identity, sid)
        for other in self._others():
            if key in other._subscriptions:
                other._later(other._events_or_raise().on_audio_frame, self.identity, sid, frame)

    def send_video_frame(self, sid: str, frame: VideoFrame) -> None:
        key = (self.identity, sid)
        for other in self._others():
            if key in other._subscriptions:
                other._later(other._events_or_raise().on_video_frame, self.identity, sid, frame)

    # ------------------------------------------------------------------ data

    def _check_data_grant(self) -> None:
        if self._grant is not None and not self._grant.can_publish_data:
            raise PermissionError(f"{self.identity!r} may not send data (no canPublishData)")

    async def _send_packet(self, data: bytes, destinations: list[str] | None) -> None:
        if self._room is None:
            raise ConnectionError("not connected")
        for other in self._others():
            if destinations is None or other.identity in destinations:
                endpoint = other._endpoint
                if endpoint is not None:
                    other._later(endpoint.receive, self.identity, data)

    def _packets(self) -> PacketEndpoint:
        if self._endpoint is None or self._room is None:
            raise ConnectionError("the memory backend is not connected")
        return self._endpoint

    async def publish_data(
        self, payload: bytes, *, topic: str, reliable: bool, destinations: list[str] | None
    ) -> None:
        self._check_data_grant()
        await self._packets().publish_data(
            payload, topic=topic, reliable=reliable, destinations=destinations
        )

    async def open_stream(self, header: StreamHeader, destinations: list[str] | None) -> Any:
        self._check_data_grant()
        return await self._packets().open_stream(header, destinations)

    def watch_stream_topic(self, topic: str, kind: StreamKind) -> None:
        return None  # every packet reaches the room; it drops topics nobody handles

    async def perform_rpc(
        self, destination: str, method: str, payload: str, response_timeout: float
    ) -> str:
        self._check_data_grant()
        return await self._packets().perform_rpc(destination, method, payload, response_timeout)

    def watch_rpc_method(self, method: str, registered: bool) -> None:
        return None

    async def delete_room(self) -> None:
        if self._room is None:
            raise ConnectionError("not connected")
        await self._hub.delete_room(self._room.name)


def create_backend(url: str) -> MemoryBackend:
    raise ConnectError(
        "memory:// rooms live in a MemoryHub object: create the room with hub.room() "
        "or Room(backend=hub.backend())"
    )
