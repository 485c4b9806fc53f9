"""`ctx.room`: the assigned room, and the pluggable backend that connects to it.

`ctx.connect()` connects a `voxline.rtc.Room` to the job's URL with the job's token; the URL
scheme picks the transport (`voxline+ws://` the embedded server, `ws(s)://` a LiveKit server,
`memory://` an in-process hub). Another connector can be plugged in with
`set_room_connector(factory)` or `AgentServer(room_connector=...)`, e.g.
`VoxlineRoomConnector(hub.backend)` for jobs in a `MemoryHub`.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from livekit.protocol import models


class RoomBackendUnavailableError(RuntimeError):
    """No room backend can connect: neither one was plugged in nor `livekit` installed."""


class ConnectedRoom(Protocol):
    """A room a job is connected to, whatever the transport."""

    @property
    def native(self) -> Any:
        """The backend's own room object (e.g. a `livekit.rtc.Room`)."""

    def isconnected(self) -> bool: ...

    async def disconnect(self) -> None: ...

    async def wait_for_participant(
        self, *, identity: str | None = None, kind: Any = None
    ) -> Any: ...

    def on_disconnected(self, callback: Callable[[], None]) -> None: ...


class RoomConnector(Protocol):
    async def connect(self, url: str, token: str, **options: Any) -> ConnectedRoom: ...


RoomConnectorFactory = Callable[[], RoomConnector]

_default_factory: RoomConnectorFactory | None = None


def set_room_connector(factory: RoomConnectorFactory | None) -> None:
    """Make `factory` the room backend of jobs in this process (None: back to auto)."""
    global _default_factory
    _default_factory = factory


def default_room_connector() -> RoomConnector:
    """The plugged-in connector, else voxline's rooms (backend chosen by URL scheme)."""
    if _default_factory is not None:
        return _default_factory()
    return VoxlineRoomConnector()


_AUTO_SUBSCRIBE_OFF = ("subscribe_none", "AutoSubscribe.SUBSCRIBE_NONE")


class VoxlineRoomConnector:
    """Connects a `voxline.rtc.Room`; `backend_factory` overrides the choice by URL scheme
    (e.g. `hub.backend` for a MemoryHub)."""

    def __init__(self, backend_factory: Callable[[], Any] | None = None) -> None:
        self._backend_factory = backend_factory

    async def connect(self, url: str, token: str, **options: Any) -> ConnectedRoom:
        from .. import rtc

        auto = options.pop("auto_subscribe", True)
        auto_subscribe = str(auto) not in _AUTO_SUBSCRIBE_OFF and bool(auto)
        room_options = rtc.RoomOptions(auto_subscribe=auto_subscribe)
        if "connect_timeout" in options:
            room_options.connect_timeout = float(options.pop("connect_timeout"))
        if options:
            raise TypeError(
                f"ctx.connect() options not supported by voxline rooms: {', '.join(options)} "
                "(supported: auto_subscribe, connect_timeout)"
            )
        backend = self._backend_factory() if self._backend_factory is not None else None
        room = rtc.Room(backend=backend)
        await room.connect(url, token, options=room_options)
        return LiveKitConnectedRoom(room, rtc)  # same room API, so the same wrapper


class LiveKitRoomConnector:
    """Connects with `livekit.rtc.Room` (or any module with the same `Room`,
    `RoomOptions` and `ParticipantKind` API, which is how it is tested)."""

    def __init__(self, rtc: Any = None) -> None:
        self._rtc = rtc if rtc is not None else importlib.import_module("livekit.rtc")

    async def connect(self, url: str, token: str, **options: Any) -> ConnectedRoom:
        auto_subscribe = bool(options.pop("auto_subscribe", True))
        room = self._rtc.Room()
        room_options = self._rtc.RoomOptions(auto_subscribe=auto_subscribe, **options)
        await room.connect(url, token, options=room_options)
        return LiveKitConnectedRoom(room, self._rtc)


class LiveKitConnectedRoom:
    def __init__(self, room: Any, rtc: Any) -> None:
        self._room = room
        self._rtc = rtc

    @property
    def native(self) -> Any:
        return self._room

    def isconnected(self) -> bool:
        return bool(self._room.isconnected())

    async def disconnect(self) -> None:
        await self._room.disconnect()

    def on_disconnected(self, callback: Callable[[], None]) -> None:
        self._room.on("disconnected", lambda *_: callback())

    def _default_kinds(self) -> list[Any]:
        kinds = getattr(self._rtc, "ParticipantKind", None)
        names = ("PARTICIPANT_KIND_STANDARD", "PARTICIPANT_KIND_SIP", "PARTICIPANT_KIND_CONNECTOR")
        return [getattr(kinds, n) for n in names if hasattr(kinds, n)]

    async def wait_for_participant(self, *, identity: str | None = None, kind: Any = None) -> Any:
        """The first remote participant matching `identity` and `kind` (a kind or a list of
        kinds; default: people and phone callers, not other agents), present or to come."""
        if kind is None:
            kinds: list[Any] = self._default_kinds()
        elif isinstance(kind, Sequence) and not isinstance(kind, str):
            kinds = list(kind)
        else:
            kinds = [kind]

        def matches(p: Any) -> bool:
            if identity is not None and p.identity != identity:
                return False
            return not kinds or p.kind in kinds

        for p in list(self._room.remote_participants.values()):
            if matches(p):
                return p
        if not self.isconnected():
            raise RuntimeError("the room disconnected before the participant joined")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_connected(p: Any) -> None:
            if matches(p) and not fut.done():
                fut.set_result(p)

        def on_disconnected(*_: Any) -> None:
            if not fut.done():
                fut.set_exception(
                    RuntimeError("the room disconnected before the participant joined")
                )

        self._room.on("participant_connected", on_connected)
        self._room.on("disconnected", on_disconnected)
        try:
            return await fut
        finally:
            self._room.off("participant_connected", on_connected)
            self._room.off("disconnected", on_disconnected)


class JobRoom:
    """`ctx.room`: the assigned room's name and info before `ctx.connect()`; after it,
    every other attribute is the connected backend room's (e.g. `local_participant`)."""

    def __init__(self, info: models.Room, *, url: str, token: str) -> None:
        self._info = info
        self._url = url
        self._token = token
        self._connected: ConnectedRoom | None = None

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def sid(self) -> str:
        return self._info.sid

    @property
    def metadata(self) -> str:
        return self._info.metadata

    @property
    def info(self) -> models.Room:
        return self._info

    @property
    def url(self) -> str:
        return self._url

    @property
    def token(self) -> str:
        return self._token

    @property
    def connection(self) -> ConnectedRoom | None:
        return self._connected

    @property
    def native(self) -> Any:
        if self._connected is None:
            raise RuntimeError("the room is not connected: await ctx.connect() first")
        return self._connected.native

    def isconnected(self) -> bool:
        return self._connected is not None and self._connected.isconnected()

    def _attach(self, connected: ConnectedRoom) -> None:
        self._connected = connected

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        connected = self.__dict__.get("_connected")
        if connected is None:
            raise AttributeError(
                f"ctx.room.{name} is only available once the room is connected "
                "(await ctx.connect())"
            )
        return getattr(connected.native, name)

    def __repr__(self) -> str:
        return f"JobRoom(name={self.name!r}, connected={self.isconnected()})"
