"""A stand-in for `livekit.rtc` (Room, RoomOptions, ParticipantKind) with no network, to
test the LiveKit room adapter and the JobContext calls built on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxline.worker import LiveKitRoomConnector, RoomConnector


class ParticipantKind:
    PARTICIPANT_KIND_STANDARD = 0
    PARTICIPANT_KIND_INGRESS = 1
    PARTICIPANT_KIND_EGRESS = 2
    PARTICIPANT_KIND_SIP = 3
    PARTICIPANT_KIND_AGENT = 4


@dataclass
class RoomOptions:
    auto_subscribe: bool = True


@dataclass
class Participant:
    identity: str
    kind: int


class Room:
    """Records what was asked of it; tests drive its events from any thread."""

    rooms: list[Room] = []

    def __init__(self) -> None:
        self.remote_participants: dict[str, Participant] = {}
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self._connected = False
        self.url = ""
        self.token = ""
        self.options: RoomOptions | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        Room.rooms.append(self)

    async def connect(self, url: str, token: str, *, options: RoomOptions) -> None:
        self.url, self.token, self.options = url, token, options
        self.loop = asyncio.get_running_loop()
        self._connected = True

    def isconnected(self) -> bool:
        return self._connected

    async def disconnect(self) -> None:
        self._drop("client initiated")

    def on(self, event: str, callback: Callable[..., Any]) -> None:
        self._handlers.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callable[..., Any]) -> None:
        self._handlers.get(event, []).remove(callback)

    def _emit(self, event: str, *args: Any) -> None:
        for cb in list(self._handlers.get(event, [])):
            cb(*args)

    def _join(self, identity: str, kind: int) -> None:
        p = Participant(identity, kind)
        self.remote_participants[identity] = p
        self._emit("participant_connected", p)

    def _drop(self, reason: str) -> None:
        if self._connected:
            self._connected = False
            self._emit("disconnected", reason)

    # from the test's thread
    def join(self, identity: str, kind: int = ParticipantKind.PARTICIPANT_KIND_STANDARD) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._join, identity, kind)

    def server_disconnect(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._drop, "server shut down")


class _Module:
    Room = Room
    RoomOptions = RoomOptions
    ParticipantKind = ParticipantKind


def connector() -> RoomConnector:
    return LiveKitRoomConnector(_Module)
