"""The LiveKit backend without a LiveKit server: the scheme table, connection errors, every SDK
event translated for the room, local media through the SDK's own sources and streams, RPC,
streams, and room deletion through the server API (a fake Twirp endpoint on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from livekit import api as lkapi
from livekit import rtc as lk

from rtc.livekit_support import RecordingEvents, publication_info, sdk_participant, sdk_publication
from voxline import rtc
from voxline.audio import AudioFrame
from voxline.rtc._backend import ConnectOptions, create_backend
from voxline.rtc._types import (
    ConnectError,
    ConnectionState,
    DisconnectReason,
    ParticipantKind,
    TrackKind,
)
from voxline.rtc.livekit import LiveKitBackend
from voxline.rtc.livekit._media import AudioSender
from voxline.rtc.rpc import RpcError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def attached() -> tuple[LiveKitBackend, lk.Room, RecordingEvents]:
    backend, room, events = LiveKitBackend(), lk.Room(), RecordingEvents()
    backend.attach(room)
    backend.bind(events)
    return backend, room, events


@pytest.mark.parametrize(
    "url", ["ws://h:7880", "wss://demo.livekit.cloud", "http://h", "https://h"]
)
def test_the_scheme_table_picks_the_livekit_backend(url: str) -> None:
    assert isinstance(create_backend(url), LiveKitBackend)


async def test_connecting_without_a_token_is_refused() -> None:
    with pytest.raises(ConnectError, match="needs an access token"):
        await LiveKitBackend().connect("wss://x", None, ConnectOptions(), RecordingEvents())


async def test_no_server_is_a_connect_error_through_the_room() -> None:
    token = (
        lkapi.AccessToken("devkey", "secret" * 6)
        .with_identity("agent")
        .with_grants(lkapi.VideoGrants(room_join=True, room="demo"))
        .to_jwt()
    )
    room = rtc.Room()
    with pytest.raises(ConnectError, match="did not let us join"):
        await room.connect(
            f"ws://127.0.0.1:{free_port()}", token, rtc.RoomOptions(connect_timeout=5)
        )
    assert not room.isconnected()


Case = tuple[str, Callable[[], tuple[Any, ...]], tuple[Any, ...]]

SIP = sdk_participant(
    "caller",
    kind=lk.ParticipantKind.PARTICIPANT_KIND_SIP,
    attributes={"sip.callStatus": "active"},
    disconnect_reason=lk.DisconnectReason.USER_REJECTED,
)
PUB = sdk_publication(publication_info("TR_mic"))


def _event_cases() -> list[Case]:
    return [
        ("participant_connected", lambda: (SIP,), ("joined",)),
        (
            "participant_disconnected",
            lambda: (SIP,),
            ("left", "caller", DisconnectReason.USER_REJECTED),
        ),
        (
            "participant_attributes_changed",
            lambda: ({"sip.callStatus": "active"}, SIP),
            ("updated", "caller", None, None, {"sip.callStatus": "active"}),
        ),
        (
            "participant_metadata_changed",
            lambda: (SIP, "", "m2"),
            ("updated", "caller", None, "m2", None),
        ),
        (
            "participant_name_changed",
            lambda: (SIP, "", "Bob"),
            ("updated", "caller", "Bob", None, None),
        ),
        ("track_published", lambda: (PUB, SIP), ("published", "caller")),
        ("track_unpublished", lambda: (PUB, SIP), ("unpublished", "caller", "TR_mic")),
        ("track_unsubscribed", lambda: (None, PUB, SIP), ("unsubscribed", "caller", "TR_mic")),
        (
            "data_received",
            lambda: (lk.DataPacket(b"hi", lk.DataPacketKind.KIND_RELIABLE, SIP, "chat"),),
            ("data", "caller", b"hi", "chat"),
        ),
        (
            "data_received",
            lambda: (lk.DataPacket(b"srv", lk.DataPacketKind.KIND_LOSSY, None, None),),
            ("data", None, b"srv", ""),
        ),
        ("room_metadata_changed", lambda: ("", '{"a":1}'), ("room_updated", '{"a":1}')),
        (
            "connection_state_changed",
            lambda: (lk.ConnectionState.CONN_RECONNECTING,),
            ("state", ConnectionState.CONN_RECONNECTING),
        ),
        (
            "disconnected",
            lambda: (lk.DisconnectReason.ROOM_DELETED,),
            ("disconnected", DisconnectReason.ROOM_DELETED),
        ),
    ]


@pytest.mark.parametrize(("event", "args", "expected"), _event_cases())
async def test_sdk_events_reach_the_room(
    event: str, args: Callable[[], tuple[Any, ...]], expected: tuple[Any, ...]
) -> None:
    backend, room, events = attached()
    room.emit(event, *args())  # type: ignore[arg-type]
    (call,) = events.calls
    assert call[: len(expected)] == expected
    await backend._release()


async def test_joined_and_published_carry_the_mapped_info() -> None:
    backend, room, events = attached()
    room.emit("participant_connected", SIP)
    room.emit("track_published", PUB, SIP)
    (_, info), (_, _, track) = events.calls
    assert (info.identity, info.kind, info.attributes) == (
        "caller",
        ParticipantKind.SIP,
        {"sip.callStatus": "active"},
    )
    assert (track.sid, track.kind) == ("TR_mic", TrackKind.KIND_AUDIO)
    await backend._release()


async def test_the_end_of_the_connection_is_reported_once_and_not_for_our_own_leave() -> None:
    backend, room, events = attached()
    room.emit("connection_state_changed", lk.ConnectionState.CONN_DISCONNECTED)
    room.emit("disconnected", lk.DisconnectReason.PARTICIPANT_REMOVED)
    room.emit("disconnected", lk.DisconnectReason.PARTICIPANT_REMOVED)
    assert events.calls == [("disconnected", DisconnectReason.PARTICIPANT_REMOVED)]
    assert backend._ended is not None
    await backend._ended  # media released once, by itself
    assert backend._ended.exception() is None

    backend, room, events = attached()
    await backend.disconnect()  # not connected: the SDK returns at once
    room.emit("disconnected", lk.DisconnectReason.CLIENT_INITIATED)
    assert events.calls == []


async def test_events_before_the_join_completes_are_dropped() -> None:
    backend, room = LiveKitBackend(), lk.Room()
    backend.attach(room)
    room.emit("participant_connected", SIP)  # already in the join snapshot
    events = RecordingEvents()
    backend.bind(events)
    room.emit("participant_connected", SIP)
    assert [c[0] for c in events.calls] == ["joined"]
    await backend._release()


def _sine(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


async def test_audio_round_trips_through_the_sdk_source_track_and_stream() -> None:
    """voxline frames -> AudioSender -> SDK AudioSource -> LocalAudioTrack -> (subscribed)
    -> SDK AudioStream at 48 kHz -> voxline frames to the room: the SDK's real media path."""
    backend, room, events = attached()
    rate = 24000
    source = lk.AudioSource(rate, 1, queue_size_ms=100)
    track = lk.LocalAudioTrack.create_audio_track("agent-voice", source)
    sender = AudioSender(source)
    room.emit("track_subscribed", track, PUB, SIP)
    assert events.calls[0] == ("subscribed", "caller", "TR_mic")

    pcm = _sine(rate, 1.0)
    step = rate // 50
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, offset in enumerate(range(0, pcm.size, step)):
        sender.send(AudioFrame(pcm[offset : offset + step].copy(), rate, 1, step))
        await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))
    for _ in range(50):  # let the last frames through, bounded
        if sum(c[3].samples_per_channel for c in events.named("audio")) >= 44000:
            break
        await asyncio.sleep(0.02)

    frames = [c[3] for c in events.named("audio")]
    assert all(c[1:3] == ("caller", "TR_mic") for c in events.named("audio"))
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(48000, 1)}
    received = np.concatenate([f.data for f in frames]).astype(np.float64)
    assert received.size >= 44000  # >= 0.92 s of the 1 s sent
    voiced = received[np.abs(received) > 0]
    window = voiced[:24000]
    peak_hz = np.argmax(np.abs(np.fft.rfft(window))) * 48000 / window.size
    assert abs(peak_hz - 440) < 10
    rms = np.sqrt(np.mean(voiced**2))
    assert 0.8 < rms / (0.3 * 32767 / np.sqrt(2)) < 1.2
    assert sender.dropped_frames == 0
    room.emit("track_unsubscribed", track, PUB, SIP)
    assert "TR_mic" not in backend._receivers
    await sender.aclose()
    await backend._release()


class _StalledSource:
    sample_rate = 16000
    num_channels = 1

    def __init__(self) -> None:
        self.blocked = asyncio.Event()

    async def capture_frame(self, frame: Any) -> None:
        await self.blocked.wait()

    async def aclose(self) -> None:
        pass


async def test_a_stalled_connection_drops_the_oldest_audio_not_the_caller() -> None:
    sender = AudioSender(_StalledSource())  # type: ignore[arg-type]
    frame = AudioFrame.create(16000, 1, 320)
    for _ in range(30):
        sender.send(frame)  # never blocks
        await asyncio.sleep(0)
    assert sender.dropped_frames >= 15
    with pytest.raises(ValueError, match="published at 16000 Hz"):
        sender.send(AudioFrame.create(48000, 1, 960))
    await sender.aclose()


async def test_sending_on_an_unknown_track_is_an_error() -> None:
    backend, _, _ = attached()
    with pytest.raises(KeyError, match="no published audio track"):
        backend.send_audio_frame("TR_nope", AudioFrame.create(48000, 1, 960))
    await backend._release()


async def test_rpc_requests_are_answered_by_the_room_with_livekit_error_codes() -> None:
    backend, _, events = attached()
    handler = backend._rpc_handler("get_time")
    request = lk.RpcInvocationData(
        request_id="RQ_1", caller_identity="caller", payload="{}", response_timeout=5.0
    )
    events.rpc_answer = "12:00"
    assert await handler(request) == "12:00"
    (_, method, data) = events.named("rpc")[0]
    assert (method, data.caller_identity, data.method, data.response_timeout) == (
        "get_time",
        "caller",
        "get_time",
        5.0,
    )
    events.rpc_answer = RpcError(RpcError.ErrorCode.UNSUPPORTED_METHOD, "no such method")
    with pytest.raises(lk.RpcError) as raised:
        await handler(request)
    assert raised.value.code == RpcError.ErrorCode.UNSUPPORTED_METHOD
    await backend.disconnect()
    with pytest.raises(lk.RpcError) as raised:
        await handler(request)
    assert raised.value.code == RpcError.ErrorCode.RECIPIENT_DISCONNECTED


class _FakeReader:
    """Duck-types the SDK's stream readers: info, async iteration, a trailer that adds
    attributes, optionally ending with a StreamError."""

    def __init__(
        self, info: Any, chunks: list[Any], trailer: dict[str, str], error: str = ""
    ) -> None:
        self.info = info
        self._chunks = chunks
        self._trailer = trailer
        self._error = error
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        for chunk in self._chunks:
            yield chunk
        self.info.attributes.update(self._trailer)
        if self._error:
            raise lk.StreamError(self._error)

    def close(self) -> None:
        self.closed = True


async def test_text_streams_become_header_chunks_and_trailer() -> None:
    backend, _, events = attached()
    info = lk.TextStreamInfo(
        stream_id="ST_1",
        mime_type="text/plain",
        topic="lk.transcription",
        timestamp=1,
        size=0,
        attributes={"lk.segment_id": "SG_1", "lk.transcription_final": "false"},
        attachments=[],
    )
    reader = _FakeReader(info, ["héllo ", "wörld"], {"lk.transcription_final": "true"})
    await backend._pump_stream(reader, "text", "caller")  # type: ignore[arg-type]
    kinds = [c[0] for c in events.calls]
    assert kinds == ["stream_header", "stream_chunk", "stream_chunk", "stream_trailer"]
    header = events.calls[0][2]
    assert (events.calls[0][1], header.topic, header.sender_identity) == (
        "caller",
        "lk.transcription",
        "caller",
    )
    assert b"".join(c[2] for c in events.named("stream_chunk")).decode() == "héllo wörld"
    assert events.calls[-1] == ("stream_trailer", "ST_1", "", {"lk.transcription_final": "true"})
    await backend._release()


async def test_an_aborted_byte_stream_ends_with_its_reason() -> None:
    backend, _, events = attached()
    info = lk.ByteStreamInfo(
        stream_id="ST_2",
        mime_type="image/png",
        topic="images",
        timestamp=1,
        size=4,
        attributes={},
        name="a.png",
    )
    reader = _FakeReader(info, [b"\x89PNG"], {}, error="sender left")
    await backend._pump_stream(reader, "byte", "caller")  # type: ignore[arg-type]
    assert events.calls[0][2].name == "a.png"
    assert events.calls[1] == ("stream_chunk", "ST_2", b"\x89PNG")
    assert events.calls[-1] == ("stream_trailer", "ST_2", "sender left", {})
    await backend._release()


async def test_delete_room_goes_through_the_server_api() -> None:
    seen: dict[str, Any] = {}

    async def twirp(request: web.Request) -> web.Response:
        seen["path"] = request.path
        seen["auth"] = request.headers.get("Authorization", "")
        seen["body"] = await request.read()
        return web.Response(body=b"", content_type="application/protobuf")

    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/DeleteRoom", twirp)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        backend = LiveKitBackend(api_key="devkey", api_secret="secret" * 6)
        room = lk.Room()
        room._info.name = "demo"
        backend.attach(room)
        backend._url = f"ws://127.0.0.1:{port}"
        await backend.delete_room()
    finally:
        await runner.cleanup()
    assert seen["path"] == "/twirp/livekit.RoomService/DeleteRoom"
    claims = lkapi.TokenVerifier("devkey", "secret" * 6).verify(
        seen["auth"].removeprefix("Bearer ")
    )
    assert claims.video is not None and claims.video.room_create
    assert lkapi.DeleteRoomRequest.FromString(seen["body"]).room == "demo"


async def test_delete_room_without_api_credentials_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LIVEKIT_API_KEY", raising=False)
    monkeypatch.delenv("LIVEKIT_API_SECRET", raising=False)
    backend, _, _ = attached()
    with pytest.raises(NotImplementedError, match="LIVEKIT_API_KEY"):
        await backend.delete_room()
    await backend._release()
