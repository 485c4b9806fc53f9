"""WebRTC through the room server: aiortc peers on 127.0.0.1 stand in for browsers (Opus
both ways, the `voxline` data channel); a WebSocket participant is the other side."""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np
import pytest

from server.rooms_support import room_server, ws_join
from voxline.server import RoomServer
from voxline.server.webrtc_client import WebRtcError, WebRtcParticipant
from worker.harness import bounded

RATE = 48_000


def beeps(count: int, every: float = 0.3, length: float = 0.06, freq: float = 1000) -> np.ndarray:
    """`count` tone bursts `every` seconds apart: an envelope easy to recognise after Opus."""
    out = np.zeros(int(count * every * RATE), np.int16)
    t = np.arange(int(length * RATE)) / RATE
    burst = (np.sin(2 * np.pi * freq * t) * 0.5 * 32767).astype(np.int16)
    for i in range(count):
        start = int(i * every * RATE)
        out[start : start + len(burst)] = burst
    return out


def envelope(x: np.ndarray, rate: int) -> np.ndarray:
    hop = rate // 100
    n = len(x) // hop * hop
    return np.sqrt((x[:n].astype(np.float64).reshape(-1, hop) ** 2).mean(axis=1))


def best_envelope_match(sent: np.ndarray, received: np.ndarray, rate: int) -> tuple[float, float]:
    """(lag in seconds, correlation) of the sent 10 ms envelope inside the received one."""
    a, b = envelope(sent, rate), envelope(received, rate)
    assert len(b) >= len(a), f"received {len(b)} envelope frames, sent {len(a)}"
    best = (0, -1.0)
    for lag in range(len(b) - len(a) + 1):
        seg = b[lag : lag + len(a)]
        if seg.std() == 0:
            continue
        c = float(np.corrcoef(a, seg)[0, 1])
        if c > best[1]:
            best = (lag, c)
    return best[0] / 100, best[1]


async def browser(server: RoomServer, identity: str, **grants: object) -> WebRtcParticipant:
    server.prepare_webrtc()  # loopback-only ICE for this process's client peers too
    peer = WebRtcParticipant(server.http_url, server.token("demo", identity, **grants))
    await peer.connect()
    return peer


@bounded(40)
async def test_browser_audio_and_data_reach_a_websocket_participant_and_back() -> None:
    async with room_server() as server:
        agent = await ws_join(server, server.token("demo", "agent", kind="agent"))
        peer = await browser(server, "user")
        join = await peer.wait("join")
        assert join["participant"]["identity"] == "user"
        assert [p["identity"] for p in join["participants"]] == ["agent"]
        published = await agent.wait_type("track_published")
        track = published["track"]
        assert (track["source"], track["sample_rate"], track["num_channels"]) == (
            "microphone",
            48000,
            1,
        )
        # browser -> room: the microphone's beeps arrive, decoded, at the agent
        sent = beeps(6)
        peer.microphone.play(sent)
        for _ in range(300):
            if len(agent.received_pcm(track["sid"])) >= len(sent) + RATE // 2:
                break
            await asyncio.sleep(0.01)
        got = agent.received_pcm(track["sid"])
        _, correlation = best_envelope_match(sent, got, RATE)
        assert correlation > 0.9
        # room -> browser: the agent's 16 kHz speech is mixed into the browser's Opus track
        agent_sid = await agent.publish_audio(16000)
        rate = 16000
        t = np.arange(rate) / rate
        reply = (np.sin(2 * np.pi * 440 * t) * (t % 0.25 < 0.1) * 0.4 * 32767).astype(np.int16)
        before = len(peer.received)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, i in enumerate(range(0, len(reply), 320)):  # paced like an AudioSource
            await agent.send_pcm(agent_sid, reply[i : i + 320], rate)
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
        await asyncio.sleep(0.3)
        heard = np.concatenate([pcm for _, pcm in peer.received[before:]])
        reply48 = np.repeat(reply, 3)  # same envelope at 48 kHz
        _, correlation = best_envelope_match(reply48, heard, RATE)
        assert correlation > 0.9
        # data: the data channel carries the same messages as the WebSocket
        peer.send({"type": "packet", "packet": {"topic": "lk.chat", "text": "hello"}})
        got_packet = await agent.wait_type("packet")
        assert got_packet["from"] == "user" and got_packet["packet"]["text"] == "hello"
        await agent.request({"type": "packet", "packet": {"text": "hi there"}})
        assert (await peer.wait("packet"))["from"] == "agent"
        await agent.request({"type": "update_participant", "attributes": {"lk.agent.state": "x"}})
        update = await peer.wait("participant_updated")
        assert update["participant"]["attributes"] == {"lk.agent.state": "x"}
        await peer.leave()
        left = await agent.wait_type("participant_left", identity="user")
        assert left["reason"] == "CLIENT_INITIATED"
        await agent.aclose()


@bounded(40)
async def test_two_aiortc_peers_exchange_audio_and_data_through_the_server() -> None:
    async with room_server() as server:
        a = await browser(server, "a")
        b = await browser(server, "b")
        await a.wait("track_subscribed")
        await b.wait("track_subscribed")
        sent = beeps(5)
        start = len(b.received)
        a.microphone.play(sent)
        await asyncio.sleep(len(sent) / RATE + 0.5)
        heard = np.concatenate([pcm for _, pcm in b.received[start:]])
        _, correlation = best_envelope_match(sent, heard, RATE)
        assert correlation > 0.9
        # b hears a, and a does not hear itself
        a_heard = np.concatenate([pcm for _, pcm in a.received[start:]])
        assert np.abs(a_heard).max() < 500
        a.send({"type": "packet", "packet": {"n": 1}, "destination_identities": ["b"]})
        assert (await b.wait("packet"))["packet"] == {"n": 1}
        await a.aclose()  # no goodbye
        left = await b.wait("participant_left", identity="a", timeout=10)
        assert left["reason"] in ("SIGNAL_CLOSE", "CONNECTION_TIMEOUT")
        await b.aclose()


@bounded(30)
async def test_a_browser_without_can_publish_is_heard_by_nobody() -> None:
    async with room_server() as server:
        agent = await ws_join(server, server.token("demo", "agent"))
        peer = await browser(server, "listener", can_publish=False)
        error = await peer.wait("error")
        assert "canPublish" in error["message"]
        peer.microphone.play(beeps(3))
        await asyncio.sleep(1.0)
        assert agent.audio == []
        assert server.hub.rooms["demo"].participants["listener"].tracks == {}
        assert not [m for m in agent.messages if m["type"] == "track_published"]
        await peer.aclose()
        await agent.aclose()


@bounded(30)
async def test_offers_with_bad_tokens_or_bodies_are_refused() -> None:
    async with room_server() as server:
        server.prepare_webrtc()
        forged = WebRtcParticipant(server.http_url, "a.b.c")
        with pytest.raises(WebRtcError, match="401 unauthenticated: invalid token"):
            await forged.connect()
        other_room = WebRtcParticipant(server.http_url + "/", server.token("room-a", "x"))
        other_room._url += "?room=room-b"
        with pytest.raises(WebRtcError, match=r"403 permission_denied.*room-a"):
            await other_room.connect()
        headers = {"Authorization": f"Bearer {server.token('demo', 'x')}"}
        async with aiohttp.ClientSession() as http:
            url = f"{server.http_url}/rtc/webrtc/offer"
            async with http.post(url, data=b"nope", headers=headers) as r:
                assert r.status == 400 and "JSON" in (await r.json())["msg"]
            async with http.post(url, json={"type": "answer", "sdp": "v=0"}, headers=headers) as r:
                assert r.status == 400
            offer = {"type": "offer", "sdp": "v=0\r\n"}
            async with http.post(url, json=offer, headers=headers) as r:
                assert r.status == 400 and "no data channel" in (await r.json())["msg"]
            offer = {"type": "offer", "sdp": "v=0\r\nm=application 9 garbage\r\n"}
            async with http.post(url, json=offer, headers=headers) as r:
                assert r.status == 400 and "cannot answer" in (await r.json())["msg"]
        assert server.hub.rooms == {}
        assert server.peer_connections == set()


@bounded(30)
async def test_deleting_the_room_disconnects_the_browser_with_room_deleted() -> None:
    async with room_server() as server:
        peer = await browser(server, "user")
        await peer.wait("join")
        assert server.delete_room("demo")
        gone = await peer.wait("disconnected")
        assert gone["reason"] == "ROOM_DELETED"
        for _ in range(100):
            if peer.pc.connectionState == "closed":
                break
            await asyncio.sleep(0.05)
        assert peer.pc.connectionState == "closed"
        await peer.aclose()


@bounded(30)
async def test_browser_video_reaches_a_websocket_subscriber_as_rgb() -> None:
    async with room_server() as server:
        agent = await ws_join(server, server.token("demo", "agent", kind="agent"))
        server.prepare_webrtc()
        peer = WebRtcParticipant(server.http_url, server.token("demo", "user"))
        await peer.connect(camera=(200, 40, 40))
        camera = await agent.wait(
            lambda m: m["type"] == "track_published" and m["track"]["kind"] == "video"
        )
        assert camera["track"]["source"] == "camera"
        for _ in range(200):
            if agent.video:
                break
            await asyncio.sleep(0.05)
        frame = agent.video[-1]
        assert frame.track_sid == camera["track"]["sid"]
        assert (frame.width, frame.height) == (320, 240)
        mean = frame.array().reshape(-1, 3).mean(axis=0)
        assert abs(mean[0] - 200) < 20 and abs(mean[1] - 40) < 20 and abs(mean[2] - 40) < 20
        await peer.leave()
        await agent.aclose()


async def one_way_ms(prefetch: int) -> float:
    """Median time from a beep entering the peer's encoder to its arrival at the agent."""
    async with room_server(audio_prefetch=prefetch) as server:
        agent = await ws_join(server, server.token("demo", "agent", kind="agent"))
        peer = await browser(server, "user")
        published = await agent.wait_type("track_published")
        sid = published["track"]["sid"]
        loop = asyncio.get_running_loop()
        delays: list[float] = []
        for i in range(4):
            seen = len([a for a in agent.audio if a.track_sid == sid])
            peer.microphone.play(beeps(1))
            deadline = loop.time() + 1.0
            arrived = None
            while arrived is None and loop.time() < deadline:
                frames = [a for a in agent.audio if a.track_sid == sid][seen:]
                seen += len(frames)
                if any(np.abs(np.frombuffer(f.pcm, np.int16)).max() > 4000 for f in frames):
                    arrived = loop.time()
                await asyncio.sleep(0.002)
            assert arrived is not None and len(peer.microphone.played_at) == i + 1
            delays.append((arrived - peer.microphone.played_at[i]) * 1000)
            await asyncio.sleep(0.3)  # the beep is over before the next one
        await peer.aclose()
        await agent.aclose()
    return float(np.median(delays))


@bounded(40)
async def test_the_tuned_receive_buffer_takes_60_ms_off_the_path() -> None:
    """aiortc holds 4 packets (80 ms) of received audio; the server's default holds 1."""
    default = await one_way_ms(4)
    tuned = await one_way_ms(1)
    assert default - tuned > 45  # 3 packets less, give or take scheduling
    assert tuned < 60
