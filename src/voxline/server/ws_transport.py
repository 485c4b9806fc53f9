"""`GET /rtc/ws?access_token=...`: a participant over one WebSocket. JSON text frames are
signalling; binary frames are raw PCM audio (or RGB video) framed by
`voxline.rtc._local_wire`. The transport of the `local` rtc backend, scripts and telephony
bridges: no codec, no jitter buffer, about a tenth of WebRTC's CPU."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from aiohttp import WSMsgType, web

from .._utils.aio import cancel_and_wait
from ..audio import AudioFrame
from ..rtc import _local_wire as wire
from . import signalling
from .auth import JoinDenied, authorize_request
from .rooms import (
    CLIENT_INITIATED,
    SIGNAL_CLOSE,
    RoomError,
    ServerParticipant,
    ServerTrack,
)

if TYPE_CHECKING:
    from .room_server import RoomServer

logger = logging.getLogger("voxline.server")

HEARTBEAT = 15.0
MAX_QUEUED_MEDIA = 200
"""Media frames queued for one slow client before the oldest are dropped (~2-4 s)."""


class Outbox:
    """What goes out on one connection, in order, from one writer task. Signalling is never
    dropped; media beyond `MAX_QUEUED_MEDIA` drops oldest-first so a stalled client costs
    bounded memory and catches up with live audio when it recovers."""

    def __init__(self) -> None:
        self._items: deque[str | bytes] = deque()
        self._media = 0
        self._wake = asyncio.Event()
        self.closing: str | None = None
        self.dropped = 0

    def put_message(self, message: dict[str, Any]) -> None:
        self._items.append(json.dumps(message, separators=(",", ":")))
        self._wake.set()

    def put_media(self, data: bytes) -> None:
        if self._media >= MAX_QUEUED_MEDIA:
            for i, item in enumerate(self._items):
                if isinstance(item, bytes):
                    del self._items[i]
                    self._media -= 1
                    self.dropped += 1
                    break
        self._items.append(data)
        self._media += 1
        self._wake.set()

    def close(self, reason: str) -> None:
        if self.closing is None:
            self.closing = reason
            self._wake.set()

    async def next(self) -> str | bytes | None:
        """The next item; None once closing and drained."""
        while not self._items:
            if self.closing is not None:
                return None
            self._wake.clear()
            await self._wake.wait()
        item = self._items.popleft()
        if isinstance(item, bytes):
            self._media -= 1
        return item


class WsConnection:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self.outbox = Outbox()

    def send_message(self, message: dict[str, Any]) -> None:
        self.outbox.put_message(message)

    def send_audio(self, track: ServerTrack, frame: AudioFrame) -> None:
        self.outbox.put_media(
            wire.encode_audio(track.sid, frame.sample_rate, frame.num_channels, frame.to_bytes())
        )

    def send_video(self, track: ServerTrack, rgb: npt.NDArray[np.uint8]) -> None:
        self.outbox.put_media(wire.encode_video(track.sid, rgb))

    def close(self, reason: str) -> None:
        self.outbox.put_message({"type": "disconnected", "reason": reason})
        self.outbox.close(reason)

    async def write_loop(self) -> None:
        try:
            while True:
                item = await self.outbox.next()
                if item is None:
                    break
                if isinstance(item, bytes):
                    await self._ws.send_bytes(item)
                else:
                    await self._ws.send_str(item)
        except (ConnectionError, RuntimeError):
            return  # the socket went away; the reader sees it and leaves
        await self._ws.close(code=1000, message=(self.outbox.closing or "").encode())


async def handle(server: RoomServer, request: web.Request) -> web.StreamResponse:
    try:
        grant = authorize_request(
            server.api_key, server.api_secret, request, request.query.get("room")
        )
    except JoinDenied as e:
        return e.response()
    if server.closing:
        return web.json_response({"code": "unavailable", "msg": "server shutting down"}, status=503)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=signalling.MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    connection = WsConnection(ws)
    auto_subscribe = request.query.get("auto_subscribe", "1") not in ("0", "false")
    try:
        participant = server.join(grant, connection, auto_subscribe=auto_subscribe, transport="ws")
    except RoomError as e:
        await ws.send_str(json.dumps({"type": "error", "code": e.code, "message": e.message}))
        await ws.close()
        return ws
    writer = asyncio.get_running_loop().create_task(connection.write_loop(), name="ws_writer")
    reason = SIGNAL_CLOSE
    try:
        reason = await _read_loop(server, participant, ws)
    finally:
        server.hub.leave(participant, reason)
        connection.outbox.close(participant.disconnect_reason or reason)
        try:
            await asyncio.wait_for(asyncio.shield(writer), 1.0)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            await cancel_and_wait(writer)
        if not ws.closed:
            await ws.close()
    return ws


async def _read_loop(server: RoomServer, p: ServerParticipant, ws: web.WebSocketResponse) -> str:
    """Read until the socket ends; the disconnect reason it ended with."""
    async for msg in ws:
        if not p.connected:
            break
        if msg.type == WSMsgType.TEXT:
            try:
                signalling.handle(server.hub, p, msg.data)
            except signalling.ClientLeft:
                return CLIENT_INITIATED
        elif msg.type == WSMsgType.BINARY:
            _media(server, p, msg.data)
        elif msg.type == WSMsgType.ERROR:
            break
    return SIGNAL_CLOSE


def _media(server: RoomServer, p: ServerParticipant, data: bytes) -> None:
    try:
        packet = wire.decode_media(data)
        if isinstance(packet, wire.AudioPacket):
            track = p.tracks.get(packet.track_sid)
            if track is not None and (
                packet.sample_rate != track.sample_rate or packet.num_channels != track.num_channels
            ):
                raise RoomError(
                    "invalid_argument",
                    f"audio for {track.sid} is {packet.sample_rate} Hz x {packet.num_channels}, "
                    f"published as {track.sample_rate} Hz x {track.num_channels}",
                )
            frame = AudioFrame(
                packet.pcm, packet.sample_rate, packet.num_channels, packet.samples_per_channel
            )
            server.hub.route_audio(p, packet.track_sid, frame)
        else:
            server.hub.route_video(p, packet.track_sid, packet.array())
    except (wire.WireError, RoomError) as e:
        code = e.code if isinstance(e, RoomError) else "malformed"
        message = e.message if isinstance(e, RoomError) else str(e)
        p.connection.send_message({"type": "error", "code": code, "message": message})
