"""Rooms on the memory backend: joins, leaves, attributes, streams, RPC, data, reasons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxline import rtc
from voxline.rtc import DisconnectReason, ParticipantKind, RpcError


async def settle(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def pair(
    hub: rtc.MemoryHub, room: str = "r1", *, user_kind: str = "standard"
) -> tuple[rtc.Room, rtc.Room]:
    agent, user = hub.room(), hub.room()
    await agent.connect(f"memory://{room}", hub.token(room, "agent", kind="agent"))
    await user.connect(f"memory://{room}", hub.token(room, "alice", kind=user_kind, name="Alice"))
    await settle()
    return agent, user


@pytest.mark.virtual_time
async def test_join_and_leave_events_with_kinds_and_reasons() -> None:
    hub = rtc.MemoryHub()
    agent = hub.room()
    joined: list[rtc.RemoteParticipant] = []
    left: list[tuple[str, Any]] = []
    agent.on("participant_connected", joined.append)
    agent.on("participant_disconnected", lambda p: left.append((p.identity, p.disconnect_reason)))
    await agent.connect("memory://r1", hub.token("r1", "agent", kind="agent"))
    assert agent.isconnected() and agent.name == "r1"
    assert agent.local_participant.identity == "agent"
    assert agent.local_participant.kind == ParticipantKind.AGENT
    assert agent.connection_state == rtc.ConnectionState.CONN_CONNECTED

    user = hub.room()
    await user.connect("memory://r1", hub.token("r1", "caller", kind="sip", name="Bob"))
    await settle()
    assert [p.identity for p in joined] == ["caller"]
    assert joined[0].kind == ParticipantKind.SIP == ParticipantKind.PARTICIPANT_KIND_SIP
    assert joined[0].name == "Bob"
    assert set(user.remote_participants) == {"agent"}  # present before the user joined

    await user.disconnect()
    await settle()
    assert left == [("caller", DisconnectReason.CLIENT_INITIATED)]
    assert agent.remote_participants == {}
    assert not user.isconnected()


@pytest.mark.virtual_time
async def test_server_side_removal_reports_reason_to_both_sides() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    reasons: list[DisconnectReason] = []
    user.on("disconnected", reasons.append)
    left: list[Any] = []
    agent.on("participant_disconnected", lambda p: left.append(p.disconnect_reason))
    await hub.remove_participant("r1", "alice", DisconnectReason.USER_REJECTED)
    await settle()
    assert reasons == [DisconnectReason.USER_REJECTED]
    assert user.disconnect_reason == DisconnectReason.USER_REJECTED
    assert left == [DisconnectReason.USER_REJECTED]


@pytest.mark.virtual_time
async def test_delete_room_disconnects_everyone_with_room_deleted() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    got: list[tuple[str, DisconnectReason]] = []
    agent.on("disconnected", lambda r: got.append(("agent", r)))
    user.on("disconnected", lambda r: got.append(("user", r)))
    await agent.delete_room()
    await settle()
    assert sorted(got) == [
        ("agent", DisconnectReason.ROOM_DELETED),
        ("user", DisconnectReason.ROOM_DELETED),
    ]
    assert hub.rooms == []


@pytest.mark.virtual_time
async def test_duplicate_identity_kicks_the_first_connection() -> None:
    hub = rtc.MemoryHub()
    first, second = hub.room(), hub.room()
    await first.connect("memory://r1?identity=alice")
    reasons: list[DisconnectReason] = []
    first.on("disconnected", reasons.append)
    await second.connect("memory://r1?identity=alice")
    await settle()
    assert reasons == [DisconnectReason.DUPLICATE_IDENTITY]
    assert hub.participants("r1") == ["alice"]


@pytest.mark.virtual_time
async def test_tokens_are_checked() -> None:
    hub = rtc.MemoryHub()
    room = hub.room()
    with pytest.raises(rtc.ConnectError, match="grants room 'a', not 'b'"):
        await room.connect("memory://b", hub.token("a", "x"))
    other = rtc.MemoryHub()
    with pytest.raises(rtc.ConnectError, match="access token refused"):
        await room.connect("memory://a", other.token("a", "x"))
    with pytest.raises(rtc.ConnectError, match=r"refused.*xpired"):
        await room.connect("memory://a", hub.token("a", "x", ttl=-3600))
    with pytest.raises(rtc.ConnectError, match="MemoryHub"):
        await rtc.Room().connect("memory://a")
    with pytest.raises(rtc.ConnectError, match="no room backend for ftp://"):
        await rtc.Room().connect("ftp://host/x", "t")
    with pytest.raises(rtc.ConnectError, match="scheme://"):
        await rtc.Room().connect("not a url", "t")
    with pytest.raises(rtc.ConnectError, match="unknown participant kind"):
        await hub.room().connect("memory://a?kind=robot")
    assert not room.isconnected()


@pytest.mark.virtual_time
async def test_permissions_from_the_token() -> None:
    hub = rtc.MemoryHub()
    room = hub.room()
    token = hub.token("r", "viewer", can_publish=False, can_publish_data=False)
    await room.connect("memory://r", token)
    track = rtc.LocalAudioTrack.create_audio_track("mic", rtc.AudioSource(16000, 1))
    with pytest.raises(PermissionError, match="canPublish"):
        await room.local_participant.publish_track(track)
    with pytest.raises(PermissionError, match="canPublishData"):
        await room.local_participant.send_text("hi", topic="t")


@pytest.mark.virtual_time
async def test_attributes_propagate_with_changed_keys() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    seen: list[tuple[dict[str, str], str]] = []
    user.on("participant_attributes_changed", lambda changed, p: seen.append((changed, p.identity)))
    local: list[dict[str, str]] = []
    agent.on("participant_attributes_changed", lambda changed, p: local.append(changed))
    await agent.local_participant.set_attributes({"lk.agent.state": "listening", "x": "1"})
    await settle()
    await agent.local_participant.set_attributes({"lk.agent.state": "thinking", "x": ""})
    await settle()
    await agent.local_participant.set_attributes({"lk.agent.state": "thinking"})  # no change
    await settle()
    assert seen == [
        ({"lk.agent.state": "listening", "x": "1"}, "agent"),
        ({"lk.agent.state": "thinking", "x": ""}, "agent"),
    ]
    assert local == [c for c, _ in seen]
    assert user.remote_participants["agent"].attributes == {"lk.agent.state": "thinking"}
    with pytest.raises(TypeError):
        await agent.local_participant.set_attributes({"n": 1})  # type: ignore[dict-item]


@pytest.mark.virtual_time
async def test_attributes_from_the_token_are_visible_at_join() -> None:
    hub = rtc.MemoryHub()
    agent = hub.room()
    await agent.connect("memory://r", hub.token("r", "agent", kind="agent"))
    user = hub.room()
    await user.connect("memory://r", hub.token("r", "u", attributes={"sip.ruleID": "R1"}))
    await settle()
    assert agent.remote_participants["u"].attributes == {"sip.ruleID": "R1"}
    assert user.local_participant.attributes == {"sip.ruleID": "R1"}


@pytest.mark.virtual_time
async def test_text_streams_by_topic_with_attributes_and_trailer() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    received: list[tuple[str, str, dict[str, str], str]] = []

    async def on_chat(reader: rtc.TextStreamReader, identity: str) -> None:
        text = await reader.read_all()
        received.append((identity, text, reader.info.attributes, reader.info.topic))

    agent.register_text_stream_handler("lk.chat", on_chat)
    with pytest.raises(ValueError, match="already registered"):
        agent.register_text_stream_handler("lk.chat", on_chat)
    info = await user.local_participant.send_text("héllo", topic="lk.chat", attributes={"a": "1"})
    assert info.topic == "lk.chat" and info.id == info.stream_id
    await user.local_participant.send_text("ignored", topic="other")
    writer = await user.local_participant.stream_text(topic="lk.chat", attributes={"f": "false"})
    await writer.write("one ")
    await writer.write("two")
    await writer.aclose(attributes={"f": "true"})
    await settle(20)
    assert received == [
        ("alice", "héllo", {"a": "1"}, "lk.chat"),
        ("alice", "one two", {"f": "true"}, "lk.chat"),
    ]


@pytest.mark.virtual_time
async def test_large_text_is_chunked_on_character_boundaries() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    texts: list[str] = []
    chunks: list[int] = []

    async def on_text(reader: rtc.TextStreamReader, identity: str) -> None:
        parts = [p async for p in reader]
        chunks.append(len(parts))
        texts.append("".join(parts))

    agent.register_text_stream_handler("big", on_text)
    big = "é" * 20_000  # 40 KB of two-byte characters
    await user.local_participant.send_text(big, topic="big")
    await settle(20)
    assert texts == [big]
    assert chunks == [3]


@pytest.mark.virtual_time
async def test_stream_on_behalf_of_and_to_destinations() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    third = hub.room()
    await third.connect("memory://r1?identity=carol")
    await settle()
    got: dict[str, list[str]] = {"alice": [], "carol": []}
    user.register_text_stream_handler("t", lambda r, i: got["alice"].append(i))
    third.register_text_stream_handler("t", lambda r, i: got["carol"].append(i))
    writer = await agent.local_participant.stream_text(
        topic="t", sender_identity="alice", destination_identities=["carol"]
    )
    await writer.write("x")
    await writer.aclose()
    await settle()
    assert got == {"alice": [], "carol": ["alice"]}


@pytest.mark.virtual_time
async def test_byte_streams_and_files(tmp_path: Any) -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    got: list[tuple[bytes, str, str]] = []

    async def on_bytes(reader: rtc.ByteStreamReader, identity: str) -> None:
        got.append((await reader.read_all(), reader.info.name, reader.info.mime_type))

    agent.register_byte_stream_handler("files", on_bytes)
    path = tmp_path / "note.txt"
    path.write_bytes(b"x" * 40_000)
    await user.local_participant.send_file(str(path), topic="files")
    writer = await user.local_participant.stream_bytes("raw.bin", topic="files")
    await writer.write(b"\x00\x01")
    await writer.aclose()
    await settle(30)
    assert got == [
        (b"x" * 40_000, "note.txt", "text/plain"),
        (b"\x00\x01", "raw.bin", "application/octet-stream"),
    ]


@pytest.mark.virtual_time
async def test_reader_fails_when_the_sender_leaves_mid_stream() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    errors: list[str] = []

    async def on_text(reader: rtc.TextStreamReader, identity: str) -> None:
        try:
            await reader.read_all()
        except rtc.StreamError as e:
            errors.append(str(e))

    agent.register_text_stream_handler("t", on_text)
    writer = await user.local_participant.stream_text(topic="t")
    await writer.write("partial")
    await settle()
    await user.disconnect()
    await settle()
    assert len(errors) == 1 and "alice left the room" in errors[0]


@pytest.mark.virtual_time
async def test_rpc_round_trip_errors_and_timeouts() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    calls: list[rtc.RpcInvocationData] = []

    @agent.local_participant.register_rpc_method("greet")
    async def greet(data: rtc.RpcInvocationData) -> str:
        calls.append(data)
        return f"hello {data.payload}"

    def fail(data: rtc.RpcInvocationData) -> str:
        raise RpcError(42, "nope", "details")

    def crash(data: rtc.RpcInvocationData) -> str:
        raise RuntimeError("secret")

    async def slow(data: rtc.RpcInvocationData) -> str:
        await asyncio.sleep(60)
        return "late"

    agent.local_participant.register_rpc_method("fail", fail)
    agent.local_participant.register_rpc_method("crash", crash)
    agent.local_participant.register_rpc_method("slow", slow)
    lp = user.local_participant
    answer = await lp.perform_rpc(destination_identity="agent", method="greet", payload="bob")
    assert answer == "hello bob"
    assert calls[0].caller_identity == "alice" and calls[0].method == "greet"

    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="agent", method="fail", payload="")
    assert (e.value.code, e.value.message, e.value.data) == (42, "nope", "details")

    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="agent", method="crash", payload="")
    assert e.value.code == RpcError.ErrorCode.APPLICATION_ERROR and "secret" not in str(e.value)

    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="agent", method="missing", payload="")
    assert e.value.code == RpcError.ErrorCode.UNSUPPORTED_METHOD

    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="nobody", method="greet", payload="")
    assert e.value.code == RpcError.ErrorCode.RECIPIENT_NOT_FOUND

    t0 = asyncio.get_running_loop().time()
    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(
            destination_identity="agent", method="slow", payload="", response_timeout=3
        )
    assert e.value.code == RpcError.ErrorCode.RESPONSE_TIMEOUT
    assert asyncio.get_running_loop().time() - t0 == pytest.approx(3, abs=0.01)

    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="agent", method="greet", payload="x" * 16_000)
    assert e.value.code == RpcError.ErrorCode.REQUEST_PAYLOAD_TOO_LARGE

    agent.local_participant.unregister_rpc_method("greet")
    with pytest.raises(RpcError) as e:
        await lp.perform_rpc(destination_identity="agent", method="greet", payload="")
    assert e.value.code == RpcError.ErrorCode.UNSUPPORTED_METHOD
    await agent.aclose()
    await user.aclose()


@pytest.mark.virtual_time
async def test_rpc_fails_when_the_recipient_leaves() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)

    async def slow(data: rtc.RpcInvocationData) -> str:
        await asyncio.sleep(60)
        return ""

    agent.local_participant.register_rpc_method("slow", slow)
    call = asyncio.ensure_future(
        user.local_participant.perform_rpc(destination_identity="agent", method="slow", payload="")
    )
    await asyncio.sleep(1)
    await agent.aclose()
    with pytest.raises(RpcError) as e:
        await call
    assert e.value.code == RpcError.ErrorCode.RECIPIENT_DISCONNECTED


@pytest.mark.virtual_time
async def test_data_packets() -> None:
    hub = rtc.MemoryHub()
    agent, user = await pair(hub)
    packets: list[rtc.DataPacket] = []
    agent.on("data_received", packets.append)
    await user.local_participant.publish_data(b"\x01\x02", topic="bin")
    await user.local_participant.publish_data("text", topic="t", destination_identities=["nobody"])
    await settle()
    got = [(p.data, p.topic, p.participant.identity if p.participant else None) for p in packets]
    assert got == [(b"\x01\x02", "bin", "alice")]


def test_enums_accept_livekit_names_and_values() -> None:
    assert ParticipantKind.PARTICIPANT_KIND_CONNECTOR is ParticipantKind.CONNECTOR
    assert ParticipantKind.parse("sip") is ParticipantKind.SIP
    assert ParticipantKind.parse(4) is ParticipantKind.AGENT
    assert DisconnectReason(12) is DisconnectReason.USER_REJECTED
    assert rtc.TrackSource.MICROPHONE is rtc.TrackSource.SOURCE_MICROPHONE
    assert [r.name for r in DisconnectReason][:3] == [
        "UNKNOWN_REASON",
        "CLIENT_INITIATED",
        "DUPLICATE_IDENTITY",
    ]
