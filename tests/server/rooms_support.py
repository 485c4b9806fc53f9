"""A raw WebSocket participant written from PROTOCOL.md alone, and a started RoomServer, for
the room server tests (real sockets on 127.0.0.1, ephemeral ports)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import numpy as np

from voxline.rtc import _local_wire as wire
from voxline.server import RoomServer

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"


@asynccontextmanager
async def room_server(**options: Any) -> AsyncIterator[RoomServer]:
    server = RoomServer(KEY, SECRET, **options)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.aclose()


class WsParticipant:
    """Collects every message and media frame; `wait()` for one matching a predicate."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession):
        self.ws = ws
        self._session = session
        self.messages: list[dict[str, Any]] = []
        self.audio: list[wire.AudioPacket] = []
        self.video: list[wire.VideoPacket] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._cid = 0

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.messages.append(json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    packet = wire.decode_media(msg.data)
                    if isinstance(packet, wire.AudioPacket):
                        self.audio.append(packet)
                    else:
                        self.video.append(packet)
                self._changed.set()
        finally:
            self.closed.set()
            self._changed.set()

    async def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                if self.closed.is_set():
                    raise AssertionError(f"closed without the message; got {self.messages}")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_type(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        return await self.wait(
            lambda m: m["type"] == kind and all(m.get(k) == v for k, v in match.items()),
            timeout,
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self._cid += 1
        cid = self._cid
        await self.send(message | {"cid": cid})
        reply = await self.wait(lambda m: m.get("cid") == cid)
        if reply["type"] == "error":
            raise RuntimeError(f"{reply['code']}: {reply['message']}")
        return reply

    async def publish_audio(self, sample_rate: int = 16000, name: str = "mic") -> str:
        reply = await self.request(
            {
                "type": "publish_track",
                "name": name,
                "kind": "audio",
                "source": "microphone",
                "sample_rate": sample_rate,
                "num_channels": 1,
            }
        )
        return str(reply["track"]["sid"])

    async def send_pcm(self, track_sid: str, pcm: np.ndarray, sample_rate: int) -> None:
        await self.ws.send_bytes(wire.encode_audio(track_sid, sample_rate, 1, pcm.tobytes()))

    def received_pcm(self, track_sid: str) -> np.ndarray:
        parts = [np.frombuffer(a.pcm, np.int16) for a in self.audio if a.track_sid == track_sid]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    async def aclose(self) -> None:
        await self.ws.close()
        await self._session.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def ws_join(server: RoomServer, token: str, **query: str) -> WsParticipant:
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(
            f"{server.http_url}/rtc/ws", params={"access_token": token, **query}
        )
    except BaseException:
        await session.close()
        raise
    p = WsParticipant(ws, session)
    await p.wait_type("join")
    return p


async def refused(server: RoomServer, token: str, **query: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a refused WebSocket handshake."""
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{server.http_url}/rtc/ws", params={"access_token": token, **query}
        ) as r:
            return r.status, await r.json()
