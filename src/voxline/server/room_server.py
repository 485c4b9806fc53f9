"""The embedded room server: rooms, their participants over WebSocket PCM and WebRTC, and
the agent dispatcher, on one aiohttp app bound to 127.0.0.1 by default.

    server = RoomServer("devkey", "secret")
    port = await server.start()          # workers register at server.ws_url
    token = server.token("demo", "alice")
    # browsers: POST {server.http_url}/rtc/webrtc/offer; agents and scripts:
    # Room().connect(server.room_url, token)   (voxline+ws://127.0.0.1:PORT)

A room comes into being when it is created (Twirp CreateRoom) or first joined; the dispatcher
sees it at that moment and dispatches agents to it, and the assignments it sends carry
`server.room_url`, so `JobContext.connect()` joins this server's room.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .._utils.aio import TaskSet
from ..rtc._local_wire import URL_SCHEME
from . import tokens
from .auth import JoinDenied, JoinGrant, authorize_request
from .dispatcher import Dispatcher
from .rooms import (
    ROOM_DELETED,
    SERVER_SHUTDOWN,
    TRACK_KINDS,
    Connection,
    RoomHub,
    ServerParticipant,
    ServerRoom,
    ServerTrack,
)

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

logger = logging.getLogger("voxline.server")

DEFAULT_AUDIO_PREFETCH = 1
STATIC_DIR = Path(__file__).parent / "static"


class RoomServer:
    """`audio_prefetch`: 20 ms packets aiortc buffers before decoding a browser's audio
    (aiortc's default is 4, i.e. 80 ms; 1 suits loopback and LAN). `loopback_ice`: offer
    only 127.0.0.1 as ICE candidate (default: when bound to a loopback address).
    As on LiveKit, a room nobody joins is deleted after `empty_timeout` seconds and a room
    whose last person left after `departure_timeout` (None: kept until deleted); agents do
    not keep a room open, so their jobs end with it (ROOM_DELETED).
    Other keyword arguments configure the `Dispatcher`."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        audio_prefetch: int = DEFAULT_AUDIO_PREFETCH,
        loopback_ice: bool | None = None,
        empty_timeout: float | None = 300.0,
        departure_timeout: float | None = 20.0,
        **dispatcher_options: Any,
    ) -> None:
        self.dispatcher = Dispatcher(api_key, api_secret, **dispatcher_options)
        self.dispatcher.room_server = self
        self.api_key = self.dispatcher.api_key
        self.api_secret = self.dispatcher.api_secret
        if not 0 <= audio_prefetch <= 16:
            raise ValueError(f"audio_prefetch must be 0..16 packets, got {audio_prefetch}")
        self.audio_prefetch = audio_prefetch
        self._loopback_ice = loopback_ice
        self.hub = RoomHub(on_room_created=self._room_created)
        self.hub.on("track_published", self._track_published)
        self.hub.on("participant_joined", self._participant_joined)
        self.hub.on("participant_left", self._participant_left)
        self.empty_timeout = empty_timeout
        self.departure_timeout = departure_timeout
        self._expiry: dict[str, asyncio.Task[None]] = {}
        self.tasks = TaskSet()
        self.peer_connections: set[RTCPeerConnection] = set()
        self.closing = False
        self._pending_agents: dict[str, Sequence[tuple[str, str]]] = {}
        self._host = ""
        app = self.dispatcher.app
        app.router.add_get("/rtc/ws", self._ws)
        app.router.add_get("/rtc/validate", self._validate)
        app.router.add_post("/rtc/webrtc/offer", self._offer)
        app.router.add_static("/playground/", STATIC_DIR)  # the playground page (static/)
        app.on_shutdown.append(self._on_shutdown)

    # ------------------------------------------------------------------ serving

    @property
    def app(self) -> web.Application:
        return self.dispatcher.app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on `host:port` (0: an ephemeral port); returns the bound port."""
        bound = await self.dispatcher.start(host, port)
        self._host = host
        self.dispatcher.room_url = self.room_url
        return bound

    @property
    def port(self) -> int:
        return self.dispatcher.port

    @property
    def http_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Where agent workers register (their LIVEKIT_URL)."""
        return self.dispatcher.url

    @property
    def room_url(self) -> str:
        """Where participants connect with the `local` rtc backend."""
        return f"{URL_SCHEME}://{self._host}:{self.port}"

    def token(
        self,
        room: str,
        identity: str,
        *,
        ttl: datetime.timedelta = datetime.timedelta(hours=6),
        **options: Any,
    ) -> str:
        """A room-join token signed with this server's key (see `tokens.mint_room_token`)."""
        return tokens.mint_room_token(
            self.api_key, self.api_secret, room=room, identity=identity, ttl=ttl, **options
        )

    def prepare_webrtc(self) -> None:
        """Apply the aiortc adjustments before a peer connection is made."""
        from . import _aiortc_tuning

        _aiortc_tuning.set_audio_prefetch(self.audio_prefetch)
        loopback = self._loopback_ice
        if loopback is None:
            with contextlib.suppress(ValueError):
                loopback = ipaddress.ip_address(self._host or "127.0.0.1").is_loopback
        if loopback:
            _aiortc_tuning.restrict_ice_to_loopback()

    async def aclose(self) -> None:
        """Disconnect everyone (SERVER_SHUTDOWN), close the peer connections, stop serving."""
        await self._shutdown()
        await self.dispatcher.aclose()

    async def _on_shutdown(self, app: web.Application) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.hub.close_all(SERVER_SHUTDOWN)
        await asyncio.sleep(0.05)  # let writers flush the `disconnected` messages
        await asyncio.gather(
            *(pc.close() for pc in list(self.peer_connections)), return_exceptions=True
        )
        self.peer_connections.clear()
        await self.tasks.aclose()

    # ------------------------------------------------------------------ rooms

    def create_room(
        self,
        name: str,
        *,
        metadata: str = "",
        agents: Sequence[tuple[str, str]] = (),
        max_participants: int = 0,
    ) -> ServerRoom:
        """Create a room (idempotent). `agents` ((agent_name, metadata) pairs) are dispatched
        explicitly; without them, workers registered with no agent name get the room."""
        if name not in self.hub.rooms:
            self._pending_agents[name] = tuple(agents)
        try:
            return self.hub.create_room(name, metadata=metadata, max_participants=max_participants)
        finally:
            self._pending_agents.pop(name, None)

    def delete_room(self, name: str) -> bool:
        """Delete a room: participants leave with ROOM_DELETED, agent jobs are terminated."""
        task = self._expiry.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        deleted = self.hub.delete_room(name)
        deleted = self.dispatcher.delete_room(name) or deleted
        if deleted:
            logger.info("room %s deleted (%s)", name, ROOM_DELETED)
        return deleted

    def join(
        self,
        grant: JoinGrant,
        connection: Connection,
        *,
        auto_subscribe: bool = True,
        transport: str = "",
        receives: tuple[str, ...] = TRACK_KINDS,
    ) -> ServerParticipant:
        if grant.room not in self.hub.rooms:
            self.create_room(grant.room, agents=grant.agents)
        return self.hub.join(
            grant.room,
            grant.identity,
            connection,
            name=grant.name,
            kind=grant.kind,
            metadata=grant.metadata,
            attributes=grant.attributes,
            permissions=grant.permissions,
            auto_subscribe=auto_subscribe,
            transport=transport,
            receives=receives,
        )

    def _room_created(self, room: ServerRoom) -> None:
        agents = self._pending_agents.get(room.name, ())
        record = self.dispatcher.create_room(room.name, metadata=room.metadata, agents=agents)
        room.sid = record.sid  # one sid for the room, whoever reports it
        self._expire_later(room, self.empty_timeout)

    def _participant_joined(self, p: ServerParticipant) -> None:
        if p.kind != "agent":
            task = self._expiry.pop(p.room.name, None)
            if task is not None:
                task.cancel()

    def _participant_left(self, p: ServerParticipant, reason: str) -> None:
        room = p.room
        if p.kind != "agent" and _unattended(room) and self.hub.rooms.get(room.name) is room:
            self._expire_later(room, self.departure_timeout)

    def _expire_later(self, room: ServerRoom, timeout: float | None) -> None:
        if timeout is None or self.closing:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to expire
            previous = self._expiry.pop(room.name, None)
            if previous is not None:
                previous.cancel()
            self._expiry[room.name] = self.tasks.create(
                self._expire(room, timeout), name=f"expire_{room.name}"
            )

    async def _expire(self, room: ServerRoom, timeout: float) -> None:
        await asyncio.sleep(timeout)
        if self.hub.rooms.get(room.name) is room and _unattended(room):
            self._expiry.pop(room.name, None)
            logger.info("room %s is empty: closing it", room.name)
            self.delete_room(room.name)

    def _track_published(self, track: ServerTrack) -> None:
        """LiveKit's publisher jobs: one per participant that starts publishing."""
        p = track.publisher
        if p.kind != "agent" and len(p.tracks) == 1:
            self.dispatcher.add_publisher(p.room.name, p.identity)

    # ------------------------------------------------------------------ routes

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        from . import ws_transport

        return await ws_transport.handle(self, request)

    async def _offer(self, request: web.Request) -> web.StreamResponse:
        from . import webrtc

        return await webrtc.handle_offer(self, request)

    async def _validate(self, request: web.Request) -> web.Response:
        """What a refused connection would have been told (clients call it after a failed
        WebSocket handshake, whose body they cannot read)."""
        try:
            authorize_request(self.api_key, self.api_secret, request, request.query.get("room"))
        except JoinDenied as e:
            return e.response()
        return web.Response(text="success")


def _unattended(room: ServerRoom) -> bool:
    """Nobody but agents (or nobody at all) is in the room."""
    return all(p.kind == "agent" for p in room.participants.values())
