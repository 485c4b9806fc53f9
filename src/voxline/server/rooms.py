"""Rooms of the embedded server: who is in which room, what they publish, who receives it.

The hub is transport-agnostic and synchronous: a WebSocket or WebRTC connection joins a
participant, then hands it every message and media frame it receives; the hub checks the
participant's grants, changes the room state and fans the result out through each
recipient's `Connection` (whose sends only enqueue, so one slow client never stalls a room).
Everything a participant can reach is inside its own room: identities, tracks and packets
are looked up there and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .._utils.aio import now, short_id
from .._utils.emitter import EventEmitter
from ..audio import AudioFrame

logger = logging.getLogger("voxline.server")

# LiveKit's DisconnectReason names (livekit.protocol.models.DisconnectReason)
CLIENT_INITIATED = "CLIENT_INITIATED"
DUPLICATE_IDENTITY = "DUPLICATE_IDENTITY"
SERVER_SHUTDOWN = "SERVER_SHUTDOWN"
PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED"
ROOM_DELETED = "ROOM_DELETED"
SIGNAL_CLOSE = "SIGNAL_CLOSE"
CONNECTION_TIMEOUT = "CONNECTION_TIMEOUT"

PARTICIPANT_KINDS = ("standard", "ingress", "egress", "sip", "agent", "connector")
TRACK_KINDS = ("audio", "video")
TRACK_SOURCES = ("unknown", "camera", "microphone", "screen_share", "screen_share_audio")
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_BYTES = 64 * 1024


class RoomError(Exception):
    """A request the room refuses; `code` is a short machine-readable name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection(Protocol):
    """One participant's link to its client. Sends never block: they enqueue."""

    def send_message(self, message: dict[str, Any]) -> None: ...

    def send_audio(self, track: ServerTrack, frame: AudioFrame) -> None: ...

    def send_video(self, track: ServerTrack, rgb: npt.NDArray[np.uint8]) -> None: ...

    def close(self, reason: str) -> None:
        """Tell the client why (a `disconnected` message) and drop the link."""


@dataclass
class Permissions:
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_update_metadata: bool = False
    hidden: bool = False
    can_publish_sources: tuple[str, ...] = ()
    """Empty: any source."""

    def info(self) -> dict[str, Any]:
        return {
            "can_publish": self.can_publish,
            "can_subscribe": self.can_subscribe,
            "can_publish_data": self.can_publish_data,
            "can_update_metadata": self.can_update_metadata,
            "hidden": self.hidden,
            "can_publish_sources": list(self.can_publish_sources),
        }


@dataclass(eq=False)
class ServerTrack:
    sid: str
    name: str
    kind: str
    source: str
    publisher: ServerParticipant = field(repr=False)
    sample_rate: int = 0
    num_channels: int = 0
    muted: bool = False
    subscribers: set[ServerParticipant] = field(default_factory=set, repr=False)

    def info(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "sample_rate": self.sample_rate,
            "num_channels": self.num_channels,
            "muted": self.muted,
        }


@dataclass(eq=False)
class ServerParticipant:
    sid: str
    identity: str
    room: ServerRoom = field(repr=False)
    connection: Connection = field(repr=False)
    name: str = ""
    kind: str = "standard"
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    permissions: Permissions = field(default_factory=Permissions)
    auto_subscribe: bool = True
    transport: str = ""
    receives: tuple[str, ...] = TRACK_KINDS
    """Track kinds its transport carries to the client."""
    joined_at: float = field(default_factory=now)
    tracks: dict[str, ServerTrack] = field(default_factory=dict)
    subscriptions: set[ServerTrack] = field(default_factory=set, repr=False)
    connected: bool = True
    disconnect_reason: str = ""

    def info(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "identity": self.identity,
            "name": self.name,
            "kind": self.kind,
            "metadata": self.metadata,
            "attributes": dict(self.attributes),
            "permissions": self.permissions.info(),
            "tracks": [t.info() for t in self.tracks.values()],
        }


@dataclass(eq=False)
class ServerRoom:
    name: str
    sid: str
    metadata: str = ""
    max_participants: int = 0
    created_at: float = field(default_factory=now)
    participants: dict[str, ServerParticipant] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "name": self.name,
            "metadata": self.metadata,
            "num_participants": len(self.participants),
        }

    def track(self, sid: str) -> ServerTrack | None:
        for p in self.participants.values():
            found = p.tracks.get(sid)
            if found is not None:
                return found
        return None

    def others(self, participant: ServerParticipant) -> Iterable[ServerParticipant]:
        return [p for p in self.participants.values() if p is not participant]


class RoomHub(EventEmitter[str]):
    """Events: `room_created(ServerRoom)`, `room_deleted(ServerRoom)`,
    `participant_joined(ServerParticipant)`, `participant_left(ServerParticipant, reason)`,
    `track_published(ServerTrack)`."""

    def __init__(self, *, on_room_created: Callable[[ServerRoom], None] | None = None) -> None:
        super().__init__()
        self.rooms: dict[str, ServerRoom] = {}
        self._on_room_created = on_room_created

    # ------------------------------------------------------------------ rooms

    def create_room(
        self, name: str, *, metadata: str = "", max_participants: int = 0
    ) -> ServerRoom:
        """Create `name` (idempotent: an existing room is returned unchanged)."""
        if not name or len(name) > 256:
            raise RoomError("invalid_argument", "a room name must be 1-256 characters")
        room = self.rooms.get(name)
        if room is not None:
            return room
        room = ServerRoom(
            name=name, sid=short_id("RM"), metadata=metadata, max_participants=max_participants
        )
        self.rooms[name] = room
        if self._on_room_created is not None:
            self._on_room_created(room)
        self.emit("room_created", room)
        return room

    def delete_room(self, name: str) -> bool:
        """Remove the room; its participants are disconnected with ROOM_DELETED."""
        room = self.rooms.pop(name, None)
        if room is None:
            return False
        for p in list(room.participants.values()):
            self._drop(p, ROOM_DELETED, notify_room=False)
            p.connection.close(ROOM_DELETED)
        self.emit("room_deleted", room)
        return True

    def update_room_metadata(self, name: str, metadata: str) -> ServerRoom:
        room = self._room(name)
        room.metadata = metadata
        self._broadcast(room, {"type": "room_updated", "room": room.info()})
        return room

    def _room(self, name: str) -> ServerRoom:
        room = self.rooms.get(name)
        if room is None:
            raise RoomError("not_found", f"room {name!r} does not exist")
        return room

    # ------------------------------------------------------------------ membership

    def join(
        self,
        room_name: str,
        identity: str,
        connection: Connection,
        *,
        name: str = "",
        kind: str = "standard",
        metadata: str = "",
        attributes: Mapping[str, str] | None = None,
        permissions: Permissions | None = None,
        auto_subscribe: bool = True,
        transport: str = "",
        receives: tuple[str, ...] = TRACK_KINDS,
    ) -> ServerParticipant:
        """Add a participant (creating the room on first join, as LiveKit does). A second
        connection with the same identity replaces the first (DUPLICATE_IDENTITY)."""
        if not identity:
            raise RoomError("invalid_argument", "the token has no identity")
        if kind not in PARTICIPANT_KINDS:
            raise RoomError("invalid_argument", f"unknown participant kind {kind!r}")
        room = self.create_room(room_name)
        previous = room.participants.get(identity)
        if previous is not None:
            self._drop(previous, DUPLICATE_IDENTITY, notify_room=True)
            previous.connection.close(DUPLICATE_IDENTITY)
        if room.max_participants and len(room.participants) >= room.max_participants:
            raise RoomError("resource_exhausted", f"room {room_name!r} is full")
        p = ServerParticipant(
            sid=short_id("PA"),
            identity=identity,
            room=room,
            connection=connection,
            name=name,
            kind=kind,
            metadata=metadata,
            attributes=dict(attributes or {}),
            permissions=permissions or Permissions(),
            auto_subscribe=auto_subscribe,
            transport=transport,
            receives=receives,
        )
        visible = [o for o in room.participants.values() if not o.permissions.hidden]
        room.participants[identity] = p
        connection.send_message(
            {
                "type": "join",
                "room": room.info(),
                "participant": p.info(),
                "participants": [o.info() for o in visible],
            }
        )
        if not p.permissions.hidden:
            self._broadcast(room, {"type": "participant_joined", "participant": p.info()}, but=p)
        if auto_subscribe and p.permissions.can_subscribe:
            for other in visible:
                for track in other.tracks.values():
                    self._subscribe(p, track)
        self.emit("participant_joined", p)
        return p

    def leave(self, p: ServerParticipant, reason: str = CLIENT_INITIATED) -> None:
        """The participant's connection is gone (or it said goodbye)."""
        if p.connected:
            self._drop(p, reason, notify_room=True)

    def remove_participant(
        self, room_name: str, identity: str, reason: str = PARTICIPANT_REMOVED
    ) -> ServerParticipant:
        p = self.participant(room_name, identity)
        self._drop(p, reason, notify_room=True)
        p.connection.close(reason)
        return p

    def participant(self, room_name: str, identity: str) -> ServerParticipant:
        room = self._room(room_name)
        p = room.participants.get(identity)
        if p is None:
            raise RoomError("not_found", f"participant {identity!r} is not in room {room_name!r}")
        return p

    def _drop(self, p: ServerParticipant, reason: str, *, notify_room: bool) -> None:
        p.connected = False
        p.disconnect_reason = reason
        room = p.room
        if room.participants.get(p.identity) is p:
            del room.participants[p.identity]
        for track in list(p.tracks.values()):
            self._unpublish(p, track, notify=notify_room)
        for track in list(p.subscriptions):
            track.subscribers.discard(p)
        p.subscriptions.clear()
        if notify_room and not p.permissions.hidden:
            left = {"type": "participant_left", "identity": p.identity, "sid": p.sid}
            self._broadcast(room, left | {"reason": reason})
        logger.info("participant %s left room %s (%s)", p.identity, room.name, reason)
        self.emit("participant_left", p, reason)

    # ------------------------------------------------------------------ participants' requests

    def update_participant(
        self,
        p: ServerParticipant,
        *,
        attributes: Mapping[str, str] | None = None,
        name: str | None = None,
        metadata: str | None = None,
        by_admin: bool = False,
    ) -> None:
        """Merge `attributes` (an empty value deletes the key) and tell everyone in the room."""
        if not by_admin and not p.permissions.can_update_metadata:
            raise RoomError(
                "permission_denied",
                "the token lacks canUpdateOwnMetadata: attributes, name and metadata are read-only",
            )
        changed: dict[str, str] = {}
        if attributes:
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
                raise RoomError("invalid_argument", "attribute keys and values must be strings")
            merged = dict(p.attributes)
            for key, value in attributes.items():
                if merged.get(key, "") != value:
                    changed[key] = value
                if value:
                    merged[key] = value
                else:
                    merged.pop(key, None)
            size = sum(len(k) + len(v) for k, v in merged.items())
            if len(merged) > MAX_ATTRIBUTES or size > MAX_ATTRIBUTE_BYTES:
                raise RoomError("invalid_argument", "too many or too large attributes")
            p.attributes = merged
        if name is not None:
            p.name = name
        if metadata is not None:
            p.metadata = metadata
        message = {"type": "participant_updated", "participant": p.info()}
        self._broadcast(p.room, message | {"changed_attributes": changed})

    def publish_track(
        self,
        p: ServerParticipant,
        *,
        name: str,
        kind: str,
        source: str = "unknown",
        sample_rate: int = 0,
        num_channels: int = 0,
    ) -> ServerTrack:
        if not p.permissions.can_publish:
            raise RoomError("permission_denied", "the token lacks canPublish")
        if kind not in TRACK_KINDS:
            raise RoomError("invalid_argument", f"track kind must be audio or video, not {kind!r}")
        if source not in TRACK_SOURCES:
            raise RoomError("invalid_argument", f"unknown track source {source!r}")
        allowed = p.permissions.can_publish_sources
        if allowed and source not in allowed:
            raise RoomError("permission_denied", f"the token may not publish source {source!r}")
        if kind == "audio" and not (0 < sample_rate <= 192_000 and 0 < num_channels <= 8):
            raise RoomError(
                "invalid_argument",
                f"an audio track needs a sample_rate and num_channels, got {sample_rate} Hz "
                f"x {num_channels}",
            )
        track = ServerTrack(
            sid=short_id("TR"),
            name=name,
            kind=kind,
            source=source,
            publisher=p,
            sample_rate=sample_rate,
            num_channels=num_channels,
        )
        p.tracks[track.sid] = track
        if not p.permissions.hidden:
            message = {"type": "track_published", "identity": p.identity, "track": track.info()}
            self._broadcast(p.room, message, but=p)
            for other in p.room.others(p):
                if other.auto_subscribe and other.permissions.can_subscribe:
                    self._subscribe(other, track)
        self.emit("track_published", track)
        return track

    def unpublish_track(self, p: ServerParticipant, track_sid: str) -> None:
        track = self._own_track(p, track_sid)
        self._unpublish(p, track, notify=True)

    def _unpublish(self, p: ServerParticipant, track: ServerTrack, *, notify: bool) -> None:
        p.tracks.pop(track.sid, None)
        for sub in list(track.subscribers):
            sub.subscriptions.discard(track)
            sub.connection.send_message(
                {"type": "track_unsubscribed", "identity": p.identity, "track_sid": track.sid}
            )
        track.subscribers.clear()
        if notify and not p.permissions.hidden:
            message = {"type": "track_unpublished", "identity": p.identity, "track_sid": track.sid}
            self._broadcast(p.room, message, but=p)

    def set_muted(self, p: ServerParticipant, track_sid: str, muted: bool) -> None:
        track = self._own_track(p, track_sid)
        track.muted = bool(muted)
        message = {"type": "track_muted", "identity": p.identity, "track_sid": track.sid}
        self._broadcast(p.room, message | {"muted": track.muted}, but=p)

    def set_subscribed(self, p: ServerParticipant, track_sid: str, subscribed: bool) -> None:
        if not p.permissions.can_subscribe:
            raise RoomError("permission_denied", "the token lacks canSubscribe")
        track = p.room.track(track_sid)
        if track is None or track.publisher is p or track.publisher.permissions.hidden:
            raise RoomError("not_found", f"no track {track_sid!r} to subscribe to in this room")
        if subscribed:
            if track.kind not in p.receives:
                raise RoomError(
                    "invalid_argument", f"this connection does not carry {track.kind} tracks"
                )
            self._subscribe(p, track)
        elif track in p.subscriptions:
            p.subscriptions.discard(track)
            track.subscribers.discard(p)
            p.connection.send_message(
                {"type": "track_unsubscribed", "identity": track.publisher.identity}
                | {"track_sid": track.sid}
            )

    def _subscribe(self, p: ServerParticipant, track: ServerTrack) -> None:
        if track in p.subscriptions or track.kind not in p.receives:
            return
        p.subscriptions.add(track)
        track.subscribers.add(p)
        p.connection.send_message(
            {"type": "track_subscribed", "identity": track.publisher.identity}
            | {"track_sid": track.sid}
        )

    def _own_track(self, p: ServerParticipant, track_sid: str) -> ServerTrack:
        track = p.tracks.get(track_sid)
        if track is None:
            raise RoomError("not_found", f"{p.identity!r} has published no track {track_sid!r}")
        return track

    # ------------------------------------------------------------------ routing

    def route_audio(self, p: ServerParticipant, track_sid: str, frame: AudioFrame) -> None:
        """A frame of one of `p`'s audio tracks, to everyone subscribed to it."""
        track = self._own_track(p, track_sid)
        if track.kind != "audio":
            raise RoomError("invalid_argument", f"track {track_sid!r} is not an audio track")
        if track.muted:
            return
        for sub in track.subscribers:
            sub.connection.send_audio(track, frame)

    def route_video(self, p: ServerParticipant, track_sid: str, rgb: npt.NDArray[np.uint8]) -> None:
        track = self._own_track(p, track_sid)
        if track.kind != "video":
            raise RoomError("invalid_argument", f"track {track_sid!r} is not a video track")
        if track.muted:
            return
        for sub in track.subscribers:
            sub.connection.send_video(track, rgb)

    def wants_video(self, p: ServerParticipant, track_sid: str) -> bool:
        """Whether anyone receives this video track (so decoding it is worth the CPU)."""
        track = p.tracks.get(track_sid)
        return track is not None and bool(track.subscribers) and not track.muted

    def route_packet(
        self,
        p: ServerParticipant | None,
        room: ServerRoom,
        packet: Any,
        destination_identities: Iterable[str] = (),
    ) -> int:
        """Relay a data packet (text/byte stream chunks, RPC, chat, user data) to the room,
        or only to `destination_identities` (looked up in this room only). The sender's
        identity is stamped by the server, so nobody can speak for someone else. `p` None:
        sent by the server API. Returns how many participants it went to."""
        if p is not None and not p.permissions.can_publish_data:
            raise RoomError("permission_denied", "the token lacks canPublishData")
        wanted = set(destination_identities)
        if not all(isinstance(i, str) for i in wanted):
            raise RoomError("invalid_argument", "destination_identities must be strings")
        message = {"type": "packet", "from": p.identity if p is not None else "", "packet": packet}
        sent = 0
        for other in list(room.participants.values()):
            if other is p or (wanted and other.identity not in wanted):
                continue
            other.connection.send_message(message)
            sent += 1
        return sent

    def _broadcast(
        self, room: ServerRoom, message: dict[str, Any], *, but: ServerParticipant | None = None
    ) -> None:
        for other in list(room.participants.values()):
            if other is not but:
                other.connection.send_message(message)

    # ------------------------------------------------------------------ shutdown

    def close_all(self, reason: str = SERVER_SHUTDOWN) -> None:
        for room in list(self.rooms.values()):
            for p in list(room.participants.values()):
                self._drop(p, reason, notify_room=False)
                p.connection.close(reason)
