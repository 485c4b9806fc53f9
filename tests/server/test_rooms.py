"""Rooms over the WebSocket PCM transport: membership, routing of audio and packets,
attributes, disconnect reasons and the RoomService API, on a real RoomServer."""

from __future__ import annotations

import asyncio
import datetime

import numpy as np
import pytest
from livekit import api

from server.rooms_support import KEY, SECRET, WsParticipant, refused, room_server, ws_join
from voxline.server import RoomServer
from worker.harness import bounded


def tone(freq: float, seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amp * 32767).astype(np.int16)


async def two(server: RoomServer, room: str = "demo") -> tuple[WsParticipant, WsParticipant]:
    alice = await ws_join(server, server.token(room, "alice"))
    bob = await ws_join(server, server.token(room, "bob"))
    await alice.wait_type("participant_joined")
    return alice, bob


@bounded(20)
async def test_join_sees_others_and_leave_is_client_initiated() -> None:
    async with room_server() as server:
        alice, bob = await two(server)
        join = await bob.wait_type("join")
        assert join["room"]["name"] == "demo"
        assert join["participant"]["identity"] == "bob"
        assert [p["identity"] for p in join["participants"]] == ["alice"]
        joined = await alice.wait_type("participant_joined")
        assert joined["participant"]["identity"] == "bob"
        await bob.send({"type": "leave"})
        left = await alice.wait_type("participant_left", identity="bob")
        assert left["reason"] == "CLIENT_INITIATED"
        await bob.closed.wait()
        assert list(server.hub.rooms["demo"].participants) == ["alice"]
        await alice.aclose()
        await bob.aclose()


@bounded(20)
async def test_dropped_connection_is_a_leave() -> None:
    async with room_server() as server:
        alice, bob = await two(server)
        await bob.aclose()  # no goodbye: the socket just closes
        left = await alice.wait_type("participant_left", identity="bob")
        assert left["reason"] == "SIGNAL_CLOSE"
        await alice.aclose()


@bounded(20)
async def test_pcm_audio_round_trips_through_the_room() -> None:
    async with room_server() as server:
        alice, bob = await two(server)
        sid = await alice.publish_audio(16000)
        published = await bob.wait_type("track_published")
        assert published["track"]["sid"] == sid and published["identity"] == "alice"
        await bob.wait_type("track_subscribed", track_sid=sid)
        # 1 s of speech-like signal: a 300 Hz tone under a 3 Hz envelope, sent in 20 ms frames
        rate = 16000
        t = np.arange(rate) / rate
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
        signal = (tone(300, 1.0, rate) * envelope).astype(np.int16)
        for i in range(0, rate, 320):
            await alice.send_pcm(sid, signal[i : i + 320], rate)
        for _ in range(100):
            if len(bob.received_pcm(sid)) >= rate:
                break
            await asyncio.sleep(0.02)
        got = bob.received_pcm(sid)
        assert len(got) == rate
        assert {(a.sample_rate, a.num_channels) for a in bob.audio} == {(16000, 1)}
        correlation = np.corrcoef(got.astype(float), signal.astype(float))[0, 1]
        assert correlation > 0.999
        assert alice.audio == []  # nobody hears themselves
        await alice.aclose()
        await bob.aclose()


@bounded(20)
async def test_audio_of_an_unknown_or_wrongly_described_track_is_refused() -> None:
    async with room_server() as server:
        alice, bob = await two(server)
        await alice.send_pcm("TR_not_mine", tone(300, 0.02, 16000), 16000)
        error = await alice.wait_type("error")
        assert "TR_not_mine" in error["message"]
        sid = await alice.publish_audio(16000)
        await alice.send_pcm(sid, tone(300, 0.02, 48000), 48000)
        error = await alice.wait(lambda m: m["type"] == "error" and "published as" in m["message"])
        assert "48000 Hz" in error["message"]
        await alice.ws.send_bytes(b"\x01")
        await alice.wait(lambda m: m["type"] == "error" and m["code"] == "malformed")
        await alice.send({"type": "nonsense"})
        await alice.wait(lambda m: m["type"] == "error" and "nonsense" in m["message"])
        await alice.ws.send_str("{not json")
        await alice.wait(lambda m: m["type"] == "error" and "not JSON" in m["message"])
        assert bob.audio == []
        await alice.aclose()
        await bob.aclose()


@bounded(20)
async def test_packets_go_to_everyone_or_to_the_destinations_only() -> None:
    async with room_server() as server:
        alice, bob = await two(server)
        carol = await ws_join(server, server.token("demo", "carol"))
        await bob.wait_type("participant_joined")
        reply = await alice.request({"type": "packet", "packet": {"kind": "chat", "text": "hi"}})
        assert reply["delivered"] == 2
        for p in (bob, carol):
            got = await p.wait_type("packet")
            assert got["from"] == "alice" and got["packet"] == {"kind": "chat", "text": "hi"}
        reply = await alice.request(
            {"type": "packet", "packet": {"n": 2}, "destination_identities": ["carol"]}
        )
        assert reply["delivered"] == 1
        await carol.wait(lambda m: m["type"] == "packet" and m["packet"] == {"n": 2})
        await asyncio.sleep(0.1)
        assert not [m for m in bob.messages if m["type"] == "packet" and m["packet"] == {"n": 2}]
        for p in (alice, bob, carol):
            await p.aclose()


@bounded(20)
async def test_attributes_are_broadcast_and_need_the_grant() -> None:
    async with room_server() as server:
        alice = await ws_join(server, server.token("demo", "alice"))
        bob = await ws_join(
            server, server.token("demo", "bob", can_update_metadata=False, attributes={"a": "1"})
        )
        await alice.request({"type": "update_participant", "attributes": {"lk.agent.state": "x"}})
        update = await bob.wait_type("participant_updated")
        assert update["participant"]["attributes"] == {"lk.agent.state": "x"}
        assert update["changed_attributes"] == {"lk.agent.state": "x"}
        await alice.wait_type("participant_updated")  # the sender sees it too
        with pytest.raises(RuntimeError, match="canUpdateOwnMetadata"):
            await bob.request({"type": "update_participant", "attributes": {"a": "2"}})
        assert server.hub.rooms["demo"].participants["bob"].attributes == {"a": "1"}
        await alice.aclose()
        await bob.aclose()


@bounded(20)
async def test_duplicate_identity_replaces_the_first_connection() -> None:
    async with room_server() as server:
        first = await ws_join(server, server.token("demo", "alice"))
        second = await ws_join(server, server.token("demo", "alice"))
        gone = await first.wait_type("disconnected")
        assert gone["reason"] == "DUPLICATE_IDENTITY"
        await first.closed.wait()
        assert server.hub.rooms["demo"].participants["alice"].connection is not None
        assert len(server.hub.rooms["demo"].participants) == 1
        await first.aclose()
        await second.aclose()


# ---------------------------------------------------------------------- security


@bounded(20)
async def test_bad_tokens_are_refused_with_a_clear_401() -> None:
    async with room_server() as server:
        status, body = await refused(server, "not.a.jwt")
        assert status == 401 and "invalid token" in body["msg"]
        expired = server.token("demo", "alice", ttl=datetime.timedelta(minutes=-5))
        status, body = await refused(server, expired)
        assert status == 401 and "expired" in body["msg"].lower()
        forged = api.AccessToken(KEY, "another_secret_another_secret_32").with_identity("x")
        forged_jwt = forged.with_grants(api.VideoGrants(room_join=True, room="demo")).to_jwt()
        status, body = await refused(server, forged_jwt)
        assert status == 401 and "signature" in body["msg"].lower()
        status, body = await refused(server, "")
        assert status == 401 and "no access token" in body["msg"]
        no_join = api.AccessToken(KEY, SECRET).with_identity("x")
        no_join_jwt = no_join.with_grants(api.VideoGrants(room_list=True)).to_jwt()
        status, body = await refused(server, no_join_jwt)
        assert status == 403 and "roomJoin" in body["msg"]
        assert server.hub.rooms == {}


@bounded(20)
async def test_a_token_for_room_a_cannot_join_or_read_room_b() -> None:
    async with room_server() as server:
        b_member = await ws_join(server, server.token("room-b", "bob"))
        a_token = server.token("room-a", "alice")
        status, body = await refused(server, a_token, room="room-b")
        assert status == 403 and "room-a" in body["msg"] and "room-b" in body["msg"]
        alice = await ws_join(server, a_token)
        join = await alice.wait_type("join")
        assert join["room"]["name"] == "room-a" and join["participants"] == []
        # packets addressed to someone in another room go nowhere
        reply = await alice.request(
            {"type": "packet", "packet": {"x": 1}, "destination_identities": ["bob"]}
        )
        assert reply["delivered"] == 0
        # tracks of another room cannot be subscribed to
        b_track = await b_member.publish_audio()
        with pytest.raises(RuntimeError, match="no track"):
            await alice.request({"type": "subscribe", "track_sid": b_track})
        # the admin API, with a roomAdmin token scoped to room-a, cannot read room-b
        admin = api.AccessToken(KEY, SECRET).with_grants(
            api.VideoGrants(room_admin=True, room="room-a")
        )
        async with api.LiveKitAPI(server.http_url, KEY, SECRET) as lk:
            lk.room._auth_header = lambda *a, **k: {  # type: ignore[method-assign]
                "Authorization": f"Bearer {admin.to_jwt()}"
            }
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room="room-a"))
            assert [p.identity for p in listed.participants] == ["alice"]
            with pytest.raises(api.TwirpError, match="room-a"):
                await lk.room.list_participants(api.ListParticipantsRequest(room="room-b"))
        await asyncio.sleep(0.05)
        assert not [m for m in b_member.messages if m["type"] == "packet"]
        await alice.aclose()
        await b_member.aclose()


@bounded(20)
async def test_a_token_without_can_publish_cannot_publish() -> None:
    async with room_server() as server:
        listener = await ws_join(server, server.token("demo", "listener", can_publish=False))
        with pytest.raises(RuntimeError, match="canPublish"):
            await listener.publish_audio()
        assert server.hub.rooms["demo"].participants["listener"].tracks == {}
        mute = await ws_join(server, server.token("demo", "mute", can_publish_data=False))
        with pytest.raises(RuntimeError, match="canPublishData"):
            await mute.request({"type": "packet", "packet": {}})
        await listener.aclose()
        await mute.aclose()


# ---------------------------------------------------------------------- RoomService


@bounded(20)
async def test_room_service_creates_lists_updates_and_deletes() -> None:
    async with room_server() as server:
        async with api.LiveKitAPI(server.http_url, KEY, SECRET) as lk:
            created = await lk.room.create_room(api.CreateRoomRequest(name="demo", metadata="m"))
            assert created.name == "demo" and created.metadata == "m"
            alice, bob = await two(server)
            rooms = await lk.room.list_rooms(api.ListRoomsRequest())
            assert [(r.name, r.num_participants) for r in rooms.rooms] == [("demo", 2)]
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room="demo"))
            assert sorted(p.identity for p in listed.participants) == ["alice", "bob"]
            await lk.room.update_participant(
                api.UpdateParticipantRequest(room="demo", identity="bob", attributes={"k": "v"})
            )
            update = await alice.wait_type("participant_updated")
            assert update["participant"]["attributes"] == {"k": "v"}
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room="demo", identity="bob")
            )
            gone = await bob.wait_type("disconnected")
            assert gone["reason"] == "PARTICIPANT_REMOVED"
            left = await alice.wait_type("participant_left", identity="bob")
            assert left["reason"] == "PARTICIPANT_REMOVED"
            await lk.room.delete_room(api.DeleteRoomRequest(room="demo"))
            gone = await alice.wait_type("disconnected")
            assert gone["reason"] == "ROOM_DELETED"
            await alice.closed.wait()
            assert (await lk.room.list_rooms(api.ListRoomsRequest())).rooms == []
            with pytest.raises(api.TwirpError, match="not found"):
                await lk.room.delete_room(api.DeleteRoomRequest(room="demo"))
            await alice.aclose()
            await bob.aclose()


@bounded(20)
async def test_agent_assignments_carry_the_room_url() -> None:
    from server.scripted import ScriptedWorker

    async with room_server() as server:
        assert server.room_url.startswith("voxline+ws://127.0.0.1:")
        async with ScriptedWorker(server.ws_url) as worker:
            await worker.register()
            alice = await ws_join(server, server.token("demo", "alice"))
            offer = await worker.recv()
            assert offer.WhichOneof("message") == "availability"
            job_id = offer.availability.job.id
            await worker.answer(job_id)
            assignment = await worker.recv()
            assert assignment.WhichOneof("message") == "assignment"
            assert assignment.assignment.url == server.room_url
            agent = await ws_join(server, assignment.assignment.token)
            join = await agent.wait_type("join")
            assert join["room"]["name"] == "demo"
            assert join["participant"]["kind"] == "agent"
            assert join["participant"]["identity"] == f"agent-{job_id}"
            await agent.aclose()
            await alice.aclose()


@bounded(20)
async def test_empty_rooms_close_after_their_timeouts() -> None:
    async with room_server(empty_timeout=0.3, departure_timeout=0.2) as server:
        server.create_room("never-joined")
        alice = await ws_join(server, server.token("demo", "alice"))
        await asyncio.sleep(0.5)
        assert "never-joined" not in server.hub.rooms
        assert "never-joined" not in server.dispatcher.rooms
        assert "demo" in server.hub.rooms  # someone is in it
        await alice.send({"type": "leave"})
        await alice.closed.wait()
        bob = await ws_join(server, server.token("demo", "bob"))  # back before the timeout
        await asyncio.sleep(0.3)
        assert "demo" in server.hub.rooms
        await bob.aclose()
        await asyncio.sleep(0.4)
        assert server.hub.rooms == {}
        await alice.aclose()
