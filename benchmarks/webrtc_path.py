"""The WebRTC path of the embedded room server: server CPU per call and mouth-to-ear latency.

    .venv/bin/python benchmarks/webrtc_path.py [--seconds 20] [--calls 1] [--prefetch 4 1]

For each server setting (`--prefetch`: aiortc audio receive buffer, in 20 ms packets; 4 is
aiortc's default, 1 voxline's), a `python -m voxline.server` child process serves `--calls`
rooms. In each room a WebRTC peer (aiortc, standing in for a browser: Opus both ways, the
`voxline` data channel) plays a 1 kHz, 60 ms beep every second into its microphone, and an
echo agent (a WebSocket PCM participant) sends every frame it receives straight back, so the
peer hears its own beeps through the full path:

    peer mic -> Opus/SRTP -> server decode (jitter buffer) -> room -> WS agent
             -> room -> server mix + Opus encode -> peer decode (jitter buffer 20 ms)

Then the same echo over the WebSocket PCM transport, for comparison.
Printed per setting: the server's CPU (its own process, psutil) per call as % of one core
while audio streams both ways; one-way latency mouth -> agent (beep sent to the encoder until
the agent receives its first loud frame); mouth-to-ear round trip (until the peer decodes the
echo). Everything runs on 127.0.0.1; all times use one process's loop clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from typing import Any

import aiohttp
import numpy as np
import psutil

from voxline.rtc import _local_wire as wire
from voxline.server import _aiortc_tuning
from voxline.server.tokens import mint_room_token
from voxline.server.webrtc_client import WebRtcParticipant

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"
RATE = 48_000
LOUD = 4000


def beep() -> np.ndarray:
    t = np.arange(int(0.06 * RATE)) / RATE
    return (np.sin(2 * np.pi * 1000 * t) * 0.5 * 32767).astype(np.int16)


def onsets(frames: list[tuple[float, np.ndarray]]) -> list[float]:
    found, loud = [], False
    for at, pcm in frames:
        now_loud = bool(np.abs(pcm).max() > LOUD)
        if now_loud and not loud:
            found.append(at)
        loud = now_loud
    return found


def latencies(sent: list[float], arrived: list[float], window: float = 0.9) -> list[float]:
    out = []
    for s in sent:
        after = [a for a in arrived if s <= a < s + window]
        if after:
            out.append((after[0] - s) * 1000)
    return out


class EchoAgent:
    """A WebSocket participant that sends every audio frame it hears straight back."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, np.ndarray]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, http_url: str, room: str, rate: int = RATE) -> None:
        token = mint_room_token(KEY, SECRET, room=room, identity="echo", kind="agent")
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(f"{http_url}/rtc/ws", params={"access_token": token})
        publish = {"type": "publish_track", "cid": 1, "name": "echo", "kind": "audio"}
        await self._ws.send_str(json.dumps(publish | {"sample_rate": rate, "num_channels": 1}))
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        own = ""
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                m = json.loads(msg.data)
                if m.get("cid") == 1:
                    own = m["track"]["sid"]
            elif msg.type == aiohttp.WSMsgType.BINARY and own:
                packet = wire.decode_media(msg.data)
                if isinstance(packet, wire.AudioPacket):
                    self.frames.append((loop.time(), np.frombuffer(packet.pcm, np.int16)))
                    await self._ws.send_bytes(
                        wire.encode_audio(own, packet.sample_rate, packet.num_channels, packet.pcm)
                    )

    async def aclose(self) -> None:
        await self._ws.close()
        await self._http.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def start_server(prefetch: int) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "voxline.server", "--port", "0"],
        *["--audio-prefetch", str(prefetch)],
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ, LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET),
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, line.split()[3]


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 10)


async def one_setting(prefetch: int, calls: int, seconds: float) -> dict[str, Any]:
    proc, http_url = await start_server(prefetch)
    try:
        server = psutil.Process(proc.pid)
        agents, peers = [], []
        for i in range(calls):
            agent = EchoAgent()
            await agent.start(http_url, f"call-{i}")
            peer = WebRtcParticipant(
                http_url, mint_room_token(KEY, SECRET, room=f"call-{i}", identity="user")
            )
            await peer.connect()
            agents.append(agent)
            peers.append(peer)
        await asyncio.sleep(1.0)  # ICE/DTLS settled, audio flowing both ways
        cpu0, loop = server.cpu_times(), asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(int(seconds)):
            for peer in peers:
                peer.microphone.play(beep())
            await asyncio.sleep(1.0)
        await asyncio.sleep(0.5)
        wall = loop.time() - t0
        cpu1 = server.cpu_times()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        one_way: list[float] = []
        round_trip: list[float] = []
        for agent, peer in zip(agents, peers):
            sent = peer.microphone.played_at
            one_way += latencies(sent, onsets(agent.frames))
            round_trip += latencies(sent, onsets(peer.received))
        for peer in peers:
            await peer.aclose()
        for agent in agents:
            await agent.aclose()
        return {
            "prefetch": prefetch,
            "calls": calls,
            "seconds": wall,
            "beeps": int(seconds) * calls,
            "cpu_s": cpu,
            "cpu_pct_per_call": 100 * cpu / wall / calls,
            "one_way": one_way,
            "round_trip": round_trip,
        }
    finally:
        await stop_server(proc)


async def websocket_setting(calls: int, seconds: float) -> dict[str, Any]:
    """The same echo over the WebSocket PCM transport (16 kHz mono, 20 ms frames)."""
    proc, http_url = await start_server(1)
    rate, n = 16000, 320
    try:
        server = psutil.Process(proc.pid)
        loop = asyncio.get_running_loop()
        agents, users = [], []
        for i in range(calls):
            agent = EchoAgent()
            await agent.start(http_url, f"ws-{i}", rate)
            token = mint_room_token(KEY, SECRET, room=f"ws-{i}", identity="user")
            http = aiohttp.ClientSession()
            ws = await http.ws_connect(f"{http_url}/rtc/ws", params={"access_token": token})
            publish = {"type": "publish_track", "cid": 1, "name": "mic", "kind": "audio"}
            await ws.send_str(json.dumps(publish | {"sample_rate": rate, "num_channels": 1}))
            users.append((http, ws))
            agents.append(agent)
        sids: list[str] = []
        heard: list[list[tuple[float, np.ndarray]]] = [[] for _ in users]

        async def listen(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    m = json.loads(msg.data)
                    if m.get("cid") == 1:
                        sids.append(m["track"]["sid"])
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    packet = wire.decode_media(msg.data)
                    if isinstance(packet, wire.AudioPacket):
                        heard[i].append((loop.time(), np.frombuffer(packet.pcm, np.int16)))

        listeners = [loop.create_task(listen(i, ws)) for i, (_, ws) in enumerate(users)]
        while len(sids) < calls:  # noqa: ASYNC110 (a few ms at start)
            await asyncio.sleep(0.01)
        t = np.arange(int(0.06 * rate)) / rate
        burst = (np.sin(2 * np.pi * 1000 * t) * 0.5 * 32767).astype(np.int16)
        cpu0, t0 = server.cpu_times(), loop.time()
        sent: list[float] = []
        for k in range(int(seconds * rate / n)):
            start = (k * n) % rate
            chunk = np.zeros(n, np.int16)
            if start < len(burst):
                chunk[: len(burst) - start] = burst[start : start + n]
                if start == 0:
                    sent.append(loop.time())
            for (_, ws), sid in zip(users, sids):
                await ws.send_bytes(wire.encode_audio(sid, rate, 1, chunk.tobytes()))
            await asyncio.sleep(max(0.0, t0 + (k + 1) * n / rate - loop.time()))
        await asyncio.sleep(0.5)
        wall = loop.time() - t0
        cpu1 = server.cpu_times()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        round_trip = [lat for h in heard for lat in latencies(sent, onsets(h))]
        for task in listeners:
            task.cancel()
        for http, ws in users:
            await ws.close()
            await http.close()
        for agent in agents:
            await agent.aclose()
        return {
            "cpu_pct_per_call": 100 * cpu / wall / calls,
            "cpu_s": cpu,
            "seconds": wall,
            "round_trip": round_trip,
            "beeps": len(sent) * calls,
        }
    finally:
        await stop_server(proc)


def describe(values: list[float]) -> str:
    if not values:
        return "no beep detected"
    return (
        f"median {statistics.median(values):.1f} ms "
        f"(min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--prefetch", type=int, nargs="+", default=[4, 1])
    args = parser.parse_args()
    # The peers in this process: loopback candidates, and a 20 ms receive buffer (a browser's
    # adaptive buffer sits at 20-30 ms on loopback).
    _aiortc_tuning.restrict_ice_to_loopback()
    _aiortc_tuning.set_audio_prefetch(1)
    print(f"WebRTC path, {args.calls} call(s), {args.seconds:.0f} s of audio both ways per call")
    for prefetch in args.prefetch:
        r = await one_setting(prefetch, args.calls, args.seconds)
        label = "aiortc default" if prefetch == 4 else "voxline default" if prefetch == 1 else ""
        print(f"\nserver audio receive buffer: prefetch={prefetch} ({prefetch * 20} ms) {label}")
        print(
            f"  server CPU: {r['cpu_s']:.2f} s over {r['seconds']:.1f} s = "
            f"{r['cpu_pct_per_call']:.1f} % of one core per call"
        )
        print(f"  beeps sent: {r['beeps']}")
        print(f"  mouth -> agent (one way):        {describe(r['one_way'])}")
        print(f"  mouth -> agent echo -> ear:      {describe(r['round_trip'])}")
    r = await websocket_setting(args.calls, args.seconds)
    print("\nWebSocket PCM transport (16 kHz mono, 20 ms frames, no codec, no jitter buffer)")
    print(
        f"  server CPU: {r['cpu_s']:.2f} s over {r['seconds']:.1f} s = "
        f"{r['cpu_pct_per_call']:.1f} % of one core per call"
    )
    print(f"  beeps sent: {r['beeps']}")
    print(f"  client -> agent echo -> client:  {describe(r['round_trip'])}")


if __name__ == "__main__":
    asyncio.run(main())
