"""The `local` backend: a room on voxline's embedded server (`voxline.server.RoomServer`),
reached over its WebSocket transport.

    room = Room()
    await room.connect("voxline+ws://127.0.0.1:7880", token)

One WebSocket carries everything (wire format in `_local_wire`, messages in
`voxline/server/PROTOCOL.md`): JSON signalling, raw 16-bit PCM audio and RGB video in
binary frames, and data packets, text/byte streams and RPC as `_packets` packets inside
JSON `packet` messages (`{"h": header, "p": base64 payload}`), so a browser reads them too.
Sends never block the audio path: they are queued and written by one task, media dropping
oldest-first if the socket stalls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections import deque
from typing import Any

import aiohttp
import numpy as np

from .._utils.aio import TaskSet
from ..audio import AudioFrame
from ..video import VideoFrame
from . import _local_wire as wire
from . import _packets
from ._backend import (
    BackendEvents,
    ConnectOptions,
    JoinResult,
    ParticipantInfo,
    StreamSink,
    TrackInfo,
)
from ._types import ConnectError, DisconnectReason, ParticipantKind, TrackKind, TrackSource
from .data_stream import StreamHeader, StreamKind

__all__ = ["LocalBackend", "LocalRequestError", "create_backend"]

logger = logging.getLogger("voxline.rtc")

REQUEST_TIMEOUT = 10.0
MAX_QUEUED_MEDIA = 200
_SOURCES = {
    "unknown": TrackSource.SOURCE_UNKNOWN,
    "camera": TrackSource.SOURCE_CAMERA,
    "microphone": TrackSource.SOURCE_MICROPHONE,
    "screen_share": TrackSource.SOURCE_SCREENSHARE,
    "screen_share_audio": TrackSource.SOURCE_SCREENSHARE_AUDIO,
}
_SOURCE_NAMES = {v: k for k, v in _SOURCES.items()}


class LocalRequestError(RuntimeError):
    """The server refused a request (`code` is its reason, e.g. `invalid_argument`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _reason(name: Any) -> DisconnectReason:
    try:
        return DisconnectReason[str(name)]
    except KeyError:
        return DisconnectReason.UNKNOWN_REASON


def _track(info: dict[str, Any], subscribed: bool = False) -> TrackInfo:
    return TrackInfo(
        sid=str(info["sid"]),
        name=str(info.get("name", "")),
        kind=TrackKind.KIND_VIDEO if info.get("kind") == "video" else TrackKind.KIND_AUDIO,
        source=_SOURCES.get(str(info.get("source", "unknown")), TrackSource.SOURCE_UNKNOWN),
        muted=bool(info.get("muted", False)),
        sample_rate=int(info.get("sample_rate", 0)),
        num_channels=int(info.get("num_channels", 0)),
        subscribed=subscribed,
    )


class LocalBackend:
    """One Room's WebSocket connection to the embedded server."""

    def __init__(self, url: str = "") -> None:
        self._url = url
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self._events: BackendEvents | None = None
        self._endpoint: _packets.PacketEndpoint | None = None
        self._tasks = TaskSet()
        self._outbox: deque[str | bytes] = deque()
        self._media_queued = 0
        self._wake = asyncio.Event()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_cid = 0
        self._identity = ""
        self._permissions: dict[str, Any] = {}
        self._receives_media = True
        self._present: set[str] = set()
        self._track_owner: dict[str, str] = {}
        self._ended = False

    # ------------------------------------------------------------------ connecting

    async def connect(
        self, url: str, token: str | None, options: ConnectOptions, events: BackendEvents
    ) -> JoinResult:
        if self._ws is not None:
            raise ConnectError("this local backend is already connected")
        if not token:
            raise ConnectError("the local backend needs an access token (a room-join JWT)")
        try:
            ws_url = wire.websocket_url(url)
        except ValueError as e:
            raise ConnectError(str(e)) from None
        params = {"access_token": token, "auto_subscribe": "1" if options.auto_subscribe else "0"}
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                ws_url, params=params, heartbeat=15.0, max_msg_size=8 * 1024 * 1024
            )
            join = await self._receive_join(options.connect_timeout)
        except aiohttp.WSServerHandshakeError as e:
            why = await self._refusal(ws_url, params)
            await self._close_http()
            raise ConnectError(f"the room server refused the connection ({e.status}): {why}") from e
        except (aiohttp.ClientError, OSError) as e:
            await self._close_http()
            raise ConnectError(f"cannot reach the room server at {url}: {e}") from e
        except BaseException:
            await self._close_http()
            raise
        self._events = events
        local = join["participant"]
        self._identity = str(local["identity"])
        self._permissions = dict(local.get("permissions") or {})
        self._receives_media = options.auto_subscribe and bool(
            self._permissions.get("can_subscribe", True)
        )
        remotes = [self._participant(p, self._receives_media) for p in join["participants"]]
        self._present = {p.identity for p in remotes}
        self._endpoint = _packets.PacketEndpoint(
            self._send_packet, events, is_present=lambda identity: identity in self._present
        )
        self._tasks.create(self._read_loop(events, options.connect_timeout), name="local_read")
        self._tasks.create(self._write_loop(), name="local_write")
        room = join["room"]
        return JoinResult(
            room_name=str(room["name"]),
            room_sid=str(room.get("sid", "")),
            room_metadata=str(room.get("metadata", "")),
            local=self._participant(local, False),
            remotes=remotes,
        )

    async def _receive_join(self, timeout: float) -> dict[str, Any]:
        assert self._ws is not None
        msg = await self._ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectError(f"the room server closed the connection before joining ({msg.type})")
        first = json.loads(msg.data)
        if first.get("type") == "error":
            raise ConnectError(f"the room server refused to join: {first.get('message')}")
        if first.get("type") != "join":
            raise ConnectError(f"expected a join message first, got {first.get('type')!r}")
        return dict(first)

    async def _refusal(self, ws_url: str, params: dict[str, str]) -> str:
        """The server's reason for a refused handshake (a WebSocket client cannot read the
        refusal's body, so ask `/rtc/validate`, as LiveKit clients do)."""
        validate = ws_url.replace("ws", "http", 1).rsplit("/ws", 1)[0] + "/validate"
        assert self._http is not None
        try:
            async with self._http.get(validate, params=params) as r:
                body = await r.json(content_type=None)
                return str(body.get("msg", body)) if isinstance(body, dict) else str(body)
        except (aiohttp.ClientError, ValueError) as e:
            return f"(no reason given: {e})"

    def _participant(self, info: dict[str, Any], subscribed: bool) -> ParticipantInfo:
        tracks = [
            _track(t, subscribed and (t.get("kind") in ("audio", "video")))
            for t in info.get("tracks", [])
        ]
        for t in tracks:
            self._track_owner[t.sid] = str(info["identity"])
        return ParticipantInfo(
            identity=str(info["identity"]),
            name=str(info.get("name", "")),
            kind=ParticipantKind.parse(str(info.get("kind", "standard"))),
            sid=str(info.get("sid", "")),
            metadata=str(info.get("metadata", "")),
            attributes={str(k): str(v) for k, v in (info.get("attributes") or {}).items()},
            tracks=tracks,
        )

    # ------------------------------------------------------------------ sending

    def _put(self, item: str | bytes) -> None:
        if self._ended:
            return
        if isinstance(item, bytes):
            if self._media_queued >= MAX_QUEUED_MEDIA:
                for i, queued in enumerate(self._outbox):
                    if isinstance(queued, bytes):
                        del self._outbox[i]
                        self._media_queued -= 1
                        break
            self._media_queued += 1
        self._outbox.append(item)
        self._wake.set()

    def _send(self, message: dict[str, Any]) -> None:
        self._put(json.dumps(message, separators=(",", ":")))

    async def _write_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            while not ws.closed:
                while not self._outbox:
                    self._wake.clear()
                    await self._wake.wait()
                item = self._outbox.popleft()
                if isinstance(item, bytes):
                    self._media_queued -= 1
                    await ws.send_bytes(item)
                else:
                    await ws.send_str(item)

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._ws is None or self._ended:
            raise ConnectionError("the local backend is not connected")
        self._next_cid += 1
        cid = self._next_cid
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        try:
            self._send(message | {"cid": cid})
            reply = await asyncio.wait_for(fut, REQUEST_TIMEOUT)
        finally:
            self._pending.pop(cid, None)
        if reply["type"] == "error":
            code, text = str(reply.get("code")), str(reply.get("message"))
            if code == "permission_denied":
                raise PermissionError(f"{self._identity!r}: {text}")
            raise LocalRequestError(code, text)
        return reply

    # ------------------------------------------------------------------ receiving

    async def _read_loop(self, events: BackendEvents, connect_timeout: float) -> None:
        ws = self._ws
        assert ws is not None
        # The room handles its JoinResult after connect() returns; nothing may reach it
        # before (see the Backend guide), so wait until it says it is connected.
        is_connected = getattr(events, "isconnected", None)
        if callable(is_connected):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + connect_timeout
            while not is_connected() and loop.time() < deadline:  # noqa: ASYNC110 (no event)
                await asyncio.sleep(0.001)
        reason = DisconnectReason.SIGNAL_CLOSE
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    told = self._on_message(events, json.loads(msg.data))
                    if told is not None:
                        reason = told
                        break
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self._on_media(events, msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        except (aiohttp.ClientError, ConnectionError) as e:
            logger.warning("room connection lost: %s", e)
        if not self._ended:
            self._end()
            events.on_disconnected(reason)
            self._tasks.create(self._close_http(), name="local_close")

    def _on_message(self, events: BackendEvents, m: dict[str, Any]) -> DisconnectReason | None:
        """Apply one server message; the disconnect reason when the server ends the link."""
        kind = m.get("type")
        if kind == "packet":
            endpoint = self._endpoint
            packet = m.get("packet")
            if endpoint is not None and isinstance(packet, dict):
                try:
                    data = _packets.encode(dict(packet["h"]), base64.b64decode(packet.get("p", "")))
                except (KeyError, TypeError, ValueError) as e:
                    logger.warning("dropping a malformed packet from %r: %s", m.get("from"), e)
                    return None
                endpoint.receive(str(m.get("from", "")), data)
        elif kind == "response" or (kind == "error" and "cid" in m):
            fut = self._pending.get(m.get("cid", -1))
            if fut is not None and not fut.done():
                fut.set_result(m)
        elif kind == "participant_joined":
            info = self._participant(m["participant"], self._receives_media)
            self._present.add(info.identity)
            events.on_participant_joined(info)
        elif kind == "participant_left":
            identity = str(m["identity"])
            self._present.discard(identity)
            if self._endpoint is not None:
                self._endpoint.participant_left(identity)
            events.on_participant_left(identity, _reason(m.get("reason")))
        elif kind == "participant_updated":
            info = m["participant"]
            events.on_participant_updated(
                str(info["identity"]),
                name=str(info.get("name", "")),
                metadata=str(info.get("metadata", "")),
                attributes={str(k): str(v) for k, v in (info.get("attributes") or {}).items()},
            )
        elif kind == "track_published":
            track = _track(m["track"], self._receives_media)
            self._track_owner[track.sid] = str(m["identity"])
            events.on_track_published(str(m["identity"]), track)
        elif kind == "track_unpublished":
            self._track_owner.pop(str(m["track_sid"]), None)
            events.on_track_unpublished(str(m["identity"]), str(m["track_sid"]))
        elif kind == "track_subscribed":
            events.on_track_subscribed(str(m["identity"]), str(m["track_sid"]))
        elif kind == "track_unsubscribed":
            events.on_track_unsubscribed(str(m["identity"]), str(m["track_sid"]))
        elif kind == "room_updated":
            events.on_room_updated(metadata=str(m["room"].get("metadata", "")))
        elif kind == "disconnected":
            return _reason(m.get("reason"))
        elif kind == "error":
            logger.warning("room server: %s: %s", m.get("code"), m.get("message"))
        return None

    def _on_media(self, events: BackendEvents, data: bytes) -> None:
        try:
            packet = wire.decode_media(data)
        except wire.WireError as e:
            logger.warning("dropping a malformed media frame: %s", e)
            return
        identity = self._track_owner.get(packet.track_sid, "")
        if isinstance(packet, wire.AudioPacket):
            frame = AudioFrame(
                packet.pcm, packet.sample_rate, packet.num_channels, packet.samples_per_channel
            )
            events.on_audio_frame(identity, packet.track_sid, frame)
        else:
            events.on_video_frame(identity, packet.track_sid, VideoFrame(packet.array()))

    # ------------------------------------------------------------------ Backend

    def _end(self) -> None:
        self._ended = True
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the room connection ended"))
        if self._endpoint is not None:
            self._endpoint.close()

    async def _close_http(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    async def disconnect(self) -> None:
        """Leave (others see CLIENT_INITIATED)."""
        ws = self._ws
        if ws is None or self._ended:
            await self._close_http()
            if asyncio.current_task() not in self._tasks.tasks:
                await self._tasks.aclose()
            return
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await ws.send_str(json.dumps({"type": "leave"}))
        self._end()
        await self._close_http()
        if self._endpoint is not None:
            await self._endpoint.aclose()
        await self._tasks.aclose()

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        await self._request({"type": "update_participant", "attributes": dict(attributes)})

    async def set_metadata(self, metadata: str) -> None:
        await self._request({"type": "update_participant", "metadata": metadata})

    async def set_name(self, name: str) -> None:
        await self._request({"type": "update_participant", "name": name})

    async def publish_track(self, track: TrackInfo) -> TrackInfo:
        video = track.kind == TrackKind.KIND_VIDEO
        reply = await self._request(
            {
                "type": "publish_track",
                "name": track.name,
                "kind": "video" if video else "audio",
                "source": _SOURCE_NAMES.get(TrackSource(track.source), "unknown"),
                "sample_rate": 0 if video else track.sample_rate,
                "num_channels": 0 if video else track.num_channels,
            }
        )
        return _track(reply["track"])

    async def unpublish_track(self, sid: str) -> None:
        await self._request({"type": "unpublish_track", "track_sid": sid})

    async def set_subscribed(self, identity: str, sid: str, subscribed: bool) -> None:
        await self._request({"type": "subscribe", "track_sid": sid, "subscribe": subscribed})

    def send_audio_frame(self, sid: str, frame: AudioFrame) -> None:
        self._put(wire.encode_audio(sid, frame.sample_rate, frame.num_channels, frame.to_bytes()))

    def send_video_frame(self, sid: str, frame: VideoFrame) -> None:
        self._put(wire.encode_video(sid, np.asarray(frame.data, dtype=np.uint8)))

    # ------------------------------------------------------------------ data

    def _check_data_grant(self) -> None:
        if not self._permissions.get("can_publish_data", True):
            raise PermissionError(f"{self._identity!r} may not send data (no canPublishData)")

    async def _send_packet(self, data: bytes, destinations: list[str] | None) -> None:
        if self._ended or self._ws is None:
            raise ConnectionError("the local backend is not connected")
        if destinations is not None and not destinations:
            return
        header, payload = _packets.decode(data)
        packet = {"h": header, "p": base64.b64encode(payload).decode("ascii")}
        self._send(
            {"type": "packet", "packet": packet, "destination_identities": destinations or []}
        )

    def _endpoint_or_raise(self) -> _packets.PacketEndpoint:
        if self._endpoint is None or self._ended:
            raise ConnectionError("the local backend is not connected")
        return self._endpoint

    async def publish_data(
        self, payload: bytes, *, topic: str, reliable: bool, destinations: list[str] | None
    ) -> None:
        self._check_data_grant()
        await self._endpoint_or_raise().publish_data(
            payload, topic=topic, reliable=reliable, destinations=destinations
        )

    async def open_stream(self, header: StreamHeader, destinations: list[str] | None) -> StreamSink:
        self._check_data_grant()
        return await self._endpoint_or_raise().open_stream(header, destinations)

    def watch_stream_topic(self, topic: str, kind: StreamKind) -> None:
        return None  # every packet reaches the room, which drops topics nobody handles

    async def perform_rpc(
        self, destination: str, method: str, payload: str, response_timeout: float
    ) -> str:
        self._check_data_grant()
        return await self._endpoint_or_raise().perform_rpc(
            destination, method, payload, response_timeout
        )

    def watch_rpc_method(self, method: str, registered: bool) -> None:
        return None

    async def delete_room(self) -> None:
        raise NotImplementedError(
            "a room participant cannot delete its room on the embedded server: call "
            "RoomService.DeleteRoom with a roomCreate token (ctx.api.room.delete_room)"
        )


def create_backend(url: str) -> LocalBackend:
    return LocalBackend(url)
