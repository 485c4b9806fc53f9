"""The `local` backend: `rtc.Room`s on a real embedded RoomServer, over WebSockets on
127.0.0.1 (real time, real sockets)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from server.rooms_support import room_server
from voxline import rtc
from voxline.audio import AudioFrame
from voxline.rtc import DisconnectReason, ParticipantKind, RpcError
from voxline.server import RoomServer
from worker.harness import bounded


async def until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def pair(**user_grants: Any) -> AsyncIterator[tuple[RoomServer, rtc.Room, rtc.Room]]:
    async with room_server() as server:
        agent, user = rtc.Room(), rtc.Room()
        await agent.connect(server.room_url, server.token("demo", "agent", kind="agent"))
        await user.connect(
            server.room_url, server.token("demo", "alice", name="Alice", **user_grants)
        )
        await until(lambda: "alice" in agent.remote_participants)
        try:
            yield server, agent, user
        finally:
            await user.disconnect()
            await agent.disconnect()


@bounded(20)
async def test_two_rooms_see_each_other_and_leave_with_reasons() -> None:
    async with pair() as (_, agent, user):
        assert agent.name == user.name == "demo"
        assert agent.local_participant.kind == ParticipantKind.AGENT
        alice = agent.remote_participants["alice"]
        assert alice.kind == ParticipantKind.STANDARD and alice.name == "Alice"
        assert set(user.remote_participants) == {"agent"}  # present before the user joined
        assert user.remote_participants["agent"].kind == ParticipantKind.AGENT
        left: list[tuple[str, Any]] = []
        agent.on(
            "participant_disconnected", lambda p: left.append((p.identity, p.disconnect_reason))
        )
        await user.disconnect()
        await until(lambda: left)
        assert left == [("alice", DisconnectReason.CLIENT_INITIATED)]
        assert not user.isconnected()


@bounded(20)
async def test_attributes_travel_both_ways() -> None:
    async with pair(attributes={"sip.ruleID": "R1"}) as (_, agent, user):
        assert agent.remote_participants["alice"].attributes == {"sip.ruleID": "R1"}
        seen: list[tuple[dict[str, str], str]] = []
        user.on("participant_attributes_changed", lambda c, p: seen.append((c, p.identity)))
        await agent.local_participant.set_attributes({"lk.agent.state": "listening"})
        await until(lambda: seen)
        await agent.local_participant.set_attributes({"lk.agent.state": "speaking"})
        await until(lambda: len(seen) == 2)
        assert seen == [
            ({"lk.agent.state": "listening"}, "agent"),
            ({"lk.agent.state": "speaking"}, "agent"),
        ]
        assert user.remote_participants["agent"].attributes == {"lk.agent.state": "speaking"}
        assert agent.local_participant.attributes == {"lk.agent.state": "speaking"}


@bounded(20)
async def test_text_streams_by_topic_with_attributes() -> None:
    async with pair() as (_, agent, user):
        received: list[tuple[str, str, dict[str, str]]] = []

        async def on_chat(reader: rtc.TextStreamReader, identity: str) -> None:
            received.append((identity, await reader.read_all(), reader.info.attributes))

        agent.register_text_stream_handler("lk.chat", on_chat)
        await user.local_participant.send_text("héllo", topic="lk.chat", attributes={"a": "1"})
        writer = await user.local_participant.stream_text(topic="lk.chat")
        await writer.write("one ")
        await writer.write("two " * 5000)  # more than one 15 KB chunk
        await writer.aclose(attributes={"final": "true"})
        await until(lambda: len(received) == 2)
        assert received[0] == ("alice", "héllo", {"a": "1"})
        assert received[1][1] == "one " + "two " * 5000
        assert received[1][2] == {"final": "true"}


@bounded(20)
async def test_rpc_round_trip_and_errors() -> None:
    async with pair() as (_, agent, user):

        @agent.local_participant.register_rpc_method("greet")
        async def greet(data: rtc.RpcInvocationData) -> str:
            return f"hello {data.payload} from {data.caller_identity}"

        lp = user.local_participant
        reply = await lp.perform_rpc(destination_identity="agent", method="greet", payload="bob")
        assert reply == "hello bob from alice"
        with pytest.raises(RpcError) as err:
            await lp.perform_rpc(destination_identity="agent", method="missing", payload="")
        assert err.value.code == RpcError.ErrorCode.UNSUPPORTED_METHOD
        with pytest.raises(RpcError) as err:
            await lp.perform_rpc(destination_identity="nobody", method="greet", payload="")
        assert err.value.code == RpcError.ErrorCode.RECIPIENT_NOT_FOUND


@bounded(20)
async def test_audio_published_by_one_room_is_heard_by_the_other() -> None:
    async with pair() as (_, agent, user):
        subscribed: list[rtc.RemoteAudioTrack] = []
        agent.on("track_subscribed", lambda track, pub, p: subscribed.append(track))
        source = rtc.AudioSource(24000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        await user.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        await until(lambda: subscribed)
        pub = agent.remote_participants["alice"].track_publications
        assert [p.source for p in pub.values()] == [rtc.TrackSource.SOURCE_MICROPHONE]
        stream = rtc.AudioStream(subscribed[0], sample_rate=24000, num_channels=1)
        rate = 24000
        t = np.arange(int(0.6 * rate)) / rate
        sent = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * 9000
        sent = sent.astype(np.int16)
        await source.capture_frame(AudioFrame(sent, rate, 1, len(sent)))
        got: list[np.ndarray] = []

        async def read() -> None:
            async for event in stream:
                got.append(event.frame.data.copy())
                if sum(len(g) for g in got) >= len(sent):
                    return

        await asyncio.wait_for(read(), 5)
        heard = np.concatenate(got)[: len(sent)]
        assert np.corrcoef(heard.astype(float), sent.astype(float))[0, 1] > 0.999
        await stream.aclose()
        await source.aclose()


@bounded(20)
async def test_refused_tokens_raise_connect_error_with_the_reason() -> None:
    async with room_server() as server:
        room = rtc.Room()
        expired = server.token("demo", "x", ttl=datetime.timedelta(minutes=-5))
        with pytest.raises(rtc.ConnectError, match=r"refused the connection \(401\).*xpired"):
            await room.connect(server.room_url, expired)
        with pytest.raises(rtc.ConnectError, match="access token"):
            await room.connect(server.room_url, None)
        with pytest.raises(rtc.ConnectError, match="cannot reach"):
            await room.connect("voxline+ws://127.0.0.1:1", server.token("demo", "x"))
        assert not room.isconnected()
        listener = rtc.Room()
        await listener.connect(server.room_url, server.token("demo", "l", can_publish=False))
        track = rtc.LocalAudioTrack.create_audio_track("mic", rtc.AudioSource(16000, 1))
        with pytest.raises(PermissionError, match="canPublish"):
            await listener.local_participant.publish_track(track)
        await listener.disconnect()


@bounded(20)
async def test_room_deleted_and_removed_participants_hear_why() -> None:
    async with pair() as (server, agent, user):
        reasons: list[DisconnectReason] = []
        user.on("disconnected", reasons.append)
        server.hub.remove_participant("demo", "alice")
        await until(lambda: reasons)
        assert reasons == [DisconnectReason.PARTICIPANT_REMOVED]
        agent_reasons: list[DisconnectReason] = []
        agent.on("disconnected", agent_reasons.append)
        assert server.delete_room("demo")
        await until(lambda: agent_reasons)
        assert agent_reasons == [DisconnectReason.ROOM_DELETED]
        assert not agent.isconnected()


@bounded(20)
async def test_an_agent_joins_with_its_job_assignment() -> None:
    """What `JobContext.connect()` does with an assignment from the embedded dispatcher."""
    from server.scripted import ScriptedWorker

    async with room_server() as server:
        async with ScriptedWorker(server.ws_url) as worker:
            await worker.register()
            user = rtc.Room()
            await user.connect(server.room_url, server.token("demo", "alice"))
            offer = await worker.recv()
            await worker.answer(offer.availability.job.id)
            assignment = (await worker.recv()).assignment
            agent = rtc.Room()
            await agent.connect(assignment.url, assignment.token)
            assert agent.local_participant.kind == ParticipantKind.AGENT
            assert set(agent.remote_participants) == {"alice"}
            await until(lambda: len(user.remote_participants) == 1)
            await agent.disconnect()
            await user.disconnect()


@bounded(20)
async def test_video_frames_reach_the_other_room() -> None:
    from voxline.video import VideoFrame

    async with pair() as (_, agent, user):
        subscribed: list[rtc.RemoteVideoTrack] = []
        agent.on("track_subscribed", lambda track, pub, p: subscribed.append(track))
        source = rtc.VideoSource(64, 48)
        track = rtc.LocalVideoTrack.create_video_track("cam", source)
        await user.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
        )
        await until(lambda: subscribed)
        stream = rtc.VideoStream(subscribed[0])
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, :32] = (255, 0, 0)
        source.capture_frame(VideoFrame(image))
        event = await asyncio.wait_for(stream.__anext__(), 5)
        assert np.array_equal(event.frame.data, image)
        await stream.aclose()
